"""The benchmark's end of the load generator: start the worker process, send it commands, stop it.

One worker serves every phase (no interpreter start-up per phase); each command waits at most its own
time limit, after which the worker is killed and the phase fails with a clear error.
"""

from __future__ import annotations

import json
import select
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

LOADGEN = Path(__file__).with_name("loadgen.py")


class LoadGenError(RuntimeError):
    """The load generator failed, timed out, or reported an error."""


class LoadGenerator:
    """A running `bench/loadgen.py` worker, pinned to `cpus`."""

    def __init__(self, cpus: set[int]) -> None:
        self._log = tempfile.NamedTemporaryFile(prefix="switchboard-loadgen-", suffix=".log", delete=False)  # noqa: SIM115 - the worker writes to it for its whole life
        argv = [sys.executable, str(LOADGEN)]
        if cpus:
            argv += ["--cpus", ",".join(str(c) for c in sorted(cpus))]
        self._proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, text=True, bufsize=1
        )

    @property
    def pid(self) -> int:
        return self._proc.pid

    def run(self, command: dict[str, Any], *, limit_s: float) -> dict[str, Any]:
        """Send one command and wait up to `limit_s` seconds for its reply."""
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write(json.dumps(command) + "\n")
        self._proc.stdin.flush()
        deadline = time.monotonic() + limit_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                self.close()
                raise LoadGenError(f"load generator gave no answer within {limit_s:.0f}s to {command['op']}")
            ready, _, _ = select.select([self._proc.stdout], [], [], min(left, 1.0))
            if ready:
                break
            if self._proc.poll() is not None:
                raise LoadGenError(f"load generator exited with {self._proc.returncode}: {self.log_text()}")
        line = self._proc.stdout.readline()
        if not line:
            raise LoadGenError(f"load generator closed its output: {self.log_text()}")
        reply: dict[str, Any] = json.loads(line)
        if "error" in reply:
            raise LoadGenError(f"load generator: {reply['error']}")
        return reply

    def log_text(self) -> str:
        return Path(self._log.name).read_text(errors="replace")[-2000:]

    def close(self) -> None:
        """End the worker (EOF, then a kill if it lingers) and remove its log."""
        if self._proc.poll() is None:
            try:
                assert self._proc.stdin is not None
                self._proc.stdin.close()
                self._proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                self._proc.kill()
                self._proc.wait(timeout=5)
        if self._proc.stdout is not None:
            self._proc.stdout.close()
        self._log.close()
        Path(self._log.name).unlink(missing_ok=True)
