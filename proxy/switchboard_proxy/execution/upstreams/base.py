"""What every provider module shares: the call being made and a prepared request."""

from __future__ import annotations

from typing import Any, NamedTuple

from switchboard_proxy.routing.request import Api

# Client headers worth forwarding upstream (everything else, and any credentials, stays behind).
FORWARDED_HEADERS: tuple[str, ...] = ("anthropic-version", "anthropic-beta", "openai-beta")


class Call(NamedTuple):
    """One client request as the executor sends it to any endpoint."""

    api: Api
    body: dict[str, Any]
    stream: bool
    forwarded: dict[str, str] = {}
    request_id: str = ""
    prompt_tokens: int = 0  # the sidecar's estimate, for answers that report no usage


class Prepared(NamedTuple):
    """An attempt ready to send; `add_usage` means the stream asks for usage the client did not want."""

    url: str
    headers: dict[str, str]
    payload: bytes
    add_usage: bool = False


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
