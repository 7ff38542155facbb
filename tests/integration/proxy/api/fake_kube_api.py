"""A fake Kubernetes API serving one ConfigMap: GET, and a watch stream the test feeds event by event.

Enough of the API for the sidecar's `--watch-configmap` (plain HTTP on loopback through `--kube-api`):
`GET .../configmaps/NAME` answers the current object, `GET .../configmaps?watch=1...` holds the connection
open and writes one JSON line per event put on `events`. It records the Authorization header it saw.
"""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class FakeKubeApi:
    """The ConfigMap's current data, the queue of watch events, and what the server saw."""

    base_url: str = ""
    data: dict[str, str] = field(default_factory=dict)
    resource_version: int = 1
    events: queue.Queue[dict[str, Any] | None] = field(default_factory=queue.Queue)
    watches: int = 0
    authorizations: list[str] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)

    def object(self) -> dict[str, Any]:
        metadata = {"name": "switchboard-config", "resourceVersion": str(self.resource_version)}
        return {"kind": "ConfigMap", "apiVersion": "v1", "metadata": metadata, "data": dict(self.data)}

    def modify(self, config_json: str) -> None:
        """Change the ConfigMap and tell the watchers, as the API server would."""
        self.resource_version += 1
        self.data = {"config.json": config_json}
        self.events.put({"type": "MODIFIED", "object": self.object()})


def _handler(api: FakeKubeApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            api.authorizations.append(self.headers.get("Authorization", ""))
            if "watch=1" in self.path:
                self._watch()
                return
            payload = json.dumps(api.object()).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def _watch(self) -> None:
            api.watches += 1
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()  # HTTP/1.0, no length: the stream ends when the connection closes
            while not api.stopping.is_set():
                try:
                    event = api.events.get(timeout=0.05)
                except queue.Empty:
                    continue
                if event is None:
                    return
                self.wfile.write(json.dumps(event).encode() + b"\n")
                self.wfile.flush()

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


@contextmanager
def fake_kube_api(config_json: str) -> Iterator[FakeKubeApi]:
    api = FakeKubeApi(data={"config.json": config_json})
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(api))
    server.daemon_threads = True
    api.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, name="fake-kube-api", daemon=True)
    thread.start()
    try:
        yield api
    finally:
        api.stopping.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
