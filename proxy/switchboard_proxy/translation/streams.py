"""What the stream translators exchange: decoded SSE events, one `(name, data)` pair each.

OpenAI chat chunks have no event name (`""`) and end with `DONE`; Anthropic and Responses events carry
their type as the name. The executor decodes the upstream's bytes into these pairs and encodes the
translated pairs back into SSE (with an `event:` line for Messages and Responses, which their SDKs
dispatch on). A translator is fed every upstream event in order and returns the events to send.
"""

from __future__ import annotations

from typing import Any, Protocol

Event = tuple[str, Any]
DONE = "[DONE]"  # the data of the chat stream's last event


class StreamTranslator(Protocol):
    """Stateful: one per stream."""

    def feed(self, name: str, data: Any) -> list[Event]:
        """The caller's events for one upstream event (often none, sometimes several)."""
        ...


def chunk_of(data: Any) -> dict[str, Any] | None:
    """A chat chunk's data as a dict (None for DONE or anything malformed)."""
    return data if isinstance(data, dict) else None
