"""Errors in each API's shape, and `TranslationError` for a request that one API cannot say in another.

    OpenAI (chat, Responses): {"error": {"message", "type", "code", "param"}}
    Anthropic Messages:       {"type": "error", "error": {"type", "message"}}

An upstream's error document is mapped into the caller's shape by `error_document`; the status stays
the upstream's, so the classification of the failure (done on the upstream's own words) is unchanged.
"""

from __future__ import annotations

from typing import Any

# Anthropic's error types by HTTP status (what its API answers with each).
ANTHROPIC_TYPES: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    503: "overloaded_error",
    529: "overloaded_error",
}
# Anthropic error type -> OpenAI error type and code.
OPENAI_TYPES: dict[str, tuple[str, str | None]] = {
    "invalid_request_error": ("invalid_request_error", None),
    "authentication_error": ("authentication_error", "invalid_api_key"),
    "permission_error": ("permission_error", None),
    "not_found_error": ("invalid_request_error", "model_not_found"),
    "request_too_large": ("invalid_request_error", "request_too_large"),
    "rate_limit_error": ("rate_limit_error", "rate_limit_exceeded"),
    "api_error": ("server_error", None),
    "overloaded_error": ("server_error", "overloaded"),
}


class TranslationError(ValueError):
    """The request says something the endpoint's API cannot (rendered as a 400 naming `param`)."""

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param


def array_field(body: dict[str, Any], name: str, *, strings: bool = False, where: str = "") -> list[Any]:
    """`body[name]` as a list ([] when absent or empty); a value of another type is the caller's mistake,
    said as a TranslationError naming the field (inside `where`, e.g. `messages[2]`). `strings`: a bare
    string counts as a list of one."""
    value = body.get(name)
    if not value:
        return []
    if strings and isinstance(value, str):
        return [value]
    if not isinstance(value, list):
        param = f"{where}.{name}" if where else name
        raise TranslationError(f"'{param}' must be an array", param=param)
    return value


def object_field(body: dict[str, Any], name: str) -> dict[str, Any]:
    """`body[name]` as an object ({} when absent); another type is said as a TranslationError."""
    value = body.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise TranslationError(f"'{name}' must be an object", param=name)
    return value


def error_parts(document: Any) -> tuple[str, str, str | None, str | None]:
    """(message, type, code, param) of an error document of either shape ('' when it says nothing)."""
    error = document.get("error") if isinstance(document, dict) else None
    if not isinstance(error, dict):
        text = error if isinstance(error, str) else ""
        return text, "", None, None
    code, param = error.get("code"), error.get("param")
    return (
        str(error.get("message") or ""),
        str(error.get("type") or ""),
        str(code) if code is not None else None,
        str(param) if param is not None else None,
    )


def openai_error(status: int, document: Any) -> dict[str, Any]:
    """Any error document as OpenAI's."""
    message, kind, code, param = error_parts(document)
    is_anthropic = isinstance(document, dict) and document.get("type") == "error"
    if is_anthropic and kind in OPENAI_TYPES:
        kind, mapped = OPENAI_TYPES[kind]
        code = code or mapped
    if not kind:
        kind = "invalid_request_error" if 400 <= status < 500 else "server_error"
    message = message or f"upstream error (HTTP {status})"
    return {"error": {"message": message, "type": kind, "code": code, "param": param}}


def anthropic_error(status: int, document: Any) -> dict[str, Any]:
    """Any error document as Anthropic's."""
    message, kind, _, _ = error_parts(document)
    if kind not in OPENAI_TYPES:
        kind = ANTHROPIC_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
    return {"type": "error", "error": {"type": kind, "message": message or f"upstream error (HTTP {status})"}}


def error_document(caller_api: str, status: int, document: Any) -> dict[str, Any]:
    """An upstream's error document in the caller's API shape."""
    return anthropic_error(status, document) if caller_api == "messages" else openai_error(status, document)


def translation_error_document(caller_api: str, error: TranslationError) -> dict[str, Any]:
    """The 400 a caller gets for a request its endpoint's API cannot express."""
    if caller_api == "messages":
        return {"type": "error", "error": {"type": "invalid_request_error", "message": error.message}}
    return {
        "error": {
            "message": error.message,
            "type": "invalid_request_error",
            "code": "unsupported_by_translation",
            "param": error.param,
        }
    }
