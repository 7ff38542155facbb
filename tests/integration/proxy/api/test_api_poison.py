"""The poison inputs a hostile-client campaign found (issue 13), each with its exact reproducer: what used
to get a 500 with a traceback, or worse, now gets a clear 4xx in the caller's API shape with a request
id, and leaves no traceback in the log.

1 deep JSON; 2 a body that does not decompress; 3 and 4 header bytes that are no UTF-8; 5 a real 500 is
counted as 500 (server/test_recording.py, it needs a bug to provoke); 6 client mistakes do not stop
experiment variants; 7 shadows of requests the shadow cannot serve; 8 the smaller ones.
"""

from __future__ import annotations

import json
import socket
import time
import zlib
from collections.abc import Iterator
from typing import Any

import pytest

from support import rawhttp
from support.processes import Process
from support.stack import Stack, endpoint, route, start_proxy, write_resources
from support.waiting import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

HELLO = [{"role": "user", "content": "hi"}]
EXPERIMENT = {
    "name": "x",
    "stickyBy": "user",
    "variants": [{"name": "control", "weight": 50}, {"name": "candidate", "weight": 50}],
    "guardrails": {"maxErrorRate": 0.05, "minRequests": 20},
}


@pytest.fixture(scope="module")
def poison(sim: Process, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    documents = [
        endpoint("chat-a", sim.base_url, capabilities=["streaming"]),
        endpoint("claude-ep", sim.base_url, provider="anthropic"),
        endpoint("emb", sim.base_url, capabilities=["embeddings"]),
        route(
            "chat",
            ["chat-a"],
            default=True,
            experiment=EXPERIMENT,
            shadow={"endpoint": "chat-a", "percent": 100},
        ),
        route("claude", ["claude-ep"], shadow={"endpoint": "chat-a", "percent": 100}),
        route("embed", ["emb"]),
        route("chat-shadowed-by-embeddings", ["chat-a"], shadow={"endpoint": "emb", "percent": 100}),
    ]
    resources = write_resources(tmp_path_factory.mktemp("poison"), documents)
    proxy = start_proxy(resources=resources)
    try:
        yield Stack(sim=sim, proxy=proxy, resources=resources)
    finally:
        proxy.stop()


TOOL = {"type": "function", "function": {"name": "add", "parameters": {"type": "object"}}}


def refused(reply: rawhttp.RawReply, status: int, *, anthropic: bool = False) -> dict[str, Any]:
    """A refusal in the right shape, with a request id and nothing of a traceback."""
    assert reply.status == status, reply.body
    assert len(reply.headers.get("x-request-id", "")) >= 16, reply.headers
    assert b"Traceback" not in reply.body
    document: dict[str, Any] = json.loads(reply.body)
    assert (document.get("type") == "error") is anthropic, document
    assert document["error"]["message"]
    return document


def assert_clean_log(stack: Stack) -> None:
    log = stack.proxy.log_text()
    assert "Traceback" not in log and "Task exception was never retrieved" not in log, log[-3000:]
    assert '"status":500' not in log


def nested(depth: int) -> str:
    """JSON text of objects nested `depth` deep (built as text: encoders stop far earlier)."""
    return '{"k":' * (depth - 1) + '"x"' + "}" * (depth - 1)


@pytest.mark.parametrize("depth", [254, 300, 600, 1000])
@pytest.mark.parametrize(("path", "anthropic"), [("/v1/chat/completions", False), ("/v1/messages", True)])
def test_1_deep_json_is_a_400_naming_the_limit(poison: Stack, depth: int, path: str, anthropic: bool) -> None:
    body = {"model": "claude" if anthropic else "chat", "max_tokens": 5, "messages": HELLO}
    text = json.dumps(body)[:-1] + ', "metadata": ' + nested(depth) + "}"
    reply = rawhttp.raw_exchange(poison.url, rawhttp.request_bytes(path, text.encode()))
    document = refused(reply, 400, anthropic=anthropic)
    assert document["error"]["code"] == "too_deeply_nested" and "128 levels" in document["error"]["message"]
    assert_clean_log(poison)


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_2_a_body_that_does_not_decompress_is_a_400(poison: Stack, encoding: str) -> None:
    request = rawhttp.request_bytes(
        "/v1/chat/completions",
        b"this is not " + encoding.encode(),
        headers={"Content-Encoding": encoding.encode()},
    )
    document = refused(rawhttp.raw_exchange(poison.url, request), 400)
    assert document["error"]["code"] == "invalid_body"
    good = zlib.compress(json.dumps({"model": "chat", "messages": HELLO}).encode())
    request = rawhttp.request_bytes("/v1/chat/completions", good, headers={"Content-Encoding": b"deflate"})
    assert rawhttp.raw_exchange(poison.url, request).status == 200  # a body that does decompress is fine
    assert_clean_log(poison)


@pytest.mark.parametrize("header", ["X-Switchboard-User", "X-Switchboard-Route", "X-Switchboard-Task"])
def test_3_4_header_bytes_that_are_no_utf8_are_a_400(poison: Stack, header: str) -> None:
    body = json.dumps({"model": "chat", "messages": HELLO}).encode()
    request = rawhttp.request_bytes("/v1/chat/completions", body, headers={header: b"\xff\xfe-user"})
    document = refused(rawhttp.raw_exchange(poison.url, request), 400)
    assert document["error"]["code"] == "invalid_header" and document["error"]["param"] == header
    request = rawhttp.request_bytes(
        "/v1/messages", body, headers={header: b"caf\xc3\xa9-\xc3", "anthropic-version": b"2023-06-01"}
    )
    refused(rawhttp.raw_exchange(poison.url, request), 400, anthropic=True)
    assert_clean_log(poison)


def test_6_requests_no_endpoint_could_serve_do_not_stop_experiment_variants(poison: Stack) -> None:
    # The campaign's reproducer: 450 requests the route cannot serve (it had Anthropic messages on an
    # OpenAI route, which translation now serves; here embeddings, and tools on a route without them),
    # which used to stop both variants.
    for index in range(450):
        body = (
            {"model": "chat", "input": "x"}
            if index % 2
            else {"model": "chat", "messages": HELLO, "tools": [TOOL]}
        )
        path = "/v1/embeddings" if index % 2 else "/v1/chat/completions"
        reply = rawhttp.raw_exchange(poison.url, rawhttp.request_bytes(path, json.dumps(body).encode()))
        assert reply.status == 400, reply.body
    for variant in ("control", "candidate"):
        assert poison.metric("switchboard_variant_stopped", route="chat", variant=variant) == 0
    assert poison.openai().chat.completions.create(model="chat", messages=HELLO).choices


def test_7_shadows_only_of_served_requests_and_in_the_shadows_protocol(poison: Stack) -> None:
    mirrored = poison.sim_stats().get("chat-a", {}).get("requests", 0)
    # Served Anthropic messages, mirrored to an OpenAI endpoint: translated to its protocol (this used to
    # die with KeyError('messages') in the mirror task).
    poison.anthropic().messages.create(model="claude", max_tokens=5, messages=HELLO)
    wait_until(
        lambda: poison.metric("switchboard_shadow_requests_total", route="claude", outcome="success") == 1,
        timeout=5,
        what="the translated shadow to succeed",
    )
    assert poison.sim_stats()["chat-a"]["requests"] == mirrored + 1
    # A served chat call whose shadow serves only embeddings: skipped, and counted as such.
    poison.openai().chat.completions.create(model="chat-shadowed-by-embeddings", messages=HELLO)
    wait_until(
        lambda: (
            poison.metric(
                "switchboard_shadow_requests_total", route="chat-shadowed-by-embeddings", outcome="unservable"
            )
            == 1
        ),
        timeout=5,
        what="the unservable shadow to be counted",
    )
    # A refused request is never mirrored.
    before = poison.sim_stats()["chat-a"]["requests"]
    shadows = poison.metric("switchboard_shadow_requests_total", route="chat", outcome="success")
    reply = rawhttp.raw_exchange(
        poison.url,
        rawhttp.request_bytes("/v1/embeddings", json.dumps({"model": "chat", "input": "x"}).encode()),
    )
    assert reply.status == 400
    assert poison.metric("switchboard_shadow_requests_total", route="chat", outcome="success") == shadows
    assert poison.sim_stats()["chat-a"]["requests"] == before
    assert_clean_log(poison)


@pytest.mark.parametrize(
    ("path", "body", "param"),
    [
        pytest.param(
            "/v1/chat/completions",
            {"messages": [{"role": "user", "content": "x" * 400_000}]},
            "messages",
            id="chat",
        ),
        pytest.param("/v1/completions", {"prompt": "x" * 400_000}, "prompt", id="completions"),
        pytest.param("/v1/embeddings", {"input": "x" * 400_000}, "input", id="embeddings"),
    ],
)
def test_8_context_length_names_the_apis_own_field(
    poison: Stack, path: str, body: dict[str, Any], param: str
) -> None:
    model = "embed" if path.endswith("embeddings") else "chat"
    reply = rawhttp.raw_exchange(
        poison.url, rawhttp.request_bytes(path, json.dumps({"model": model, **body}).encode())
    )
    document = refused(reply, 400)
    assert document["error"]["code"] == "context_length_exceeded" and document["error"]["param"] == param


def test_8_completions_are_not_served_by_an_embedding_model(poison: Stack) -> None:
    body = json.dumps({"model": "embed", "prompt": "def f():"}).encode()
    document = refused(rawhttp.raw_exchange(poison.url, rawhttp.request_bytes("/v1/completions", body)), 400)
    assert document["error"]["code"] == "unsupported_by_route"
    assert "an embedding model cannot serve completions" in document["error"]["message"]


@pytest.mark.parametrize(("path", "anthropic"), [("/v1/chat/completions", False), ("/v1/messages", True)])
def test_8_parser_errors_carry_a_request_id_and_the_apis_shape(
    poison: Stack, path: str, anthropic: bool
) -> None:
    huge = b"x" * 9000
    request = f"POST {path} HTTP/1.1\r\nHost: s\r\nX-Big: ".encode() + huge + b"\r\n\r\n"
    reply = rawhttp.raw_exchange(poison.url, request)
    refused(reply, 431, anthropic=anthropic)
    many = b"".join(b"X-F%d: v\r\n" % i for i in range(120))
    reply = rawhttp.raw_exchange(poison.url, f"POST {path} HTTP/1.1\r\nHost: s\r\n".encode() + many + b"\r\n")
    assert reply.status in (400, 431) and reply.headers.get("x-request-id")


def test_8_heads_over_32_kib_together_are_refused(poison: Stack) -> None:
    body = json.dumps({"model": "chat", "messages": HELLO}).encode()
    headers = {f"X-Pad-{i}": b"p" * 8000 for i in range(5)}  # each field is fine, together they are not
    document = refused(
        rawhttp.raw_exchange(
            poison.url, rawhttp.request_bytes("/v1/chat/completions", body, headers=headers)
        ),
        431,
    )
    assert document["error"]["code"] == "headers_too_large"


def test_8_an_expectation_other_than_100_continue_is_a_json_417(poison: Stack) -> None:
    body = json.dumps({"model": "chat", "messages": HELLO}).encode()
    request = rawhttp.request_bytes("/v1/chat/completions", body, headers={"Expect": b"200-ok"})
    document = refused(rawhttp.raw_exchange(poison.url, request), 417)
    assert document["error"]["code"] == "expectation_failed"
    request = rawhttp.request_bytes("/v1/chat/completions", body, headers={"Expect": b"100-continue"})
    assert rawhttp.raw_exchange(poison.url, request).status == 200


def test_8_a_client_that_never_finishes_its_head_is_cut_off(poison: Stack) -> None:
    host, port = poison.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        started = time.monotonic()
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: s\r\n")
        for _ in range(30):  # one more header line every half second, never the blank line
            try:
                sock.sendall(b"X-Slow: 1\r\n")
                if sock.recv(1, socket.MSG_DONTWAIT) == b"":
                    break
            except BlockingIOError:
                pass
            except OSError:
                break
            time.sleep(0.5)
        waited = time.monotonic() - started
    assert 9 <= waited <= 14, waited  # HEAD_SECONDS is 10
