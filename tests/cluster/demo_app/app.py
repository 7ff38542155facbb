"""The in-pod demo app: the official OpenAI SDK, configured by nothing but what injection put in its env.

It builds `openai.OpenAI()` with no arguments (OPENAI_BASE_URL points at the sidecar, OPENAI_API_KEY is
injection's placeholder), makes one chat completion, one streamed chat and one tab completion, and prints
a `DEMO {json}` line per call with the X-Switchboard-* headers. Then it waits:
- SIGUSR1 starts one long stream on route $DEMO_LONG_STREAM_ROUTE (default `chat`);
- SIGTERM while that stream runs lets it finish, prints how it ended, and exits 0 (what a well-behaved
  app does when its pod is deleted); SIGTERM while idle exits at once.
The cluster tests read these lines with `kubectl logs`.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from typing import Any

import openai

LONG_STREAM_ROUTE = os.environ.get("DEMO_LONG_STREAM_ROUTE", "chat")
stop = threading.Event()
stream_now = threading.Event()


def say(record: dict[str, Any]) -> None:
    print("DEMO " + json.dumps({"t": round(time.time(), 3), **record}), flush=True)


def switchboard_headers(headers: Any) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.lower().startswith("x-switchboard-")}


def first_calls(client: openai.OpenAI) -> None:
    chat = client.chat.completions.with_raw_response.create(
        model="chat", messages=[{"role": "user", "content": "hello from a pod"}]
    )
    text = chat.parse().choices[0].message.content
    say({"call": "chat", "headers": switchboard_headers(chat.headers), "text": text})
    with client.chat.completions.with_streaming_response.create(
        model="chat", messages=[{"role": "user", "content": "stream please"}], stream=True
    ) as response:
        chunks = sum(1 for line in response.iter_lines() if line.startswith("data: "))
        say({"call": "stream", "headers": switchboard_headers(response.headers), "events": chunks})
    tab = client.completions.with_raw_response.create(
        model="tab-completion", prompt="def add(a, b):", max_tokens=8
    )
    say({"call": "completion", "headers": switchboard_headers(tab.headers), "text": completion_text(tab)})


def completion_text(raw: Any) -> str:
    return str(raw.parse().choices[0].text)


def long_stream(client: openai.OpenAI) -> None:
    """One stream read to its end, whatever signals arrive meanwhile."""
    say({"event": "stream-started", "route": LONG_STREAM_ROUTE})
    chunks, finish = 0, None
    stream = client.chat.completions.create(
        model=LONG_STREAM_ROUTE, messages=[{"role": "user", "content": "a long answer"}], stream=True
    )
    for chunk in stream:
        chunks += 1
        if chunk.choices and chunk.choices[0].finish_reason:
            finish = chunk.choices[0].finish_reason
    say({"event": "stream-finished", "chunks": chunks, "finish_reason": finish, "sigterm": stop.is_set()})


def main() -> int:
    signal.signal(signal.SIGTERM, lambda *_: (say({"event": "sigterm"}), stop.set()))
    signal.signal(signal.SIGUSR1, lambda *_: stream_now.set())
    client = openai.OpenAI()  # everything it needs comes from the env injection set
    say({"event": "started", "base_url": str(client.base_url)})
    first_calls(client)
    say({"event": "ready"})
    while not stop.is_set():
        if stream_now.wait(0.2):
            stream_now.clear()
            long_stream(client)
    say({"event": "exiting"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
