"""A fuzzing campaign against a real sidecar and sim: send probes, check every answer, then the process.

Per answer: no 5xx but the documented 502/503/504; an X-Request-Id; a JSON error in the caller's API
shape (Anthropic's on /v1/messages); no endpoint key. After the campaign: no traceback and no key in the
sidecar's log, nothing left in flight, and the resident memory under the bound. The stack plays the
repository's examples (an editor's routes, experiments, shadows, budgets) with their keys set, against a
fast sim.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from hostile import Probe

from support.processes import REPO_ROOT, Process
from support.rawhttp import RawReply, Replies
from support.stack import Stack, start_proxy, start_sim
from support.waiting import wait_until

ALLOWED_5XX = {502, 503, 504}
KEYS = {
    "frontier": "sk-fuzz-FRONTIER-0123456789abcdef",
    "claude-sonnet": "sk-ant-fuzz-SONNET-0123456789",
    "claude-haiku": "sk-ant-fuzz-HAIKU-0123456789ab",
}
FAST = {"ttft_ms": 1, "tokens_per_second": 5000, "output_tokens": 4}
SIM_MODELS = {
    name: dict(FAST)
    for name in (
        "qwen2.5-coder-1.5b",
        "qwen2.5-coder-3b",
        "starcoder2-3b",
        "llama-3.3-70b-instruct",
        "llama-3.1-8b-instruct",
        "gpt-4.1",
        "claude-sonnet-4-5",
        "claude-haiku-4-5",
    )
} | {"text-embedding-3-small": {"embedding_dims": 8}}
RSS_LIMIT_MB = 70.0


@dataclass
class Tally:
    """What the campaign sent and got, for its summary."""

    sent: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    unanswered: Counter[str] = field(default_factory=Counter)
    rss_before_mb: float = 0.0
    rss_after_mb: float = 0.0

    def summary(self) -> str:
        lines = [f"requests: {sum(self.sent.values())}"]
        lines += [f"  {category}: {count}" for category, count in sorted(self.sent.items())]
        lines += ["answers by status:"] + [
            f"  {status}: {count}" for status, count in sorted(self.statuses.items())
        ]
        lines += [f"no answer (connection cut, as the probe asked for): {sum(self.unanswered.values())}"]
        lines += [f"sidecar RSS: {self.rss_before_mb:.1f} MiB before, {self.rss_after_mb:.1f} MiB after"]
        return "\n".join(lines)


@contextlib.contextmanager
def fuzz_stack(work: Path, *, token_limits: bool = True) -> Iterator[Stack]:
    """The examples with their keys, against a fast sim on loopback; without `token_limits` their
    endpoints lose `tokensPerMinute` (so that huge prompts reach the upstream rather than the bucket)."""
    sim = start_sim(SIM_MODELS, tmp_dir=work)
    resources = work / "resources"
    resources.mkdir()
    for source in (REPO_ROOT / "examples").glob("*.yaml"):
        text = source.read_text().replace("http://127.0.0.1:9100", sim.base_url)
        if not token_limits:
            text = re.sub(r", tokensPerMinute: \d+", "", text)
        (resources / source.name).write_text(text)
    credentials = work / "credentials"
    credentials.mkdir()
    for name, key in KEYS.items():
        (credentials / name).write_text(key)
    proxy = start_proxy(
        resources=resources,
        args=["--credentials-dir", str(credentials), "--max-body-bytes", str(2 * 1024 * 1024)],
    )
    try:
        yield Stack(sim=sim, proxy=proxy, resources=resources)
    finally:
        proxy.stop()
        sim.stop()


def send(stack: Stack, probe: Probe, *, timeout: float = 15.0) -> list[RawReply]:
    """Send a probe on a fresh connection; every answer read before the sidecar closed it."""
    host, port = stack.url.removeprefix("http://").split(":")
    answers: list[RawReply] = []
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        try:
            if probe.dribble:
                for start in range(0, len(probe.raw), 7):
                    sock.sendall(probe.raw[start : start + 7])
                    time.sleep(0.002)
            else:
                sock.sendall(probe.raw)
            if probe.half_close:
                sock.shutdown(socket.SHUT_WR)
            replies = Replies(sock)
            while len(answers) < 3:
                answers.append(replies.next())
                if answers[-1].headers.get("connection", "").lower() == "close":
                    break
        except (ConnectionError, TimeoutError, OSError):
            pass  # the sidecar closed the connection: a fine answer to much of this
    return answers


def check_answer(probe: Probe, reply: RawReply) -> None:
    """The properties every answer must have."""
    where = f"{probe.category} {probe.path[:60]}: {reply.status} {reply.body[:300]!r}"
    assert reply.status < 500 or reply.status in ALLOWED_5XX, where
    assert reply.headers.get("x-request-id"), where
    assert not any(key.encode() in reply.body for key in KEYS.values()), where
    assert not any(key in value for key in KEYS.values() for value in reply.headers.values()), where
    if reply.status < 400:
        return
    assert reply.headers.get("content-type", "").startswith("application/json"), where
    document = json.loads(reply.body)
    if probe.path.startswith("/v1/messages") and probe.category != "connection:garbage":
        assert document.get("type") == "error" and isinstance(document["error"], dict), where
    else:
        assert set(document["error"]) >= {"message", "type", "code", "param"}, where


def rss_mb(process: Process) -> float:
    for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def check_afterwards(stack: Stack, tally: Tally) -> None:
    """The sidecar after the campaign: clean log, nothing in flight, memory bounded."""
    log = stack.proxy.log_text()
    assert "Traceback" not in log, log[log.index("Traceback") - 500 :][:3000]
    assert "Task exception was never retrieved" not in log
    assert not any(key in log for key in KEYS.values())

    def inflight() -> int:
        endpoints = json.loads(_get(stack, "/switchboard/endpoints"))["endpoints"]
        return sum(state["inflight"] for state in endpoints.values())

    wait_until(lambda: inflight() == 0, timeout=30, what="nothing in flight after the campaign")
    tally.rss_after_mb = rss_mb(stack.proxy)
    assert tally.rss_after_mb < RSS_LIMIT_MB, tally.summary()


def _get(stack: Stack, path: str) -> bytes:
    import urllib.request

    with urllib.request.urlopen(stack.url + path, timeout=10) as answer:
        return bytes(answer.read())


def record(tally: Tally, probe: Probe, answers: list[RawReply]) -> None:
    tally.sent[probe.category] += 1
    if not answers:
        tally.unanswered[probe.category] += 1
    for reply in answers:
        tally.statuses[reply.status] += 1
