"""Reading an upstream's own rate-limit headers (OpenAI's durations, Anthropic's times) and a 429."""

from __future__ import annotations

import pytest

from switchboard_proxy.execution.provider_limits import (
    LimitSignal,
    parse_duration,
    read_limit_signal,
    refusal_signal,
)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("1s", 1.0),
        ("6m0s", 360.0),
        ("20ms", 0.02),
        ("2m3.5s", 123.5),
        ("2h", 3600.0),
        ("0.5", 0.5),
        ("soon", None),
        ("", None),
    ],
)
def test_durations(text: str, seconds: float | None) -> None:
    assert parse_duration(text) == (pytest.approx(seconds) if seconds is not None else None)


def test_openai_headers() -> None:
    headers = {"x-ratelimit-remaining-requests": "3", "x-ratelimit-reset-requests": "2s"}
    assert read_limit_signal(headers) == LimitSignal(3.0, 2.0, None, None)


def test_anthropic_headers_reset_at_a_time() -> None:
    headers = {
        "anthropic-ratelimit-tokens-remaining": "100",
        "anthropic-ratelimit-tokens-reset": "2026-01-01T00:00:10Z",
    }
    signal = read_limit_signal(headers, clock=lambda: 1767225600.0)  # 2026-01-01T00:00:00Z
    assert signal == LimitSignal(None, None, 100.0, pytest.approx(10.0))


def test_no_headers_no_signal() -> None:
    assert read_limit_signal({"content-type": "application/json"}) is None


def test_a_429_empties_the_buckets_until_retry_after() -> None:
    assert refusal_signal(30.0, None) == LimitSignal(0.0, 30.0, 0.0, 30.0)
    said = LimitSignal(0.0, 5.0, 900.0, 1.0)
    assert refusal_signal(30.0, said) == LimitSignal(0.0, 30.0, 900.0, 1.0)
