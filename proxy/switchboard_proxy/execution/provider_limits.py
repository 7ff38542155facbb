"""What an upstream says about its own rate limits, read from its response headers (pure).

OpenAI (and vLLM, Azure, most gateways) send `x-ratelimit-remaining-requests` / `-tokens` with
`x-ratelimit-reset-requests` / `-tokens` as durations ("1s", "6m0s", "20ms"); Anthropic sends
`anthropic-ratelimit-requests-remaining` / `-tokens-remaining` with `-reset` as an RFC 3339 time. A 429's
`Retry-After` (seconds) says the same more bluntly. The lease turns a `LimitSignal` into a shrunk bucket
until the reset, so the sidecar stops sending before the upstream starts refusing.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import NamedTuple

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
MAX_RESET_SECONDS = 3600.0  # a reset further out than this is not believed


class LimitSignal(NamedTuple):
    """Remaining requests/tokens and seconds until each resets; None where the upstream said nothing."""

    requests_remaining: float | None = None
    requests_reset_seconds: float | None = None
    tokens_remaining: float | None = None
    tokens_reset_seconds: float | None = None


def parse_duration(text: str) -> float | None:
    """'1s', '6m0s', '20ms', '1h2m3.5s' or a bare number of seconds -> seconds; None when unreadable."""
    text = text.strip()
    try:
        return min(MAX_RESET_SECONDS, max(0.0, float(text)))
    except ValueError:
        pass
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        return None
    return min(MAX_RESET_SECONDS, sum(float(number) * _UNIT_SECONDS[unit] for number, unit in parts))


def _seconds_until(text: str, now_epoch: float) -> float | None:
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return parse_duration(text)
    return min(MAX_RESET_SECONDS, max(0.0, moment.timestamp() - now_epoch))


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if value >= 0 else None


def read_limit_signal(
    headers: Mapping[str, str], *, clock: Callable[[], float] = time.time
) -> LimitSignal | None:
    """The signal in `headers`, or None when they carry no rate-limit headers (the common case: four
    lookups and nothing else). `clock` (wall time) is read only for Anthropic's reset times."""
    if (remaining := headers.get("x-ratelimit-remaining-requests")) is not None or (
        headers.get("x-ratelimit-remaining-tokens") is not None
    ):
        reset_requests = headers.get("x-ratelimit-reset-requests")
        reset_tokens = headers.get("x-ratelimit-reset-tokens")
        return LimitSignal(
            _number(remaining),
            parse_duration(reset_requests) if reset_requests else None,
            _number(headers.get("x-ratelimit-remaining-tokens")),
            parse_duration(reset_tokens) if reset_tokens else None,
        )
    if (remaining := headers.get("anthropic-ratelimit-requests-remaining")) is not None or (
        headers.get("anthropic-ratelimit-tokens-remaining") is not None
    ):
        reset_requests = headers.get("anthropic-ratelimit-requests-reset")
        reset_tokens = headers.get("anthropic-ratelimit-tokens-reset")
        return LimitSignal(
            _number(remaining),
            _seconds_until(reset_requests, clock()) if reset_requests else None,
            _number(headers.get("anthropic-ratelimit-tokens-remaining")),
            _seconds_until(reset_tokens, clock()) if reset_tokens else None,
        )
    return None


def refusal_signal(retry_after: float | None, signal: LimitSignal | None) -> LimitSignal:
    """What a 429 means for the buckets: the headers' own word where they give one, else nothing left of
    either until Retry-After (or a second, when it gives none)."""
    wait = retry_after if retry_after is not None else 1.0
    if signal is None:
        return LimitSignal(0.0, wait, 0.0, wait)
    requests_reset = signal.requests_reset_seconds
    tokens_reset = signal.tokens_reset_seconds
    return LimitSignal(
        signal.requests_remaining if signal.requests_remaining is not None else 0.0,
        max(wait, requests_reset or 0.0),
        signal.tokens_remaining,
        tokens_reset if signal.tokens_remaining is not None else None,
    )
