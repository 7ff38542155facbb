"""The access log: one JSON line per request on stdout, buffered and flushed by the event loop.

`logging` flushes its stream on every record, a system call per request on the hot path; this writer
appends to an in-memory buffer and a background task flushes it every `FLUSH_SECONDS` (and at shutdown),
so a burst of requests costs one write. Lines carry ids, names, numbers and reasons, never a header
value or a body, so no key can reach the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from typing import Any

import orjson

FLUSH_SECONDS = 0.1
MAX_BUFFER_BYTES = 256 * 1024  # flush early rather than grow without bound under a burst


class AccessLog:
    """Buffered JSON-lines writer to a file descriptor (stdout by default)."""

    def __init__(self, fd: int | None = None) -> None:
        self._fd = sys.stdout.fileno() if fd is None else fd
        self._buffer = bytearray()
        self._task: asyncio.Task[None] | None = None

    def write(self, line: dict[str, Any]) -> None:
        self._buffer += orjson.dumps(line, option=orjson.OPT_APPEND_NEWLINE)
        if len(self._buffer) >= MAX_BUFFER_BYTES:
            self.flush()

    def flush(self) -> None:
        data, self._buffer = bytes(self._buffer), bytearray()
        with contextlib.suppress(OSError):  # a closed stdout must not take the sidecar down
            while data:
                written = os.write(self._fd, data)
                data = data[written:]

    def start(self) -> None:
        """Begin flushing periodically (call from the running loop)."""
        self._task = asyncio.create_task(self._flush_periodically(), name="access-log-flush")

    async def stop(self) -> None:
        """Stop the flusher and write what is left."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.flush()

    async def _flush_periodically(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_SECONDS)
            if self._buffer:
                self.flush()
