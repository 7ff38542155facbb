"""6. Where the sidecar's CPU goes under saturating load, compared with the bare pass-through.

- py-spy (when installed: `.venv/bin/pip install py-spy`) attaches from outside to the benchmarked
  sidecar, then to the pass-through, while the load generator saturates each. It samples only while the
  thread is on a CPU (idle excluded) and charges C calls to the Python function that made them. Shares
  times phase 4's CPU per request give microseconds per request by package and function, side by side:
  the difference is what the sidecar adds. Raw stacks: results/profile-pyspy-{proxy,passthrough}.txt.
- pyinstrument (always available) runs a second sidecar through bench/profiled_proxy.py, sampling only
  during the load, and writes a call tree: results/profile.txt and results/profile-flat.txt. It samples
  wall time, so time waiting in epoll shows up under the event loop.

Not visible in either: the cyclic garbage collector, whose time is charged to whatever line allocated
the object that triggered a collection.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from driver import LoadGenerator
from phases import REPLY_MARGIN_S, BenchConfig
from procstat import Cores, pin
from targets import CHAT_PATH, FAST_BODY, Targets, start_profiled_proxy

Frame = tuple[str, str]  # (function, file)
Stack = tuple[Frame, ...]
EVENT_LOOP = "event loop + socket I/O (uvloop, C)"
PACKAGES = {  # a path component -> the package it belongs to
    "switchboard_proxy": "switchboard_proxy",
    "aiohttp": "aiohttp",
    "multidict": "multidict / yarl",
    "yarl": "multidict / yarl",
    "prometheus_client": "prometheus_client",
    "logging": "logging",
    "asyncio": "asyncio",
    "uvloop": EVENT_LOOP,
    "pydantic": "pydantic",
    "<string>": "dataclass __init__ (generated)",
}
# Outermost frames whose own time is uvloop's C code: reading and writing sockets, running callbacks.
LOOP_RUNNERS = {"Runner.run", "run", "run_app", "run_until_complete", "run_forever"}
TOP = 15
_PYSPY_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^()]*?)(?::\d+)?\)$")


def package_of(frame: Frame) -> str:
    function, file = frame
    parts = file.split("/")
    if function in LOOP_RUNNERS and (parts[-1] in ("runners.py", "web.py") or "uvloop" in parts):
        return EVENT_LOOP
    return next((PACKAGES[p] for p in parts if p in PACKAGES), "other (stdlib, C extensions)")


def short_path(file: str) -> str:
    """A path from its package on (site-packages/, the repo's proxy/ and the stdlib prefix removed)."""
    for marker in ("site-packages/", "/proxy/", "/bench/"):
        if marker in file:
            return file.split(marker, 1)[1]
    return re.sub(r"^.*/lib/python3\.\d+/", "", file)


def summarize(weighted: Iterator[tuple[Stack, float]]) -> dict[str, Any]:
    """Shares (0..1) by package, top self-time functions, and the sidecar's functions by inclusive time."""
    self_time: Counter[Frame] = Counter()
    inclusive: Counter[Frame] = Counter()
    packages: Counter[str] = Counter()
    total = 0.0
    for stack, weight in weighted:
        if not stack or weight <= 0:
            continue
        total += weight
        self_time[stack[-1]] += weight
        packages[package_of(stack[-1])] += weight
        for frame in set(stack):
            inclusive[frame] += weight
    if not total:
        return {"by_package": [], "top_self": [], "switchboard_inclusive": []}

    def rows(counter: Counter[Frame], keep: Callable[[Frame], bool]) -> list[dict[str, Any]]:
        chosen = [(f, w) for f, w in counter.most_common() if keep(f)][:TOP]
        return [{"function": f[0], "file": short_path(f[1]), "share": w / total} for f, w in chosen]

    def in_handlers(frame: Frame) -> bool:  # the sidecar's own code, below main() and run()
        return "switchboard_proxy" in frame[1] and not frame[1].endswith("main.py")

    return {
        "by_package": [{"package": p, "share": w / total} for p, w in packages.most_common()],
        "top_self": rows(self_time, lambda frame: True),
        "switchboard_inclusive": rows(inclusive, in_handlers),
    }


def _drive(gen: LoadGenerator, url: str, cfg: BenchConfig, *, warmup: bool = True) -> dict[str, Any]:
    command = {"op": "closed", "url": url, "body": FAST_BODY, "concurrency": cfg.concurrency}
    command |= {"seconds": cfg.profile_seconds, "warmup": cfg.warmup if warmup else 0}
    return gen.run(command, limit_s=cfg.profile_seconds + REPLY_MARGIN_S)


def pyspy_executable() -> str | None:
    candidate = Path(sys.executable).with_name("py-spy")
    return str(candidate) if candidate.exists() else shutil.which("py-spy")


def pyspy_profile(
    gen: LoadGenerator, targets: Targets, cfg: BenchConfig, out_dir: Path, *, target: str
) -> dict[str, Any]:
    """py-spy on the running `target` ("proxy" or "passthrough") under closed-loop load."""
    executable = pyspy_executable()
    if executable is None:
        raise RuntimeError("py-spy is not installed")
    pid = {"proxy": targets.proxy.pid, "passthrough": targets.passthrough.pid}[target]
    raw = out_dir / f"profile-pyspy-{target}.txt"
    argv = [
        executable,
        "record",
        "--pid",
        str(pid),
        "--duration",
        f"{cfg.profile_seconds:.0f}",
        "--rate",
        "250",
    ]
    argv += ["--format", "raw", "--function", "--nonblocking", "--output", str(raw)]
    _drive(gen, targets.url(target), dataclasses.replace(cfg, profile_seconds=1))  # warm, then sample
    with subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) as spy:
        try:
            load = _drive(gen, targets.url(target), cfg, warmup=False)
            _, errors = spy.communicate(timeout=cfg.profile_seconds + 30)
        finally:
            if spy.poll() is None:
                spy.kill()
    if spy.returncode != 0 or not raw.exists():
        raise RuntimeError(f"py-spy failed ({spy.returncode}): {errors[-2000:]}")
    summary = summarize(_pyspy_stacks(raw))
    return {"tool": "py-spy", "target": target, "requests": load["completed"], "rps": load["rps"], **summary}


def _pyspy_stacks(raw: Path) -> Iterator[tuple[Stack, float]]:
    """Collapsed stacks (`frame;frame;... count`, outermost first) as (stack, samples)."""
    for line in raw.read_text().splitlines():
        frames, _, count = line.rpartition(" ")
        if not frames or not count.isdigit():
            continue
        stack: list[Frame] = []
        for text in frames.split(";"):
            match = _PYSPY_FRAME.match(text)
            stack.append((match["function"], match["file"]) if match else (text, ""))
        yield tuple(stack), float(count)


def pyinstrument_profile(
    gen: LoadGenerator, targets: Targets, cfg: BenchConfig, cores: Cores, out_dir: Path
) -> dict[str, Any]:
    """A second sidecar (same resources) under pyinstrument, sampled only while the load runs."""
    from pyinstrument.renderers import ConsoleRenderer
    from pyinstrument.session import Session

    session_file = out_dir / "profile.pyisession"
    session_file.unlink(missing_ok=True)
    proxy = start_profiled_proxy(targets.resources, session_file)
    targets.extra.append(proxy)
    pin(proxy.pid, cores.proxy)
    url = proxy.base_url + CHAT_PATH
    _drive(gen, url, dataclasses.replace(cfg, profile_seconds=1))
    os.kill(proxy.pid, signal.SIGUSR1)
    load = _drive(gen, url, cfg, warmup=False)
    os.kill(proxy.pid, signal.SIGUSR2)
    deadline = time.monotonic() + 60  # the wrapper renames the session into place once it is complete
    while not session_file.exists() and time.monotonic() < deadline and proxy.is_running():
        time.sleep(0.2)
    proxy.stop(timeout=30)
    if not session_file.exists():
        raise RuntimeError(f"pyinstrument wrote no session: {proxy.log_text()[-2000:]}")
    session = Session.load(str(session_file))
    tree = ConsoleRenderer(unicode=False, color=False, time="percent_of_total")
    (out_dir / "profile.txt").write_text(tree.render(session))
    flat = ConsoleRenderer(unicode=False, color=False, flat=True, time="percent_of_total")
    (out_dir / "profile-flat.txt").write_text(flat.render(session))
    root = session.root_frame(trim_stem=False)
    summary = summarize(_pyinstrument_stacks(root, ()) if root is not None else iter(()))
    return {
        "tool": "pyinstrument",
        "target": "proxy",
        "requests": load["completed"],
        "rps": load["rps"],
        **summary,
    }


def _pyinstrument_stacks(frame: Any, parents: Stack) -> Iterator[tuple[Stack, float]]:
    """(stack, self seconds) for every frame; synthetic frames ([self], [await]) count for their parent."""
    stack = parents if frame.is_synthetic else (*parents, (frame.function, frame.file_path or ""))
    own = frame.time - sum(child.time for child in frame.children)
    yield stack, own
    for child in frame.children:
        yield from _pyinstrument_stacks(child, stack)
