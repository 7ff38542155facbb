"""`translator_for(caller, wire, body, created)`: the translation of one attempt, both ways.

    caller     wire       request                       answer / stream / error
    chat       messages   chat_anthropic                chat_anthropic, anthropic_events, OpenAI shape
    messages   chat       anthropic_chat                anthropic_chat, chat_events, Anthropic shape
    responses  chat       responses_chat                responses_chat, responses_events, OpenAI shape
    responses  messages   responses_chat, then          chat_anthropic, then responses_chat;
                          chat_anthropic                anthropic_events piped into responses_events
One translator serves one attempt (another endpoint of the chain may speak another API): it keeps the
caller's body, which a Response echoes, and the time a translated answer says it was created.
"""

from __future__ import annotations

from typing import Any

from . import anthropic_chat, chat_anthropic, responses_chat
from .anthropic_events import AnthropicToChat
from .chat_events import ChatToAnthropic
from .failures import error_document
from .responses_events import ChatToResponses
from .streams import Event, StreamTranslator

PAIRS = frozenset(
    {("chat", "messages"), ("messages", "chat"), ("responses", "chat"), ("responses", "messages")}
)


class Piped:
    """Two stream translators in a row (Messages events -> chat chunks -> Responses events)."""

    def __init__(self, first: StreamTranslator, second: StreamTranslator) -> None:
        self.first = first
        self.second = second

    def feed(self, name: str, data: Any) -> list[Event]:
        return [out for middle in self.first.feed(name, data) for out in self.second.feed(*middle)]


class Translator:
    """Caller API <-> wire API for one attempt (see the module docstring)."""

    def __init__(self, caller: str, wire: str, body: dict[str, Any], *, created: int) -> None:
        assert (caller, wire) in PAIRS, (caller, wire)
        self.caller = caller
        self.wire = wire
        self.body = body
        self.created = created

    def request(self, *, max_tokens: int) -> dict[str, Any]:
        """The caller's body in the wire API; `max_tokens`: the output cap Messages requires by default."""
        if self.caller == "messages":
            return anthropic_chat.chat_request(self.body)
        if self.caller == "chat":
            return chat_anthropic.anthropic_request(self.body, max_tokens=max_tokens)
        chat = responses_chat.chat_request(self.body)
        return chat if self.wire == "chat" else chat_anthropic.anthropic_request(chat, max_tokens=max_tokens)

    def answer(self, document: dict[str, Any]) -> dict[str, Any]:
        """The endpoint's JSON answer in the caller's API."""
        if self.caller == "messages":
            return anthropic_chat.anthropic_message(document)
        completion = (
            chat_anthropic.chat_completion(document, created=self.created)
            if self.wire == "messages"
            else document
        )
        if self.caller == "chat":
            return completion
        return responses_chat.response_of(completion, self.body, created=self.created)

    def error(self, status: int, document: Any) -> dict[str, Any]:
        """The endpoint's error document in the caller's API shape."""
        return error_document(self.caller, status, document)

    def stream(self, *, prompt_tokens: int) -> StreamTranslator:
        """A translator for the endpoint's stream; `prompt_tokens`: the estimate when no usage comes."""
        if self.caller == "messages":
            return ChatToAnthropic(prompt_tokens=prompt_tokens)
        if self.caller == "chat":
            options = self.body.get("stream_options")
            wants = isinstance(options, dict) and options.get("include_usage") is True
            return AnthropicToChat(created=self.created, include_usage=wants)
        responses = ChatToResponses(self.body, created=self.created, prompt_tokens=prompt_tokens)
        if self.wire == "chat":
            return responses
        return Piped(AnthropicToChat(created=self.created, include_usage=True), responses)


def translator_for(caller: str, wire: str, body: dict[str, Any], *, created: int) -> Translator | None:
    """The translator of an attempt whose endpoint speaks `wire` to a caller of `caller` (None: same API)."""
    return None if caller == wire else Translator(caller, wire, body, created=created)
