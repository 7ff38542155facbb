"""`switchboard`: validate, compile and explain resources without a cluster; render the CRDs.

Uses the same contract (`switchboard_proxy.config`) and the same pure planner (`switchboard_proxy.routing`)
as the operator and the sidecar, so what `explain` prints is what a sidecar would do with the same state.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from multidict import CIMultiDict

from ..config import ConfigError, compile, load_resources
from ..config.resolving import window_seconds
from ..routing import Plan, RouterState, plan
from ..routing.hints import REQUEST_ID, HintError, build_route_request
from ..routing.matching import NoRoute
from ..telemetry.prometheus import Prometheus, PrometheusUnavailable
from .crds import crd_file_name, render_crd
from .report_html import render_html
from .reporting import gather, render_table
from .validating import validate_paths

EXIT_OK, EXIT_INVALID, EXIT_USAGE, EXIT_UNAVAILABLE = 0, 1, 2, 3

EPILOG = """examples:
  switchboard validate examples/
  switchboard compile examples/ > config.json
  switchboard explain --resources examples/ --task completion --header X-Switchboard-User=alice
  switchboard explain --resources examples/ --body request.json --header X-Switchboard-Deadline-Ms=500
  switchboard crds --output-dir crds/
  switchboard report chat --prometheus-url http://127.0.0.1:9090 --namespace team-a --since 6h
  switchboard report chat --prometheus-url http://127.0.0.1:9090 --namespace team-a --html chat.html

exit codes: 0 ok, 1 invalid resources (each problem printed as file: Kind/name: field: message),
2 usage error or unreadable input, 3 Prometheus unreachable (report).
"""

REPORT_DESCRIPTION = """Reads the sidecars' metrics from Prometheus, which must add namespace and pod labels
to them (the chart's PodMonitor does), and prints two tables over the window (--since):

  variants   requests, error, fallback, degraded and truncation (finish_reason=length) rates,
             p95 latency and time to first token, cost per request and mean feedback (0..1);
             rates, cost and feedback with their 95% intervals
  endpoints  the same per endpoint that served the route's attempts (errors are failed attempts)

--html FILE also writes one self-contained page (inline SVG, no script, no CDN): error rate, p95
latency and cost per minute over the window, one line per variant; the cost per request and quality
of every variant and endpoint (quality is mean feedback where callers sent any, else the share served
without an error); and the tables.

exit codes: 0 ok (also when the window has no traffic: a note on stderr says what to check),
2 usage error, 3 Prometheus unreachable or answering errors.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="switchboard",
        description="Validate, compile and explain Switchboard resources (ModelEndpoint, ModelRoute, "
        "FallbackPolicy) locally, with the same code the operator and the sidecar use.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    validate = commands.add_parser("validate", help="check files against the CRD schemas and semantic rules")
    validate.add_argument(
        "paths", nargs="+", metavar="PATH", help="YAML/JSON files or directories (recursive)"
    )
    validate.add_argument(
        "--crds", type=Path, help="directory of CRD YAML (default: the source tree's crds/)"
    )

    compiler = commands.add_parser(
        "compile", help="print the compiled config JSON (what the ConfigMap holds)"
    )
    compiler.add_argument("paths", nargs="+", metavar="PATH", help="YAML/JSON files or directories")
    compiler.add_argument("--namespace", default="", help="namespace recorded in the config (default: none)")
    compiler.add_argument("--at", metavar="RFC3339", help="compile as of this time (sunsets); default now")

    explain = commands.add_parser("explain", help="show which route, variant and attempt plan a request gets")
    explain.add_argument("--resources", nargs="+", required=True, metavar="PATH", help="resource files/dirs")
    explain.add_argument("--task", default="", help="X-Switchboard-Task value")
    explain.add_argument("--model", default="", help="the body's model field (overrides --body)")
    explain.add_argument(
        "--api",
        default="chat",
        choices=["chat", "completions", "embeddings", "messages"],
        help="which API the request calls (default chat)",
    )
    explain.add_argument(
        "--header", action="append", default=[], metavar="K=V", help="request header, repeatable"
    )
    explain.add_argument("--body", type=Path, help="JSON request body file")
    explain.add_argument("--seed", type=int, default=0, help="random seed for weighted choices (default 0)")
    explain.add_argument("--json", action="store_true", help="print the plan as JSON")

    add_report_parser(commands)

    crds = commands.add_parser("crds", help="render the CustomResourceDefinitions from the resource models")
    crds.add_argument("--output-dir", type=Path, help="write <plural>.yaml files here instead of stdout")
    return parser


def add_report_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`switchboard report ROUTE --prometheus-url URL [--namespace] [--since] [--html FILE]`."""
    report = commands.add_parser(
        "report",
        help="a route's fleet figures per variant and endpoint, from Prometheus (table; --html charts)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=REPORT_DESCRIPTION,
    )
    report.add_argument("route", metavar="ROUTE", help="the ModelRoute to report on")
    report.add_argument(
        "--prometheus-url", required=True, metavar="URL", help="Prometheus scraping the sidecars"
    )
    report.add_argument("--namespace", default="default", help="the route's namespace (default: default)")
    report.add_argument(
        "--since",
        default="1h",
        metavar="DURATION",
        help="how far back: a number and s, m, h or d (default 1h)",
    )
    report.add_argument("--html", type=Path, metavar="FILE", help="also write the charts to FILE (HTML)")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handlers = {
        "validate": run_validate,
        "compile": run_compile,
        "explain": run_explain,
        "crds": run_crds,
        "report": run_report,
    }
    try:
        return handlers[args.command](args)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return EXIT_INVALID
    except (OSError, ValueError) as exc:
        print(f"switchboard {args.command}: {exc}", file=sys.stderr)
        return EXIT_USAGE


def run_validate(args: argparse.Namespace) -> int:
    missing = [p for p in args.paths if not Path(p).exists()]
    if missing:
        raise ValueError(f"no such file or directory: {', '.join(missing)}")
    validation = validate_paths(args.paths, crds_dir=args.crds)
    for problem in validation.problems:
        print(problem, file=sys.stderr)
    for warning in validation.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    resources = validation.loaded.resources
    counts = (
        f"{len(resources.endpoints)} endpoints, {len(resources.policies)} policies, "
        f"{len(resources.routes)} routes"
    )
    if validation.ok:
        print(f"ok: {counts}")
        return EXIT_OK
    print(f"invalid: {len(validation.problems)} problem(s) in {counts}", file=sys.stderr)
    return EXIT_INVALID


def _strict_load(paths: Sequence[str], *, namespace: str = "") -> Any:
    loaded = load_resources(paths, namespace=namespace)
    if loaded.problems:
        raise ConfigError(loaded.problems)
    return loaded.resources


def run_compile(args: argparse.Namespace) -> int:
    now = datetime.fromisoformat(args.at) if args.at else datetime.now(UTC)
    config = compile(_strict_load(args.paths, namespace=args.namespace), now=now)
    print(config.model_dump_json(indent=2))
    return EXIT_OK


def run_explain(args: argparse.Namespace) -> int:
    config = compile(_strict_load(args.resources), now=datetime.now(UTC))
    headers = CIMultiDict(_split_header(h) for h in args.header)  # header names are case-insensitive
    if args.task:
        headers["X-Switchboard-Task"] = args.task
    body = json.loads(args.body.read_text()) if args.body else {}
    if args.model:
        body["model"] = args.model
    try:
        request = build_route_request(args.api, headers, body, request_id=headers.get(REQUEST_ID, "explain"))
        decision = plan(config, request, RouterState(), now=datetime.now(UTC), rng=random.Random(args.seed))
    except (NoRoute, HintError) as exc:
        print(f"no plan: {exc}", file=sys.stderr)
        return EXIT_INVALID
    print(json.dumps(plan_as_dict(decision), indent=2) if args.json else render_plan(decision))
    return EXIT_OK


def _split_header(raw: str) -> tuple[str, str]:
    name, sep, value = raw.partition("=")
    if not sep or not name:
        raise ValueError(f"--header wants NAME=VALUE, got {raw!r}")
    return name.strip(), value.strip()


def plan_as_dict(decision: Plan) -> dict[str, Any]:
    """The plan as plain JSON-able data."""
    return {
        "route": decision.route.name,
        "matched_by": decision.match_reason,
        "variant": decision.variant.name,
        "strategy": decision.variant.strategy,
        "policy": decision.policy.name or "(built-in default)",
        "priority": decision.priority,
        "deadline_ms": decision.deadline_ms,
        "attempts": [
            {
                "endpoint": a.endpoint,
                "stage": a.stage,
                "retry": a.retry,
                "timeout_ms": a.timeout_ms,
                "why": a.note,
            }
            for a in decision.attempts
        ],
        "skipped": [
            {"endpoint": r.endpoint, "reason": r.reason, "detail": r.detail} for r in decision.rejections
        ],
        "shadow": decision.shadow,
        "refusal": decision.refusal,
        "when_all_fail": decision.policy.degraded.mode,
        "explore": _pick_as_dict(decision),
    }


def _pick_as_dict(decision: Plan) -> dict[str, Any] | None:
    chosen = decision.pick
    if chosen is None:
        return None
    return {
        "chosen": chosen.chosen,
        "best": chosen.best,
        "explored": chosen.explored,
        "endpoints": [
            {
                "endpoint": s.endpoint,
                "quality_mean": round(s.belief.mean, 4),
                "quality_interval": [round(x, 4) for x in s.belief.interval()],
                "evidence": round(s.belief.weight, 1),
                "normalised_cost": round(s.cost, 4),
                "mean_reward": round(s.reward, 4),
                "sampled_reward": round(s.sample, 4),
            }
            for s in chosen.scored
        ],
    }


def render_pick(decision: Plan) -> list[str]:
    """The explore posterior of the decision and why its first endpoint was chosen."""
    chosen = decision.pick
    if chosen is None:
        return []
    explore = decision.route.explore
    bound = explore.max_explore_percent if explore else 0.0
    lines = [
        f"explore:   posterior of each endpoint's quality; reward = quality - "
        f"{explore.cost_weight if explore else 0:g} x cost / most expensive target",
        f"  {'endpoint':<20} {'quality':>7} {'95% interval':>15} {'evidence':>9} {'cost':>6} "
        f"{'reward':>7} {'sampled':>8}",
    ]
    for s in chosen.scored:
        low, high = s.belief.interval()
        lines.append(
            f"  {s.endpoint:<20} {s.belief.mean:>7.3f} {f'[{low:.3f}, {high:.3f}]':>15} "
            f"{s.belief.weight:>9.1f} {s.cost:>6.3f} {s.reward:>7.3f} {s.sample:>8.3f}"
        )
    if chosen.explored:
        why = f"exploring: its sampled reward was highest (at most {bound:g}% of requests explore)"
    elif chosen.chosen == chosen.best and max(chosen.scored, key=lambda x: x.sample).endpoint != chosen.best:
        why = f"the posterior's best; the draw favoured another, but the {bound:g}% exploration bound held"
    else:
        why = "the posterior's best mean reward (and the highest sampled)"
    lines.append(f"  picked {chosen.chosen}: {why}")
    return lines


def render_plan(decision: Plan) -> str:
    """Human-readable plan."""
    lines = [
        f"route:     {decision.route.name}  ({decision.match_reason})",
        f"variant:   {decision.variant.name}  (strategy {decision.variant.strategy}, "
        f"policy {decision.policy.name or 'built-in default'})",
        f"priority:  {decision.priority}    deadline: {decision.deadline_ms} ms",
        "attempts:",
    ]
    for i, attempt in enumerate(decision.attempts, 1):
        lines.append(
            f"  {i:>2}. {attempt.endpoint:<20} {attempt.stage:<9} timeout {attempt.timeout_ms} ms  "
            f"{attempt.note}"
        )
    if not decision.attempts:
        lines.append("  (none)")
    if decision.rejections:
        lines.append("skipped:")
        lines += [f"  - {r.endpoint}: {r.reason} ({r.detail})" for r in decision.rejections]
    if decision.shadow:
        lines.append(f"shadow:    {decision.shadow} (mirrored, not served)")
    if decision.refusal:
        lines.append(f"refused:   {decision.refusal}")
    degraded = decision.policy.degraded
    fallback = (
        f"static {degraded.status}"
        if degraded.mode == "static"
        else f"503, Retry-After {degraded.retry_after_seconds}s"
    )
    lines.append(f"all fail:  degraded response ({fallback})")
    lines += render_pick(decision)
    return "\n".join(lines)


def run_report(args: argparse.Namespace) -> int:
    if not re.fullmatch(r"[1-9][0-9]{0,5}[smhd]", args.since):
        raise ValueError(f"--since wants a number and s, m, h or d (e.g. 6h), got {args.since!r}")
    try:
        found = gather(
            Prometheus(args.prometheus_url),
            route=args.route,
            namespace=args.namespace,
            since_seconds=window_seconds(args.since),
            trends=args.html is not None,
        )
    except PrometheusUnavailable as exc:
        print(f"switchboard report: {exc}; check --prometheus-url and that Prometheus is up", file=sys.stderr)
        return EXIT_UNAVAILABLE
    print(render_table(found))
    if not found.variants:
        print(
            f"no traffic of route {args.route!r} in namespace {args.namespace!r} in the last {args.since}: "
            "check the names, and that Prometheus scrapes the sidecars with a namespace label",
            file=sys.stderr,
        )
    if args.html is not None:
        args.html.write_text(render_html(found))
        print(f"wrote {args.html}")
    return EXIT_OK


def run_crds(args: argparse.Namespace) -> int:
    documents = {kind: render_crd(kind) for kind in ("ModelEndpoint", "FallbackPolicy", "ModelRoute")}
    if args.output_dir is None:
        print(yaml.safe_dump_all(documents.values(), sort_keys=False, width=110), end="")
        return EXIT_OK
    args.output_dir.mkdir(parents=True, exist_ok=True)
    for kind, crd in documents.items():
        path = args.output_dir / crd_file_name(kind)
        path.write_text(render_crd_yaml(crd))
        print(f"wrote {path}")
    return EXIT_OK


def render_crd_yaml(crd: dict[str, Any]) -> str:
    """One CRD as the YAML committed in crds/."""
    header = (
        "# Generated by `switchboard crds --output-dir crds/` from switchboard_proxy.config; do not edit.\n"
    )
    return header + yaml.safe_dump(crd, sort_keys=False, width=110)


if __name__ == "__main__":
    sys.exit(main())
