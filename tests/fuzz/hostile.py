"""Hypothesis strategies for a hostile client: each draws one `Probe`, raw bytes for one connection.

Three families, each with its own ways to be wrong:
- bodies, for every model API: plausible requests with one field of the wrong type (or missing), JSON
  nested a thousand deep, huge strings, lone surrogates, NaN and Infinity, duplicate keys, top levels
  that are no object, truncated or non-UTF-8 text;
- headers: the hint headers with bytes that are no UTF-8, control characters, CR/LF injection, huge
  values, hundreds of fields, duplicate or lying Content-Length, odd request ids and content types;
- the connection itself: bodies shorter or longer than they say, broken chunking, corrupt compression,
  pipelined requests, clients that dribble, request lines that are no HTTP.
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

from hypothesis import strategies as st

from support.rawhttp import request_bytes

APIS = {
    "/v1/chat/completions": "chat",
    "/v1/completions": "completions",
    "/v1/embeddings": "embeddings",
    "/v1/messages": "messages",
    "/v1/responses": "responses",
}
ROUTES = ["chat", "tab-completion", "edit", "agent", "claude", "embeddings", "no-such-route"]
HINTS = [
    "X-Switchboard-Route",
    "X-Switchboard-Task",
    "X-Switchboard-User",
    "X-Switchboard-Priority",
    "X-Switchboard-Deadline-Ms",
    "X-Switchboard-Session",
    "X-Request-Id",
    "anthropic-version",
    "anthropic-beta",
]
FIELDS = [
    "model",
    "messages",
    "prompt",
    "input",
    "stream",
    "max_tokens",
    "max_completion_tokens",
    "n",
    "tools",
    "functions",
    "response_format",
    "stream_options",
    "system",
    "user",
    "metadata",
    "temperature",
    "stop",
    "instructions",
    "previous_response_id",
    "store",
    "background",
    "max_output_tokens",
]


class Probe(NamedTuple):
    """What to send on one connection, and how."""

    category: str
    path: str
    raw: bytes
    dribble: bool = False  # send a few bytes at a time, with short pauses
    half_close: bool = False  # shut the write side after sending: the server sees the body end early


json_leaves = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_leaves,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=10,
)


def plausible(path: str, route: str, stream: bool, text: str = "") -> dict[str, Any]:
    """A request the route might well serve (`text` makes each one its own)."""
    api = APIS[path]
    prompt = "def add(a, b): " + text
    body: dict[str, Any] = {"model": route}
    if api in ("chat", "messages"):
        body["messages"] = [{"role": "user", "content": prompt}]
    if api == "messages":
        body["max_tokens"] = 16
    if api == "completions":
        body["prompt"] = prompt
    if api in ("embeddings", "responses"):
        body["input"] = prompt
    if api != "embeddings" and stream:
        body["stream"] = True
    return body


# Some text of each probe's own: hypothesis draws every case only once, so without it the families with
# few ways to be wrong would be sent a handful of times in a long campaign.
own_text = st.text(max_size=30)


@st.composite
def body_probes(draw: st.DrawFn) -> Probe:
    path = draw(st.sampled_from(list(APIS)))
    body = plausible(path, draw(st.sampled_from(ROUTES)), draw(st.booleans()), draw(own_text))
    how = draw(
        st.sampled_from(
            [
                "plausible",
                "wrong-type",
                "missing",
                "deep",
                "huge",
                "surrogate",
                "nan",
                "duplicate-keys",
                "top-level",
                "truncated",
                "not-utf8",
            ]
        )
    )
    if how == "wrong-type":
        body[draw(st.sampled_from(FIELDS))] = draw(json_values)
    elif how == "missing":
        body.pop(draw(st.sampled_from(sorted(body))), None)
    text = json.dumps(body)
    if how == "deep":
        depth = draw(st.integers(100, 1200))
        open_, close = draw(st.sampled_from([('{"k":', "}"), ("[", "]")]))
        text = text[:-1] + ', "metadata": ' + open_ * depth + "1" + close * depth + "}"
    elif how == "huge":
        text = text[:-1] + ', "user": "' + "u" * draw(st.integers(10_000, 400_000)) + '"}'
    elif how == "surrogate":
        text = (
            text.replace("def add", "def \\ud800add", 1)
            if "def add" in text
            else text[:-1] + ', "user": "\\udfff"}'
        )
    elif how == "nan":
        text = text[:-1] + ', "temperature": ' + draw(st.sampled_from(["NaN", "Infinity", "-Infinity"])) + "}"
    elif how == "duplicate-keys":
        text = text[:-1] + ', "model": ' + json.dumps(draw(json_values)) + "}"
    elif how == "top-level":
        text = json.dumps(draw(json_values))
    elif how == "truncated":
        text = text[: draw(st.integers(0, max(0, len(text) - 1)))]
    raw = text.encode("utf-8", "surrogatepass")
    if how == "not-utf8":
        raw = raw.replace(b"def", b"d\xff\xfe", 1)
    return Probe(f"body:{how}", path, request_bytes(path, raw))


@st.composite
def header_probes(draw: st.DrawFn) -> Probe:
    path = draw(st.sampled_from(list(APIS)))
    raw_body = json.dumps(plausible(path, draw(st.sampled_from(ROUTES)), False, draw(own_text))).encode()
    how = draw(
        st.sampled_from(
            ["not-utf8", "control", "crlf", "huge", "many", "content-length", "content-type", "request-id"]
        )
    )
    name = draw(st.sampled_from(HINTS))
    headers: dict[str, bytes] = {}
    if how == "not-utf8":
        headers[name] = draw(st.sampled_from([b"\xff\xfe", b"caf\xc3", b"\xed\xa0\x80", b"ok\x80"]))
    elif how == "control":
        headers[name] = b"a\x01\x7fb"
    elif how == "crlf":
        headers[name] = b"value\r\nX-Injected: yes"
    elif how == "huge":
        headers[name] = b"h" * draw(st.integers(4_000, 40_000))
    elif how == "many":
        headers |= {f"X-F{i}": b"v" for i in range(draw(st.integers(80, 300)))}
    elif how == "content-length":
        headers["Content-Length"] = draw(st.sampled_from([b"-1", b"abc", b"99999999999999999999", b"5, 5"]))
    elif how == "content-type":
        headers["Content-Type"] = draw(
            st.sampled_from([b"text/plain", b"application/json; charset=\xff", b""])
        )
    else:
        headers["X-Request-Id"] = draw(st.sampled_from([b"", b"a b", b"../../etc", b"x" * 500, b"\xff"]))
    return Probe(f"header:{how}", path, request_bytes(path, raw_body, headers=headers))


@st.composite
def connection_probes(draw: st.DrawFn) -> Probe:
    path = draw(st.sampled_from(list(APIS)))
    body = json.dumps(plausible(path, draw(st.sampled_from(ROUTES)), False, draw(own_text))).encode()
    how = draw(
        st.sampled_from(
            [
                "short-body",
                "long-body",
                "bad-chunks",
                "corrupt-compression",
                "pipelined",
                "dribble",
                "garbage",
                "http10",
                "long-path",
            ]
        )
    )
    if how == "short-body":  # says more than it sends, then stops writing
        return Probe(
            "connection:short-body",
            path,
            request_bytes(path, body, headers={"Content-Length": b"4096"}),
            half_close=True,
        )
    if how == "long-body":  # sends more than it says: the rest looks like the next request
        raw = request_bytes(path, body, headers={"Content-Length": str(len(body) // 2).encode()})
        return Probe("connection:long-body", path, raw)
    if how == "bad-chunks":
        chunk = draw(
            st.sampled_from([b"zz\r\nab\r\n0\r\n\r\n", b"5\r\nab\r\n0\r\n\r\n", b"ffffffffffff\r\n"])
        )
        raw = request_bytes(path, b"", headers={"Transfer-Encoding": b"chunked", "Content-Length": b""})
        raw = raw.replace(b"Content-Length: \r\n", b"") + chunk
        return Probe("connection:bad-chunks", path, raw, half_close=True)
    if how == "corrupt-compression":
        encoding = draw(st.sampled_from([b"gzip", b"deflate", b"br", b"zstd", b"x-unknown"]))
        return Probe(
            "connection:corrupt-compression",
            path,
            request_bytes(path, b"\x1f\x8bnot really", headers={"Content-Encoding": encoding}),
        )
    if how == "pipelined":
        one = request_bytes(path, body, headers={"Connection": b"keep-alive"})
        return Probe("connection:pipelined", path, one + one + request_bytes(path, body))
    if how == "dribble":
        return Probe("connection:dribble", path, request_bytes(path, body), dribble=True)
    if how == "garbage":
        raw = draw(
            st.sampled_from(
                [
                    b"NOT HTTP\r\n\r\n",
                    b"\x16\x03\x01\x02\x00\x01\x00",
                    b"GET\r\n\r\n",
                    b"POST /v1/chat/completions HTTP/9.9\r\nHost: s\r\n\r\n",
                ]
            )
        )
        return Probe("connection:garbage", path, raw)
    if how == "http10":
        return Probe(
            "connection:http10", path, request_bytes(path, body).replace(b"HTTP/1.1", b"HTTP/1.0", 1)
        )
    long_path = path + "/" + "p" * draw(st.integers(2_000, 20_000)) + "%ff"
    return Probe("connection:long-path", long_path, request_bytes(long_path, body))


probes = st.one_of(body_probes(), header_probes(), connection_probes())
