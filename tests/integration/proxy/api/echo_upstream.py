"""A tiny recording upstream for what switchboard-sim cannot show: query strings and echoed keys.

The sim records paths but not query strings, and its error messages never repeat a request's key. This
stdlib server (one thread, loopback) records every request line with its headers, and answers a 400
whose message repeats the Authorization/api-key header, the way some real servers quote a bad request.
Path `/ok/...` answers a normal chat completion instead.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

COMPLETION = {
    "id": "chatcmpl-echo",
    "object": "chat.completion",
    "created": 0,
    "model": "echo-upstream",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
}


@dataclass
class EchoUpstream:
    """Where the server listens and what it received (path with query, lower-cased headers)."""

    base_url: str
    received: list[dict[str, Any]] = field(default_factory=list)


def _handler(upstream: EchoUpstream) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            headers = {k.lower(): v for k, v in self.headers.items()}
            upstream.received.append({"path": self.path, "headers": headers, "body": body})
            if self.path.startswith("/ok/"):
                self._answer(200, COMPLETION)
                return
            quoted = headers.get("authorization") or headers.get("api-key") or headers.get("x-api-key")
            message = f"invalid request: header {quoted!r} is not accepted here"
            self._answer(400, {"error": {"message": message, "type": "invalid_request_error"}})

        def _answer(self, status: int, document: dict[str, Any]) -> None:
            payload = json.dumps(document).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


@contextmanager
def echo_upstream() -> Iterator[EchoUpstream]:
    """Run the server on a free loopback port for the duration of the block."""
    upstream = EchoUpstream(base_url="")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(upstream))
    upstream.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, name="echo-upstream", daemon=True)
    thread.start()
    try:
        yield upstream
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
