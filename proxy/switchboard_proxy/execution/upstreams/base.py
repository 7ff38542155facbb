"""What every provider module shares: the call being made, a prepared request, token usage."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

Api = Literal["chat", "completions", "embeddings", "messages"]

# Client headers worth forwarding upstream (everything else, and any credentials, stays behind).
FORWARDED_HEADERS: tuple[str, ...] = ("anthropic-version", "anthropic-beta", "openai-beta")


@dataclass(frozen=True, slots=True)
class Call:
    """One client request as the executor sends it to any endpoint."""

    api: Api
    body: dict[str, Any]
    stream: bool
    forwarded: dict[str, str] = field(default_factory=dict)
    request_id: str = ""


class Prepared(NamedTuple):
    """An attempt ready to send; `add_usage` means the stream asks for usage the client did not want."""

    url: str
    headers: dict[str, str]
    payload: bytes
    add_usage: bool = False


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts reported by the upstream."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.cached_tokens + other.cached_tokens,
        )


def as_int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


_BASE_HEADERS = {
    stream: {
        "Content-Type": "application/json",
        "Accept": "text/event-stream" if stream else "application/json",
    }
    for stream in (False, True)
}


def common_headers(call: Call) -> dict[str, str]:
    """Headers every provider gets: JSON in, JSON or SSE out, and the request id end to end."""
    headers = dict(_BASE_HEADERS[call.stream])
    if call.request_id:
        headers["X-Request-Id"] = call.request_id  # one id from the client through every upstream log
    return headers
