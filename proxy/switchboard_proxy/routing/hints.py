"""Read a model call's routing hints (X-Switchboard-* headers, body fields) into a `RouteRequest`.

Pure: headers come in as a mapping and the body as parsed JSON, so the sidecar's handlers and
`switchboard explain` build requests the same way. Header names live here, once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from .request import PRIORITY_RANK, Api, Priority, RouteRequest

ROUTE = "X-Switchboard-Route"
TASK = "X-Switchboard-Task"
DEADLINE_MS = "X-Switchboard-Deadline-Ms"
PRIORITY = "X-Switchboard-Priority"
USER = "X-Switchboard-User"
REQUEST_ID = "X-Request-Id"

MAX_DEADLINE_MS = 3_600_000
CHARS_PER_TOKEN = 4  # the usual rough estimate for English text and code


class HintError(ValueError):
    """A hint is malformed; `param` names the header or field (rendered as a 400)."""

    def __init__(self, message: str, *, param: str) -> None:
        super().__init__(message)
        self.message = message
        self.param = param


def build_route_request(
    api: Api, headers: Mapping[str, str], body: Mapping[str, Any], *, request_id: str
) -> RouteRequest:
    """Everything the planner needs from one HTTP request."""
    messages = body.get("messages")
    return RouteRequest(
        api=api,
        model=model if isinstance(model := body.get("model"), str) else "",
        route_header=headers.get(ROUTE, ""),
        task=headers.get(TASK, ""),
        prompt_tokens=estimate_prompt_tokens(api, body),
        max_tokens=_max_tokens(body),
        needs=_needs(api, body, messages),
        stream=body.get("stream") is True,
        deadline_ms=parse_deadline(headers.get(DEADLINE_MS)),
        priority=parse_priority(headers.get(PRIORITY)),
        sticky_key=headers.get(USER) or _body_user(body),
        request_id=request_id,
    )


def parse_deadline(raw: str | None) -> int | None:
    """X-Switchboard-Deadline-Ms: a positive integer of milliseconds."""
    if raw is None or raw == "":
        return None
    value = raw.strip()
    # isdigit() accepts '²' and other digits int() refuses; only ASCII 0-9 is a number here.
    if not (value.isascii() and value.isdigit() and len(value) <= 7) or not 0 < int(value) <= MAX_DEADLINE_MS:
        raise HintError(
            f"{DEADLINE_MS} must be an integer of milliseconds in 1..{MAX_DEADLINE_MS}", param=DEADLINE_MS
        )
    return int(value)


def parse_priority(raw: str | None) -> Priority | None:
    """X-Switchboard-Priority: critical, standard or sheddable."""
    if raw is None or raw == "":
        return None
    value = raw.strip().lower()
    if value not in PRIORITY_RANK:
        raise HintError(f"{PRIORITY} must be one of critical, standard, sheddable", param=PRIORITY)
    return cast(Priority, value)


def estimate_prompt_tokens(api: Api, body: Mapping[str, Any]) -> int:
    """Rough prompt size (characters / 4) of messages, prompt, system and embedding input."""
    chars = (
        _text_chars(body.get("messages")) + _text_chars(body.get("system")) + _text_chars(body.get("prompt"))
    )
    tokens = 0
    if api == "embeddings":
        chars += _text_chars(body.get("input"))
        tokens = _token_ids(body.get("input"))
    return tokens + (chars + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN


def _token_ids(value: Any) -> int:
    """Embedding input given as token ids (a list of ints, or a list of such lists) counts exactly."""
    if isinstance(value, list) and value and all(isinstance(v, int) for v in value):
        return len(value)
    if isinstance(value, list):
        return sum(_token_ids(v) for v in value if isinstance(v, list))
    return 0


def _text_chars(value: Any) -> int:
    if isinstance(value, str):
        return len(value)
    if isinstance(value, list):
        return sum(_text_chars(item) for item in value)
    if isinstance(value, dict):
        return _text_chars(value.get("content")) + _text_chars(value.get("text"))
    return 0


def _max_tokens(body: Mapping[str, Any]) -> int:
    for key in ("max_completion_tokens", "max_tokens"):
        value = body.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return 0


def _needs(api: Api, body: Mapping[str, Any], messages: Any) -> frozenset[str]:
    needs = set()
    if api == "embeddings":
        needs.add("embeddings")
    if body.get("stream") is True:
        needs.add("streaming")
    if body.get("tools") or body.get("functions"):
        needs.add("tools")
    response_format = body.get("response_format")
    if isinstance(response_format, dict) and response_format.get("type") in ("json_object", "json_schema"):
        needs.add("json")
    if _has_image(messages):
        needs.add("vision")
    return frozenset(needs)


def _has_image(messages: Any) -> bool:
    if not isinstance(messages, list):
        return False
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, list) and any(
            isinstance(part, dict) and part.get("type") in ("image_url", "image", "input_image")
            for part in content
        ):
            return True
    return False


def _body_user(body: Mapping[str, Any]) -> str:
    user = body.get("user")
    if isinstance(user, str) and user:
        return user
    metadata = body.get("metadata")  # Anthropic: metadata.user_id
    if isinstance(metadata, dict) and isinstance(metadata.get("user_id"), str):
        return str(metadata["user_id"])
    return ""
