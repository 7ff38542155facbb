"""A real `redis-server` (Debian's) on a free loopback port, in a temporary directory, without persistence.

Tests of the fleet's shared state start their own: never the machine's 6379, never a daemon. `kill()`
and `restart()` (same port, empty, as a crashed Redis without persistence comes back) drive the outage
tests.
"""

from __future__ import annotations

import shutil
import socket
import time
from pathlib import Path

import pytest

from support.processes import Process, free_port, start_process


def redis_available() -> bool:
    return shutil.which("redis-server") is not None


needs_redis = pytest.mark.skipif(
    not redis_available(), reason="redis-server is not installed (.ci/run installs it)"
)


class RedisServer:
    """One redis-server process; `url` stays the same across restarts."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.process: Process | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        argv = [
            "redis-server",
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self.directory),
            "--save", "",
            "--appendonly", "no",
            "--protected-mode", "yes",
        ]  # fmt: skip
        self.process = start_process(argv)
        deadline = time.monotonic() + 10
        while not self.is_answering():
            if time.monotonic() > deadline or not self.process.is_running():
                raise RuntimeError(f"redis-server did not start:\n{self.process.log_text()}")
            time.sleep(0.02)
        return self

    def is_answering(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()

    def restart(self) -> None:
        self.kill()
        self.start()

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
