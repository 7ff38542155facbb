"""The ways to reach the same upstream: direct to switchboard-sim, via the bare aiohttp pass-through, via
the sidecar and (unless left out) via the LiteLLM proxy, the peer (`peers.py`); all real processes on
127.0.0.1, started with the integration tests' helpers (`tests/support/stack.py`) so the benchmark runs
exactly what the tests run.

The sim serves two models: `bench-fast` (no time to first token, instant tokens: all that remains of a
request's latency is the HTTP path being measured) and `bench-stream` (a streamed answer whose first token
comes after STREAM_TTFT_MS, for time-to-first-byte overhead). The sidecar gets one route per model, a
single target each, default policies: the minimal configuration, and the one most deployments start from.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from procstat import Cores, pin  # noqa: E402 - after the sys.path line above, like the imports below

from support.processes import Process, free_port, start_process  # noqa: E402
from support.stack import (  # noqa: E402
    endpoint,
    http,
    read_metric,
    route,
    start_proxy,
    start_sim,
    write_resources,
)

FAST_MODEL = "bench-fast"
STREAM_MODEL = "bench-stream"
STREAM_TTFT_MS = 50
CHAT_PATH = "/v1/chat/completions"
MESSAGES = [{"role": "user", "content": "Say hello to the benchmark."}]
FAST_BODY = {"model": FAST_MODEL, "messages": MESSAGES, "max_tokens": 16}
STREAM_BODY = {"model": STREAM_MODEL, "messages": MESSAGES, "max_tokens": 16, "stream": True}
SIM_MODELS = {
    FAST_MODEL: {"ttft_ms": 0, "tokens_per_second": 0, "output_tokens": 16},
    STREAM_MODEL: {"ttft_ms": STREAM_TTFT_MS, "tokens_per_second": 1000, "output_tokens": 16},
}
# Production's file-poll interval (the test helper's 0.2 s would add background work to the measurement).
PROXY_ARGS = ("--poll-seconds", "1")


@dataclass
class Targets:
    """Running sim, pass-through, sidecar and peer; `url(name)` is the chat completions URL of each."""

    sim: Process
    passthrough: Process
    proxy: Process
    resources: Path
    extra: list[Process] = field(default_factory=list)
    litellm: Process | None = None
    baseline: Process | None = None  # the sidecar of another source tree (--baseline-src)

    @property
    def names(self) -> tuple[str, ...]:
        """The targets measured, in the tables' order."""
        optional = (("baseline", self.baseline), ("litellm", self.litellm))
        return ("direct", "passthrough", "proxy", *(name for name, process in optional if process))

    def process(self, name: str) -> Process:
        found = {
            "direct": self.sim,
            "passthrough": self.passthrough,
            "proxy": self.proxy,
            "baseline": self.baseline,
            "litellm": self.litellm,
        }
        process = found[name]
        assert process is not None, name
        return process

    def url(self, name: str) -> str:
        return self.process(name).base_url + CHAT_PATH

    def proxy_requests_served(self) -> float:
        """Requests the sidecar has answered with 200 since it started (its own Prometheus counter)."""
        text = http("GET", self.proxy.base_url + "/metrics").body.decode()
        return read_metric(text, "switchboard_requests_total", code="200")

    def processes(self) -> list[Process]:
        return [
            self.proxy,
            self.passthrough,
            self.sim,
            *([self.litellm] if self.litellm else []),
            *([self.baseline] if self.baseline else []),
            *self.extra,
        ]


def write_bench_resources(directory: Path, sim_url: str) -> Path:
    """One endpoint and one same-named route per sim model."""
    documents = [endpoint(FAST_MODEL, sim_url), endpoint(STREAM_MODEL, sim_url)]
    documents += [route(FAST_MODEL, [FAST_MODEL]), route(STREAM_MODEL, [STREAM_MODEL])]
    return write_resources(directory, documents)


def start_passthrough(upstream: str) -> Process:
    port = free_port()
    argv = [
        sys.executable,
        str(REPO / "bench" / "passthrough.py"),
        "--port",
        str(port),
        "--upstream",
        upstream,
    ]
    process = start_process(argv, ready_url=f"http://127.0.0.1:{port}/healthz")
    process.base_url = f"http://127.0.0.1:{port}"
    return process


def start_profiled_proxy(resources: Path, session_file: Path) -> Process:
    """The sidecar under pyinstrument (bench/profiled_proxy.py): SIGUSR1 starts sampling, SIGUSR2 saves."""
    port = free_port()
    argv = [sys.executable, str(REPO / "bench" / "profiled_proxy.py"), str(session_file)]
    argv += ["--resources", str(resources), "--port", str(port), *PROXY_ARGS]
    process = start_process(argv, ready_url=f"http://127.0.0.1:{port}/readyz", timeout=30)
    process.base_url = f"http://127.0.0.1:{port}"
    return process


def start_baseline(resources: Path, source: Path) -> Process:
    """The sidecar as another source tree has it (a checkout of main, say: `git archive main | tar -x -C
    DIR`), on this virtualenv: its `proxy/` source root comes first on the import path."""
    if not (source / "proxy" / "switchboard_proxy").is_dir():
        raise SystemExit(f"--baseline-src {source}: no proxy/switchboard_proxy in it")
    return start_proxy(resources=resources, args=PROXY_ARGS, env={"PYTHONPATH": str(source / "proxy")})


@contextlib.contextmanager
def running_targets(
    work_dir: Path, cores: Cores, *, peer: bool = True, baseline: Path | None = None
) -> Iterator[Targets]:
    """Start sim, pass-through, sidecar, (with `baseline`) the sidecar of another source tree and (with
    `peer`) LiteLLM, pinned per `cores`; stop them and remove their logs after."""
    started: list[Process] = []
    keep_logs = False
    try:
        sim = start_sim(SIM_MODELS, tmp_dir=work_dir)
        started.append(sim)
        pin(sim.pid, cores.load)
        passthrough = start_passthrough(sim.base_url)
        started.append(passthrough)
        pin(passthrough.pid, cores.proxy)
        resources = write_bench_resources(work_dir / "resources", sim.base_url)
        proxy = start_proxy(resources=resources, args=PROXY_ARGS)
        started.append(proxy)
        pin(proxy.pid, cores.proxy)
        litellm = None
        if peer:
            from peers import start_litellm  # imports targets: not at the top

            litellm = start_litellm(work_dir, sim.base_url)
            started.append(litellm)
            pin(litellm.pid, cores.proxy)
        baseline_proxy = None
        if baseline is not None:
            baseline_proxy = start_baseline(resources, baseline)
            started.append(baseline_proxy)
            pin(baseline_proxy.pid, cores.proxy)
        targets = Targets(sim, passthrough, proxy, resources, litellm=litellm, baseline=baseline_proxy)
        yield targets
        started = targets.processes()
    except BaseException:
        keep_logs = True
        raise
    finally:
        for process in started:
            process.stop(timeout=10)
            if keep_logs:
                print(f"log of {Path(process.argv[0]).name}: {process.log_path}", file=sys.stderr)
            else:
                process.log_path.unlink(missing_ok=True)
