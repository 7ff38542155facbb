"""Read a model call's routing hints (X-Switchboard-* headers, body fields) into a `RouteRequest`.

Pure: headers come in as a mapping and the body as parsed JSON, so the sidecar's handlers and
`switchboard explain` build requests the same way. Header names live here, once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any, NamedTuple, cast

import orjson

from .request import PRIORITY_RANK, Api, Priority, RouteRequest

ROUTE = "X-Switchboard-Route"
TASK = "X-Switchboard-Task"
DEADLINE_MS = "X-Switchboard-Deadline-Ms"
PRIORITY = "X-Switchboard-Priority"
USER = "X-Switchboard-User"
SESSION = "X-Switchboard-Session"
REQUEST_ID = "X-Request-Id"
MAX_SESSION_KEY = 256
# Responses requests that need the provider's server-side state: only an endpoint with the `responses`
# capability can serve them, so they need it (a route without one answers 400 unsupported_by_route).
STATEFUL_RESPONSES = ("previous_response_id", "conversation", "background")

MAX_DEADLINE_MS = 3_600_000
CHARS_PER_TOKEN = 4  # the usual rough estimate for English text and code
IMAGE_PARTS = frozenset({"image_url", "image", "input_image"})  # OpenAI, Anthropic, Responses


class HintError(ValueError):
    """A hint is malformed; `param` names the header or field (rendered as a 400)."""

    def __init__(self, message: str, *, param: str) -> None:
        super().__init__(message)
        self.message = message
        self.param = param


def build_route_request(
    api: Api,
    headers: Mapping[str, str],
    body: Mapping[str, Any],
    *,
    request_id: str,
    session_fallback: bool = False,
) -> RouteRequest:
    """Everything the planner needs from one HTTP request; `session_fallback`: when no
    X-Switchboard-Session is sent, key the session by its conversation (only configs with affinity
    routes pay for the hash)."""
    prompt = prompt_scan(api, body)
    session = header_text(headers, SESSION)[:MAX_SESSION_KEY]
    if not session and session_fallback:
        session = conversation_key(api, body)
    return RouteRequest(
        api=api,
        model=model if isinstance(model := body.get("model"), str) else "",
        route_header=header_text(headers, ROUTE),
        task=header_text(headers, TASK),
        prompt_tokens=prompt.tokens,
        max_tokens=_max_tokens(body),
        needs=_needs(api, body, has_image=prompt.has_image),
        stream=body.get("stream") is True,
        deadline_ms=parse_deadline(headers.get(DEADLINE_MS)),
        priority=parse_priority(headers.get(PRIORITY)),
        sticky_key=header_text(headers, USER) or _body_user(body),
        request_id=request_id,
        session_key=session,
    )


def header_text(headers: Mapping[str, str], name: str) -> str:
    """A header's value as text ('' when absent); a 400 when its bytes are no UTF-8 (aiohttp hands those
    over as lone surrogates, which would fail later, deep in hashing or rendering)."""
    value = headers.get(name, "")
    if value and not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise HintError(f"{name} is not valid UTF-8", param=name) from None
    return value


def conversation_key(api: Api, body: Mapping[str, Any]) -> str:
    """A session key for a caller that sends none: a hash of the conversation's opening (its system
    prompt or instructions and its first user message), which every later turn repeats unchanged."""
    if api == "responses":
        items = body.get("input")
        first = items if isinstance(items, str) else items[:1] if isinstance(items, list) else None
        opening: list[Any] = [body.get("instructions"), first]
    elif api in ("chat", "messages"):
        messages = body.get("messages")
        messages = messages if isinstance(messages, list) else []
        end = next((i for i, m in enumerate(messages) if isinstance(m, dict) and m.get("role") == "user"), -1)
        opening = [body.get("system"), messages[: end + 1]]
    else:
        return ""
    if not any(opening):
        return ""
    digest = hashlib.blake2b(orjson.dumps(opening, option=orjson.OPT_SORT_KEYS), digest_size=16)
    return "conversation:" + digest.hexdigest()


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


class PromptScan(NamedTuple):
    """What one walk over a request's prompt finds."""

    tokens: int  # rough size: characters / 4, plus embedding input given as token ids, counted exactly
    has_image: bool


def prompt_scan(api: Api, body: Mapping[str, Any]) -> PromptScan:
    """The prompt's rough size and whether it holds an image: messages, system, prompt, embedding input."""
    parts = [body.get("messages"), body.get("system"), body.get("prompt")]
    if api == "responses":
        parts += [body.get("input"), body.get("instructions")]
    tokens = 0
    if api == "embeddings":
        parts.append(body.get("input"))
        tokens = _token_ids(body.get("input"))
    chars, has_image = _walk_text(parts)
    return PromptScan(tokens + (chars + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN, has_image)


def estimate_prompt_tokens(api: Api, body: Mapping[str, Any]) -> int:
    """Rough prompt size (characters / 4) of messages, prompt, system and embedding input."""
    return prompt_scan(api, body).tokens


def _walk_text(root: Any) -> tuple[int, bool]:
    """Characters of text in `root` (strings, and the `content`/`text` of objects, in lists at any depth)
    and whether an image part is among them. A loop with a stack, not recursion: a client's nesting
    depth must not be the sidecar's."""
    chars, has_image = 0, False
    stack = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            chars += len(node)
        elif isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict):
            if node.get("type") in IMAGE_PARTS:
                has_image = True
            stack.append(node.get("content"))
            stack.append(node.get("text"))
    return chars, has_image


def _token_ids(value: Any) -> int:
    """Embedding input given as token ids (a list of ints, or a list of such lists) counts exactly."""
    if isinstance(value, list) and value and all(isinstance(v, int) for v in value):
        return len(value)
    if isinstance(value, list):
        return sum(_token_ids(v) for v in value if isinstance(v, list))
    return 0


def _max_tokens(body: Mapping[str, Any]) -> int:
    for key in ("max_completion_tokens", "max_tokens", "max_output_tokens"):
        value = body.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return 0


def _needs(api: Api, body: Mapping[str, Any], *, has_image: bool) -> frozenset[str]:
    needs = set()
    if api == "embeddings":
        needs.add("embeddings")
    if body.get("stream") is True:
        needs.add("streaming")
    if body.get("tools") or body.get("functions"):
        needs.add("tools")
    response_format = body.get("response_format")
    if api == "responses":
        text = body.get("text")
        response_format = text.get("format") if isinstance(text, dict) else None
        tools = body.get("tools")
        built_in = isinstance(tools, list) and any(
            not isinstance(t, dict) or t.get("type") != "function" for t in tools
        )
        if built_in or body.get("store") is True or any(body.get(name) for name in STATEFUL_RESPONSES):
            needs.add("responses")  # the provider's own tools or state: no translation can stand in
    if isinstance(response_format, dict) and response_format.get("type") in ("json_object", "json_schema"):
        needs.add("json")
    if has_image:
        needs.add("vision")
    return frozenset(needs)


def _body_user(body: Mapping[str, Any]) -> str:
    user = body.get("user")
    if isinstance(user, str) and user:
        return user
    metadata = body.get("metadata")  # Anthropic: metadata.user_id
    if isinstance(metadata, dict) and isinstance(metadata.get("user_id"), str):
        return str(metadata["user_id"])
    return ""
