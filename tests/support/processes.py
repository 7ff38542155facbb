"""Start real processes on loopback for integration tests and stop them reliably.

Tests drive real `switchboard-sim`, `switchboard-proxy` and `switchboard-operator` processes; this module
owns the boring parts: a free port, waiting until a readiness URL answers, keeping the process output in a
file that a failing test can print, and a TERM-then-KILL stop that never hangs.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
BIN_DIR = Path(sys.executable).parent
# Process output of one test session, removed when the session's interpreter exits.
LOG_DIR = Path(tempfile.mkdtemp(prefix="switchboard-test-logs-"))
atexit.register(shutil.rmtree, LOG_DIR, True)


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def console_script(name: str) -> str:
    """Path of one of the project's console scripts in the running interpreter's environment."""
    candidate = BIN_DIR / name
    return str(candidate) if candidate.exists() else name


@dataclass
class Process:
    """A started child process with its output captured in a log file."""

    argv: list[str]
    popen: subprocess.Popen[bytes]
    log_path: Path
    base_url: str = ""

    @property
    def pid(self) -> int:
        return self.popen.pid

    def log_text(self) -> str:
        """Everything the process wrote to stdout and stderr so far."""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def is_running(self) -> bool:
        return self.popen.poll() is None

    def send_signal(self, signum: int) -> None:
        self.popen.send_signal(signum)

    def stop(self, *, timeout: float = 10.0) -> int:
        """SIGTERM, wait up to `timeout` seconds, then SIGKILL. Returns the exit code."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=timeout)
        return int(self.popen.returncode)

    def kill(self) -> None:
        """SIGKILL at once (used to test crash recovery)."""
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait(timeout=10)


def start_process(
    argv: Sequence[str],
    *,
    ready_url: str | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 20.0,
    cwd: Path | None = None,
) -> Process:
    """Start `argv`, wait until `ready_url` answers 2xx (if given), and return the running process.

    Raises RuntimeError with the process's output when it exits early or never becomes ready.
    """
    log_file = tempfile.NamedTemporaryFile(  # noqa: SIM115 - the child writes to it for its whole life
        prefix="proc-", suffix=".log", delete=False, dir=LOG_DIR
    )
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    popen = subprocess.Popen(
        list(argv),
        stdout=log_file,
        stderr=subprocess.STDOUT,
        env=full_env,
        cwd=str(cwd or REPO_ROOT),
        start_new_session=True,
    )
    proc = Process(argv=list(argv), popen=popen, log_path=Path(log_file.name))
    if ready_url is not None:
        wait_ready(proc, ready_url, timeout=timeout)
    return proc


def wait_ready(proc: Process, url: str, *, timeout: float = 20.0) -> None:
    """Poll `url` until it answers 2xx; fail with the process output if it dies or times out."""
    deadline = time.monotonic() + timeout
    last_error = "no attempt"
    while time.monotonic() < deadline:
        if not proc.is_running():
            raise RuntimeError(f"{proc.argv[0]} exited with {proc.popen.returncode}:\n{proc.log_text()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if 200 <= response.status < 300:
                    return
                last_error = f"HTTP {response.status}"
        except (urllib.error.URLError, OSError) as exc:
            last_error = str(exc)
        time.sleep(0.05)
    proc.stop()
    raise RuntimeError(f"{url} not ready after {timeout}s ({last_error}):\n{proc.log_text()}")
