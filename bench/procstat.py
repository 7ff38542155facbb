"""What the kernel says about a process: CPU seconds, resident memory, and which cores it may run on.

CPU time comes from /proc/PID/stat (user + system, all threads), memory from VmRSS in /proc/PID/status.
Pinning sets the affinity of every thread of a running process, so helpers started by someone else
(`tests/support/stack.py`) can be pinned after they are ready; threads started later inherit it.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds the process has used so far (all its threads)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) ": fields[0] is the state (field 3)
    utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of proc(5)
    return (utime + stime) / CLOCK_TICKS


def rss_mb(pid: int) -> float:
    """Resident set size in MiB (VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def pin(pid: int, cpus: set[int]) -> None:
    """Restrict every thread of `pid` to `cpus` (no-op when `cpus` is empty)."""
    if not cpus:
        return
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            os.sched_setaffinity(int(task.name), cpus)
        except ProcessLookupError:
            continue  # a thread that just ended


@dataclass(frozen=True)
class Cores:
    """Where things run: the load generator and the sim on `load`, the proxies under test on `proxy`."""

    load: set[int]
    proxy: set[int]

    @property
    def pinned(self) -> bool:
        return bool(self.proxy)

    def describe(self) -> str:
        if not self.pinned:
            return "not pinned (fewer than 2 CPUs available)"
        return f"proxies on CPU {sorted(self.proxy)}, load generator + sim on CPU {sorted(self.load)}"


def choose_cores() -> Cores:
    """The first two CPUs this process may use: proxies on the second, everything else on the first."""
    available = sorted(os.sched_getaffinity(0))
    if len(available) < 2:
        return Cores(set(), set())
    return Cores({available[0]}, {available[1]})


def core_ticks(cpus: set[int]) -> tuple[int, int]:
    """(busy, total) clock ticks of `cpus` since boot, from /proc/stat; busy counts every process."""
    busy = total = 0
    for line in Path("/proc/stat").read_text().splitlines():
        name, *values = line.split()
        if name.startswith("cpu") and name[3:].isdigit() and int(name[3:]) in cpus:
            ticks = [int(v) for v in values]
            total += sum(ticks)
            busy += sum(ticks) - ticks[3] - ticks[4]  # minus idle and iowait
    return busy, total


def core_busy(before: tuple[int, int], after: tuple[int, int]) -> float:
    """Share (0..1) of the time the cores were busy between two `core_ticks` readings."""
    elapsed = after[1] - before[1]
    return (after[0] - before[0]) / elapsed if elapsed > 0 else 0.0


def background_busy(cpus: set[int], seconds: float = 1.0) -> dict[int, float]:
    """How busy each of `cpus` is over `seconds` before the benchmark starts: other tenants' load."""
    before = {cpu: core_ticks({cpu}) for cpu in cpus}
    time.sleep(seconds)
    return {cpu: core_busy(before[cpu], core_ticks({cpu})) for cpu in cpus}
