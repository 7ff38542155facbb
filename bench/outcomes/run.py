"""`make bench-outcomes`: cost and quality of routing strategies on one simulated workload.

One switchboard-sim plays every model of examples/endpoints.yaml; for each strategy (strategies.py) a
sidecar is started on 127.0.0.1 with its routes, the same seeded workload of tab completion, chat, edit
and agent requests (qualities.py) is sent through it, and every answer gets the feedback its endpoint's
known quality draws. Cost is what the sidecar counted (`switchboard_cost_usd_total`, shadow traffic
included); quality is the mean probability of a good answer over the requests served. Writes
bench/outcomes/results.md, results.json and frontier.png, and the table into README.md.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(HERE))

from plotting import plot_frontier  # noqa: E402
from qualities import Call, Table, load_table, quality, workload  # noqa: E402 - after sys.path above
from strategies import Document, all_strategies, endpoints  # noqa: E402

from support.processes import Process  # noqa: E402
from support.stack import http, read_metric, start_proxy, start_sim, write_resources  # noqa: E402

README = REPO / "README.md"
BEGIN, END = "<!-- outcomes:begin -->", "<!-- outcomes:end -->"


@dataclass
class Outcome:
    """What one strategy did with the workload."""

    strategy: str
    requests: int = 0
    errors: int = 0
    cost_usd: float = 0.0
    quality: float = 0.0  # mean probability of a good answer (0 for an error)
    feedback: float = 0.0  # mean of the thumbs sent
    seconds: float = 0.0
    served: dict[str, dict[str, int]] = field(default_factory=dict)  # task -> endpoint -> requests


def send(proxy_url: str, table: Table, call: Call) -> tuple[str, float, float]:
    """One request and its feedback: (endpoint that served it, its quality, the thumb sent)."""
    reply = http(
        "POST",
        f"{proxy_url}/v1/chat/completions",
        call.body(),
        headers={"X-Switchboard-Task": call.task},
    )
    if reply.status != 200:
        return "error", 0.0, 0.0
    served = reply.header("X-Switchboard-Endpoint") or "?"
    chance = quality(table, endpoint=served, task=call.task, difficulty=call.difficulty)
    thumb = 1.0 if call.luck < chance else 0.0
    answer = http(
        "POST", f"{proxy_url}/v1/feedback", {"request_id": reply.header("X-Request-Id"), "score": thumb}
    )
    assert answer.status == 200, answer.body
    return served, chance, thumb


def run_strategy(
    name: str, documents: list[Document], *, calls: list[Call], table: Table, workers: int, root: Path
) -> Outcome:
    resources = write_resources(root / re.sub(r"[^a-z0-9]+", "-", name.lower()), documents)
    proxy: Process = start_proxy(resources=resources, args=("--poll-seconds", "5"))
    started = time.monotonic()
    try:
        # Bounded: len(calls) requests, `workers` at a time, each with the client's 30 s timeout.
        with ThreadPoolExecutor(workers) as pool:
            answers = list(pool.map(lambda c: send(proxy.base_url, table, c), calls))
        metrics = http("GET", f"{proxy.base_url}/metrics").body.decode()
    finally:
        proxy.stop()
    outcome = Outcome(strategy=name, requests=len(calls), seconds=round(time.monotonic() - started, 1))
    outcome.errors = sum(1 for served, _, _ in answers if served == "error")
    outcome.cost_usd = read_metric(metrics, "switchboard_cost_usd_total")
    outcome.quality = sum(chance for _, chance, _ in answers) / len(calls)
    outcome.feedback = sum(thumb for _, _, thumb in answers) / len(calls)
    served = Counter((call.task, endpoint) for call, (endpoint, _, _) in zip(calls, answers, strict=True))
    for (task, endpoint), count in sorted(served.items()):
        outcome.served.setdefault(task, {})[endpoint] = count
    return outcome


def cheapest_endpoint(table: Table, documents: list[Document]) -> str:
    """The explore target whose prices make the workload cheapest."""
    prices = {d["metadata"]["name"]: d["spec"]["pricing"] for d in documents}

    def cost(name: str) -> float:
        price = prices[name]
        return sum(
            float(shape["share"])
            * (
                shape["prompt_tokens"] * price["inputPerMTok"]
                + shape["output_tokens"] * price["outputPerMTok"]
            )
            for shape in table.workload.values()
        )

    return min(table.explore["targets"], key=cost)


def markdown(outcomes: list[Outcome], *, requests: int, seconds: float) -> str:
    base = outcomes[0]
    lines = [
        f"Outcome benchmark, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: {requests:,} requests per "
        f"strategy (55% tab completion, 20% chat, 15% edit, 10% agent), {seconds:.0f} s in all. Quality is "
        "simulated from MT-Bench category win rates ([the table](bench/outcomes/quality_table.yaml)).",
        "",
        "| strategy | cost (USD) | cost saved vs frontier | mean quality | % of frontier quality | errors |",
        "|---|---|---|---|---|---|",
    ]
    for o in outcomes:
        saved = 1 - o.cost_usd / base.cost_usd if base.cost_usd else 0.0
        share = o.quality / base.quality if base.quality else 0.0
        lines.append(
            f"| {o.strategy} | {o.cost_usd:.2f} | {saved:.1%} | {o.quality:.3f} | {share:.1%} | {o.errors} |"
        )
    lines += ["", "Where each strategy sent each task type (requests):", ""]
    tasks = sorted({t for o in outcomes for t in o.served})
    lines += ["| strategy | " + " | ".join(tasks) + " |", "|---" * (len(tasks) + 1) + "|"]
    for o in outcomes:
        cells = [
            ", ".join(f"{e} {n}" for e, n in sorted(o.served.get(t, {}).items(), key=lambda i: -i[1]))
            for t in tasks
        ]
        lines.append(f"| {o.strategy} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def update_readme(text: str) -> None:
    readme = README.read_text()
    start, end = readme.find(BEGIN), readme.find(END)
    if start == -1 or end == -1:
        print(f"README.md has no {BEGIN} ... {END} block; not updated", file=sys.stderr)
        return
    README.write_text(readme[: start + len(BEGIN)] + "\n" + text + "\n" + readme[end:])


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=20_000, help="requests per strategy (default 20000)")
    parser.add_argument("--workers", type=int, default=4, help="requests in flight (default 4)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the workload and its luck (default 1)")
    parser.add_argument("--no-readme", action="store_true", help="do not write the table into README.md")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    table = load_table()
    calls = workload(table, requests=args.requests, seed=args.seed)
    started = time.monotonic()
    outcomes: list[Outcome] = []
    with tempfile.TemporaryDirectory(prefix="switchboard-outcomes-") as directory:
        root = Path(directory)
        models = {d["spec"]["model"]: d for d in endpoints("http://unused")}
        profile = {"output_tokens": 100_000, "context_window": 2_000_000}
        sim = start_sim({model: profile for model in models}, tmp_dir=root)
        try:
            served_by = endpoints(sim.base_url)
            compared = all_strategies(table, cheapest=cheapest_endpoint(table, served_by))
            for name, documents in compared.items():
                outcome = run_strategy(
                    name, [*served_by, *documents], calls=calls, table=table, workers=args.workers, root=root
                )
                print(
                    f"{name}: ${outcome.cost_usd:.2f}, quality {outcome.quality:.3f}, "
                    f"{outcome.errors} errors, {outcome.seconds} s",
                    flush=True,
                )
                outcomes.append(outcome)
        finally:
            sim.stop()
    seconds = time.monotonic() - started
    text = markdown(outcomes, requests=args.requests, seconds=seconds)
    print(text)
    (HERE / "results.md").write_text(text + "\n")
    (HERE / "results.json").write_text(json.dumps([asdict(o) for o in outcomes], indent=2) + "\n")
    plot_frontier(outcomes, HERE / "frontier.png")
    if not args.no_readme:
        update_readme(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
