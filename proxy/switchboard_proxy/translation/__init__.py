"""Translation between the model APIs: OpenAI chat completions <-> Anthropic Messages, Responses -> chat.

Pure functions over decoded JSON (no I/O, no clock: the time a translated answer was created is passed
in), used by the executor when an attempt's endpoint speaks another API than the caller
(`routing.protocols.wire_api`). Where it sits in the data flow:

    caller body ──request()──▶ wire body ──▶ endpoint ──▶ wire answer ──answer()──▶ caller answer
                                                      └─▶ wire events ──stream()──▶ caller events
                                                      └─▶ wire error  ──error()───▶ caller error

Modules: `chat_anthropic` (a chat client on an Anthropic endpoint: request and answer),
`anthropic_chat` (an Anthropic client on a chat endpoint), `responses_chat` (a Responses client on a
chat endpoint), the three stream translators `anthropic_events`, `chat_events`, `responses_events`,
`failures` (error documents in each API's shape) and `translators` (the pair for one attempt, composing
Responses -> chat -> Messages for a Responses client on an Anthropic endpoint). What cannot be
translated (n > 1, a document block, a built-in Responses tool, server-side state) raises
`TranslationError`, which the caller gets as a 400 in its own API's shape.
"""

from .failures import TranslationError
from .translators import Translator, translator_for

__all__ = ["TranslationError", "Translator", "translator_for"]
