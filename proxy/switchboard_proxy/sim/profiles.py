"""Model profiles of `switchboard-sim`: how one simulated model behaves (latency, output, faults).

Where it sits: the CLI (`--model`, `--config`) and the control API (`PUT /sim/models/{name}`) turn user
input into a frozen `Profile` here; the HTTP handlers only read profiles. Everything in this module is
pure (no aiohttp, no clock, no global random state), so the rules are unit-tested directly.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

FAULTS = (
    "none",
    "error-500",
    "error-503",
    "rate-limited",
    "overloaded",
    "hang",
    "reset",
    "midstream-fail",
    "first-event-error",
    "fail-after-created",  # Responses: response.created, response.in_progress, then response.failed
    "context-length",
)


@dataclass(frozen=True)
class Profile:
    """One simulated model. Times are milliseconds; every field has a default."""

    # Delay before the first token (streams) or before the whole JSON response.
    ttft_ms: int = 0
    # Output pace after the first token; 0 means instant.
    tokens_per_second: float = 0.0
    # Tokens generated when the request's max_tokens does not cap them.
    output_tokens: int = 16
    # Estimated prompt tokens + max_tokens above this answer 400 context_length_exceeded.
    context_window: int = 32768
    # When set, requests must carry it (Authorization: Bearer, x-api-key or api-key).
    api_key: str = ""
    # The `model` field of responses; empty means the model's own name.
    served_model: str = ""
    embedding_dims: int = 8
    # Seeds the per-model random source behind error_rate, so runs are reproducible.
    seed: int = 0
    fault: str = "none"
    # Probability (0..1) that a request gets the fault.
    error_rate: float = 1.0
    # When > 0, only the next N faulted requests fail; then the model is healthy again.
    fail_count: int = 0
    retry_after_s: int = 1
    # midstream-fail: content chunks sent before the connection is aborted.
    fail_after_chunks: int = 2
    # At most this many requests generate at once; the rest wait their turn in arrival order, so latency
    # rises past the capacity while throughput stays flat (an upstream's knee). 0 means unlimited.
    capacity: int = 0
    # Requests accepted per sliding minute; beyond it a 429 with Retry-After and x-ratelimit-* headers
    # (also sent on every accepted answer). 0 means no limit.
    requests_per_minute: int = 0
    # The sliding window of GET /sim/stats' `max_in_window` (the most requests received in any window).
    window_s: float = 60.0


# Field name -> Python type; with postponed annotations `Field.type` is the type's name as a string.
_TYPES_BY_NAME: dict[str, type] = {"int": int, "float": float, "str": str}
FIELD_TYPES: dict[str, type] = {f.name: _TYPES_BY_NAME[str(f.type)] for f in dataclasses.fields(Profile)}

SECRET_FIELDS = frozenset({"api_key"})
REDACTED = "[REDACTED]"


class ProfileError(ValueError):
    """Invalid profile input; `problems` lists (field, message) pairs, all of them, not just the first."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{name}: {message}" for name, message in problems))


def merge_profile(base: Profile, *, fields: Mapping[str, Any]) -> Profile:
    """`base` with `fields` (JSON-typed values) applied; raise ProfileError naming every bad field."""
    problems: list[tuple[str, str]] = []
    values: dict[str, Any] = {}
    for name, value in fields.items():
        expected = FIELD_TYPES.get(name)
        if expected is None:
            problems.append((name, f"unknown field; known fields: {', '.join(FIELD_TYPES)}"))
            continue
        checked = _check_type(value, expected=expected)
        if checked is None:
            problems.append((name, f"must be {expected.__name__}, got {type(value).__name__} {value!r}"))
            continue
        values[name] = checked
    problems.extend(_check_ranges(values))
    if problems:
        raise ProfileError(problems)
    return dataclasses.replace(base, **values)


def _check_type(value: Any, *, expected: type) -> Any | None:
    # bool is an int subclass in Python, but `"ttft_ms": true` is a mistake, not 1 ms.
    if isinstance(value, bool):
        return None
    if expected is float and isinstance(value, int | float):
        return float(value)
    if expected is int and isinstance(value, float) and value.is_integer():
        return int(value)
    return value if isinstance(value, expected) else None


def _check_ranges(values: Mapping[str, Any]) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    for name in (
        "ttft_ms",
        "output_tokens",
        "fail_count",
        "retry_after_s",
        "fail_after_chunks",
        "seed",
        "capacity",
        "requests_per_minute",
    ):
        if name in values and values[name] < 0:
            problems.append((name, f"must be >= 0, got {values[name]}"))
    for name in ("context_window", "embedding_dims"):
        if name in values and values[name] < 1:
            problems.append((name, f"must be >= 1, got {values[name]}"))
    if "tokens_per_second" in values and values["tokens_per_second"] < 0:
        problems.append(
            ("tokens_per_second", f"must be >= 0 (0 = instant), got {values['tokens_per_second']}")
        )
    if "window_s" in values and values["window_s"] <= 0:
        problems.append(("window_s", f"must be > 0, got {values['window_s']}"))
    if "error_rate" in values and not 0.0 <= values["error_rate"] <= 1.0:
        problems.append(("error_rate", f"must be between 0 and 1, got {values['error_rate']}"))
    if "fault" in values and values["fault"] not in FAULTS:
        problems.append(("fault", f"must be one of {', '.join(FAULTS)}, got {values['fault']!r}"))
    return problems


def coerce_text_fields(raw: Mapping[str, str]) -> dict[str, Any]:
    """Turn `key=value` strings from the command line into JSON-typed values for `merge_profile`."""
    problems: list[tuple[str, str]] = []
    values: dict[str, Any] = {}
    for name, text in raw.items():
        expected = FIELD_TYPES.get(name)
        if expected is None:
            problems.append((name, f"unknown field; known fields: {', '.join(FIELD_TYPES)}"))
        elif expected is str:
            values[name] = text
        else:
            try:
                values[name] = expected(text)
            except ValueError:
                problems.append((name, f"must be {expected.__name__}, got {text!r}"))
    if problems:
        raise ProfileError(problems)
    return values


def parse_model_option(option: str) -> tuple[str, dict[str, Any]]:
    """Parse `--model NAME[:key=value,...]` into the model name and JSON-typed profile fields."""
    name, _, rest = option.partition(":")
    name = name.strip()
    if not name:
        raise ProfileError([("model", f"missing model name in {option!r}")])
    raw: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in rest.split(","))):
        key, sep, value = item.partition("=")
        if not sep:
            raise ProfileError([(key, f"expected key=value in {option!r}")])
        raw[key.strip()] = value.strip()
    return name, coerce_text_fields(raw)


def profile_to_dict(profile: Profile, *, redact: bool = True) -> dict[str, Any]:
    """JSON view of a profile; secrets are replaced by a fixed marker unless `redact` is false."""
    data = dataclasses.asdict(profile)
    if redact:
        for name in SECRET_FIELDS:
            if data[name]:
                data[name] = REDACTED
    return data


def decide_fault(profile: Profile, *, draw: float, remaining: int) -> tuple[bool, int]:
    """Whether this request gets the profile's fault, and the fail_count budget left afterwards.

    `draw` is a uniform sample in [0, 1) from the model's seeded random source; `remaining` is how
    many faults the current fail_count still allows (ignored when fail_count is 0).
    """
    if profile.fault == "none" or draw >= profile.error_rate:
        return False, remaining
    if profile.fail_count > 0:
        if remaining <= 0:
            return False, 0
        return True, remaining - 1
    return True, remaining
