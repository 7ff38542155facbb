"""The case type of the translation tables, and what every table shares."""

from __future__ import annotations

from typing import Any, NamedTuple


class Case(NamedTuple):
    """One row: the caller's request, and what the endpoint answers (an answer, an error, or nothing
    because the request cannot be translated)."""

    id: str
    request: dict[str, Any]
    answer: dict[str, Any] | None = None  # in the endpoint's API; None: the table's default answer
    error: tuple[int, dict[str, Any]] | None = None  # the endpoint's error status and document
    refused: str | None = None  # the request cannot be translated: the param the 400 names


HELLO = [{"role": "user", "content": "Say hello."}]
WEATHER = {
    "type": "object",
    "properties": {"city": {"type": "string"}},
    "required": ["city"],
}
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
OPENAI_RATE_LIMITED = (
    429,
    {
        "error": {
            "message": "Rate limit reached",
            "type": "requests",
            "code": "rate_limit_exceeded",
            "param": None,
        }
    },
)
OPENAI_BAD_REQUEST = (
    400,
    {
        "error": {
            "message": "Invalid 'temperature'",
            "type": "invalid_request_error",
            "code": None,
            "param": "temperature",
        }
    },
)
OPENAI_SERVER_ERROR = (
    500,
    {"error": {"message": "boom", "type": "server_error", "code": None, "param": None}},
)
ANTHROPIC_RATE_LIMITED = (
    429,
    {"type": "error", "error": {"type": "rate_limit_error", "message": "Number of requests"}},
)
ANTHROPIC_BAD_REQUEST = (
    400,
    {"type": "error", "error": {"type": "invalid_request_error", "message": "max_tokens: too big"}},
)
ANTHROPIC_OVERLOADED = (
    529,
    {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
)
