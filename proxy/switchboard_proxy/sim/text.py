"""Deterministic text, token counts and embeddings for `switchboard-sim`.

Where it sits: the OpenAI and Anthropic handlers call these pure functions to size the prompt, decide how
many tokens to emit (and whether `max_tokens` cut them short) and produce the words and vectors. The same
inputs always give the same outputs, so tests and benchmarks can assert on exact text and usage.
"""

from __future__ import annotations

import base64
import hashlib
import math
import struct
from collections.abc import Iterable
from typing import Any

# One short word is one token; a fixed vocabulary keeps output reproducible and easy to read.
VOCABULARY = (
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel",
    "india", "juliet", "kilo", "lima", "mike", "november", "oscar", "papa",
    "quebec", "romeo", "sierra", "tango", "uniform", "victor", "whiskey", "xray",
    "yankee", "zulu",
)  # fmt: skip


def estimate_tokens(text: str) -> int:
    """Tokens in `text`, estimated as ceil(chars / 4) like most proxies do before calling a model."""
    return math.ceil(len(text) / 4)


def collect_text(value: Any) -> Iterable[str]:
    """Yield every piece of text inside a message content, prompt or input value.

    Handles plain strings, lists of strings and content-part lists (`{"type": "text", "text": ...}`) of
    both APIs, and nested message lists; token-id lists count one character per id (crude but stable).
    """
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from collect_text(item)
    elif isinstance(value, dict):
        for key in ("text", "content"):
            if key in value:
                yield from collect_text(value[key])
    elif isinstance(value, int) and not isinstance(value, bool):
        yield "x"


def estimate_prompt_tokens(*values: Any) -> int:
    """Estimated tokens of all text in `values` (messages, system, prompt or input)."""
    return estimate_tokens("".join(text for value in values for text in collect_text(value)))


def plan_output(*, output_tokens: int, max_tokens: int | None) -> tuple[int, bool]:
    """How many tokens to emit, and whether `max_tokens` cut the output short (finish_reason length)."""
    if max_tokens is not None and max_tokens < output_tokens:
        return max(max_tokens, 0), True
    return output_tokens, False


def output_pieces(count: int, *, seed: int = 0) -> list[str]:
    """The output as `count` stream deltas: "alpha", " bravo", ...; joined they give the full text."""
    start = seed % len(VOCABULARY)
    words = [VOCABULARY[(start + i) % len(VOCABULARY)] for i in range(count)]
    return [word if i == 0 else " " + word for i, word in enumerate(words)]


def embedding_vector(text: str, *, dims: int, seed: int = 0) -> list[float]:
    """A unit-length vector of `dims` floats derived from a hash of `text` and `seed`."""
    raw: list[float] = []
    counter = 0
    while len(raw) < dims:
        digest = hashlib.blake2b(f"{seed}:{counter}:{text}".encode(), digest_size=64).digest()
        raw.extend((value / 32767.5) - 1.0 for value in struct.unpack("<32H", digest))
        counter += 1
    vector = raw[:dims]
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    # Round through float32 so the float and base64 encodings carry the same numbers.
    return list(struct.unpack(f"<{dims}f", struct.pack(f"<{dims}f", *(v / norm for v in vector))))


def encode_base64_floats(vector: list[float]) -> str:
    """The OpenAI `encoding_format: base64` form: little-endian float32, base64-encoded."""
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")
