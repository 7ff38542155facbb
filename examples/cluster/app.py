"""The cluster demo app: calls its injected sidecar the way an editor's backend would, with nothing but the
Python standard library and the environment injection set (OPENAI_BASE_URL).

  python3 /app/app.py loop              a chat, a streamed chat and a tab completion, over and over; one
                                        `CALL {json}` line per request (route, variant, endpoint, status)
  python3 /app/app.py call ROUTE        one chat completion on ROUTE, printed as one JSON line
  python3 /app/app.py burst ROUTE N     N chat completions on ROUTE at once (to see load shedding)
  python3 /app/app.py fault MODEL F     make the sim beside the app fail MODEL with fault F (error-503,
                                        timeout, ...); `fault MODEL none` heals it

Every `CALL` line says whether the request succeeded, so `kubectl logs` shows any failed request.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from typing import Any

BASE = os.environ.get("OPENAI_BASE_URL", "http://127.0.0.1:8787/v1").rstrip("/")
SIM = os.environ.get("DEMO_SIM_URL", "http://127.0.0.1:9100")
PAUSE_SECONDS = float(os.environ.get("DEMO_PAUSE_SECONDS", "0.2"))
HEADERS = ("route", "variant", "endpoint", "attempts", "fallback-reason", "degraded")
stop = threading.Event()


def request(path: str, body: dict[str, Any], headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    data = json.dumps(body).encode()
    call = urllib.request.Request(
        f"{BASE}{path}", data=data, headers={"Content-Type": "application/json", **headers}
    )
    try:
        with urllib.request.urlopen(call, timeout=60) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def call(route: str, *, stream: bool = False, kind: str = "chat") -> dict[str, Any]:
    """One request; what came back, as one record."""
    user = uuid.uuid4().hex[:8]  # a new user each time: experiments assign users to variants
    headers = {"X-Switchboard-User": user}
    if kind == "completion":
        body: dict[str, Any] = {"model": route, "prompt": "def add(a, b):", "max_tokens": 8}
        path = "/completions"
    else:
        body = {"model": route, "messages": [{"role": "user", "content": "hello from the demo"}]}
        path = "/chat/completions"
    if stream:
        body["stream"] = True
    started = time.monotonic()
    try:
        status, answer_headers, content = request(path, body, headers)
    except OSError as error:
        return {"route": route, "ok": False, "status": 0, "error": type(error).__name__}
    lower = {k.lower(): v for k, v in answer_headers.items()}
    record: dict[str, Any] = {
        "call": kind + (" stream" if stream else ""),
        "ok": status == 200 and (not stream or b"data: [DONE]" in content),
        "status": status,
        "ms": round((time.monotonic() - started) * 1000, 1),
    }
    record.update({h: lower[f"x-switchboard-{h}"] for h in HEADERS if f"x-switchboard-{h}" in lower})
    record.setdefault("route", route)
    return record


def say(record: dict[str, Any]) -> None:
    print("CALL " + json.dumps({"t": round(time.time(), 3), **record}), flush=True)


def loop() -> int:
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    while not stop.is_set():
        for route, stream, kind in (
            ("chat", False, "chat"),
            ("chat", True, "chat"),
            ("tab-completion", False, "completion"),
        ):
            say(call(route, stream=stream, kind=kind))
            if stop.wait(PAUSE_SECONDS):
                break
    return 0


def burst(route: str, count: int) -> int:
    records: list[dict[str, Any]] = []
    threads = [threading.Thread(target=lambda: records.append(call(route))) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for record in records:
        say(record)
    return 0


def fault(model: str, name: str) -> int:
    method, body = ("DELETE", None) if name == "none" else ("PUT", json.dumps({"fault": name}).encode())
    change = urllib.request.Request(f"{SIM}/sim/models/{model}", data=body, method=method)
    with urllib.request.urlopen(change, timeout=10) as response:
        print(json.dumps({"model": model, "fault": name, "status": response.status}))
    return 0


def main(argv: list[str]) -> int:
    command, *rest = argv or ["loop"]
    if command == "loop":
        return loop()
    if command == "call":
        print(json.dumps(call(rest[0])))
        return 0
    if command == "burst":
        return burst(rest[0], int(rest[1]))
    if command == "fault":
        return fault(rest[0], rest[1])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
