"""Deterministic output of switchboard-sim: token estimates, words, the max_tokens cut, embeddings."""

from __future__ import annotations

import array
import base64
import math

import pytest

from switchboard_proxy.sim.text import (
    embedding_vector,
    encode_base64_floats,
    estimate_prompt_tokens,
    estimate_tokens,
    output_pieces,
    plan_output,
)


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        pytest.param("", 0, id="empty"),
        pytest.param("abc", 1, id="under-four"),
        pytest.param("abcd", 1, id="exactly-four"),
        pytest.param("abcde", 2, id="rounds-up"),
        pytest.param("x" * 400, 100, id="long"),
    ],
)
def test_estimate_tokens_is_ceil_chars_over_four(text: str, tokens: int) -> None:
    assert estimate_tokens(text) == tokens


def test_prompt_estimate_reads_every_message_shape() -> None:
    messages = [
        {"role": "system", "content": "abcd"},
        {
            "role": "user",
            "content": [{"type": "text", "text": "efgh"}, {"type": "image_url", "image_url": {}}],
        },
        {"role": "assistant", "content": "ij"},
    ]
    # 4 + 4 + 2 characters of text, counted together: ceil(10 / 4).
    assert estimate_prompt_tokens(messages) == 3
    assert estimate_prompt_tokens("abcd", [{"role": "user", "content": "abcd"}]) == 2, (
        "Anthropic system + messages"
    )
    assert estimate_prompt_tokens(None, ["ab", "cd"]) == 1


@pytest.mark.parametrize(
    ("output_tokens", "max_tokens", "expected"),
    [
        pytest.param(16, None, (16, False), id="no-cap"),
        pytest.param(16, 100, (16, False), id="cap-above"),
        pytest.param(16, 16, (16, False), id="cap-equal-is-not-length"),
        pytest.param(16, 5, (5, True), id="cap-below-is-length"),
        pytest.param(16, 0, (0, True), id="zero-cap"),
    ],
)
def test_plan_output(output_tokens: int, max_tokens: int | None, expected: tuple[int, bool]) -> None:
    assert plan_output(output_tokens=output_tokens, max_tokens=max_tokens) == expected


def test_output_pieces_are_one_word_per_token_and_deterministic() -> None:
    pieces = output_pieces(4)
    assert pieces == ["alpha", " bravo", " charlie", " delta"]
    assert output_pieces(4) == pieces
    assert output_pieces(2, seed=1) == ["bravo", " charlie"], "the seed shifts the words"
    assert len(output_pieces(60)) == 60, "the vocabulary wraps around"
    assert output_pieces(0) == []


def test_embedding_vectors_are_deterministic_unit_vectors() -> None:
    vector = embedding_vector("hello", dims=8)
    assert len(vector) == 8
    assert vector == embedding_vector("hello", dims=8)
    assert vector != embedding_vector("world", dims=8)
    assert vector != embedding_vector("hello", dims=8, seed=1)
    assert math.isclose(math.sqrt(sum(v * v for v in vector)), 1.0, rel_tol=1e-5)
    assert len(embedding_vector("hello", dims=1536)) == 1536


def test_base64_encoding_round_trips_as_float32() -> None:
    vector = embedding_vector("hello", dims=5)
    decoded = array.array("f", base64.b64decode(encode_base64_floats(vector))).tolist()
    assert decoded == vector
