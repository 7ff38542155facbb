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
from dataclasses import asdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(HERE))

from plotting import plot_frontier  # noqa: E402
from qualities import Call, Table, load_table, quality, workload  # noqa: E402 - after sys.path above
from reporting import Outcome, markdown, update_readme  # noqa: E402
from strategies import Document, all_strategies, endpoints  # noqa: E402

from support.processes import Process  # noqa: E402
from support.stack import http, read_metric, start_proxy, start_sim, write_resources  # noqa: E402


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


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=20_000, help="requests per strategy (default 20000)")
    parser.add_argument("--workers", type=int, default=4, help="requests in flight (default 4)")
    parser.add_argument(
        "--repeats", type=int, default=3, help="runs of each explore strategy (it samples; default 3)"
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the workload and its luck (default 1)")
    parser.add_argument("--no-readme", action="store_true", help="do not write the table into README.md")
    return parser.parse_args(argv)


def run_all(table: Table, calls: list[Call], args: argparse.Namespace, root: Path) -> list[list[Outcome]]:
    """Every strategy's runs, in the order of `all_strategies`."""
    models = {d["spec"]["model"] for d in endpoints("http://unused")}
    profile = {"output_tokens": 100_000, "context_window": 2_000_000}
    sim = start_sim(dict.fromkeys(models, profile), tmp_dir=root)
    runs: list[list[Outcome]] = []
    try:
        served_by = endpoints(sim.base_url)
        compared = all_strategies(table, cheapest=cheapest_endpoint(table, served_by))
        for name, documents in compared.items():
            runs.append([])
            for _ in range(args.repeats if "explore" in name else 1):
                outcome = run_strategy(
                    name, [*served_by, *documents], calls=calls, table=table, workers=args.workers, root=root
                )
                print(
                    f"{name}: ${outcome.cost_usd:.2f}, quality {outcome.quality:.3f}, "
                    f"{outcome.errors} errors, {outcome.seconds} s",
                    flush=True,
                )
                runs[-1].append(outcome)
    finally:
        sim.stop()
    return runs


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    table = load_table()
    calls = workload(table, requests=args.requests, seed=args.seed)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="switchboard-outcomes-") as directory:
        runs = run_all(table, calls, args, Path(directory))
    text = markdown(runs, requests=args.requests, seconds=time.monotonic() - started)
    print(text)
    (HERE / "results.md").write_text(text + "\n")
    (HERE / "results.json").write_text(json.dumps([[asdict(o) for o in r] for r in runs], indent=2) + "\n")
    plot_frontier(runs, HERE / "frontier.png")
    if not args.no_readme:
        update_readme(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
