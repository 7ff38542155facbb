"""`Http1Pool`, the lean client of answers read whole, against a scripted HTTP server on loopback.

The server is a bare `asyncio` one, so each test says byte for byte what the upstream answers and sees
what the client sent; it counts connections, which is how reuse is observed. looptime's fake clock
drives the idle expiry.
"""

from __future__ import annotations

import asyncio
import gzip
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import aiohttp
import pytest

from switchboard_proxy.execution.http1 import MAX_ERROR_BODY, USER_AGENT, Http1Pool, parse_target

pytestmark = pytest.mark.looptime

Answerer = Callable[[bytes], bytes | None]  # the request's bytes -> what to send (None: close instead)


def answer(body: bytes, *, status: str = "200 OK", headers: str = "") -> bytes:
    length = f"Content-Length: {len(body)}\r\n" if "Transfer-Encoding" not in headers else ""
    return f"HTTP/1.1 {status}\r\n{length}{headers}\r\n".encode() + body


@dataclass
class Upstream:
    """A loopback HTTP/1.1 server that answers each request with `answerer`'s bytes."""

    answerer: Answerer
    connections: int = 0
    requests: list[bytes] = field(default_factory=list)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1/chat/completions"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                length = next(
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.startswith(b"Content-Length")
                )
                request = head + await reader.readexactly(length)
                self.requests.append(request)
                reply = self.answerer(request)
                if reply is None:
                    break
                writer.write(reply)
                await writer.drain()
                if b"Connection: close" in reply:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Answerer], Upstream]]:
    servers: list[asyncio.Server] = []

    async def start(answerer: Answerer) -> Upstream:
        upstream = Upstream(answerer)
        server = await asyncio.start_server(upstream.handle, "127.0.0.1", 0)
        upstream.port = server.sockets[0].getsockname()[1]
        servers.append(server)
        return upstream

    yield start  # type: ignore[misc]
    for server in servers:
        server.close()


@pytest.fixture
async def pool() -> AsyncIterator[Http1Pool]:
    client = Http1Pool()
    yield client
    await client.close()


HEADERS = {"Content-Type": "application/json", "Authorization": "Bearer k"}


async def test_keep_alive_connections_are_reused_and_the_request_is_well_formed(serve, pool) -> None:
    upstream = await serve(lambda request: answer(b'{"ok": 1}'))
    for _ in range(3):
        got = await pool.post(upstream.url, HEADERS, b'{"a": 1}', connect_timeout=1)
        assert (got.status, got.body) == (200, b'{"ok": 1}')
    assert upstream.connections == 1
    head, _, body = upstream.requests[0].partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "POST /v1/chat/completions HTTP/1.1"
    assert f"Host: 127.0.0.1:{upstream.port}" in lines
    assert f"User-Agent: {USER_AGENT}" in lines
    assert "Authorization: Bearer k" in lines and "Content-Length: 8" in lines
    assert body == b'{"a": 1}'


async def test_concurrent_requests_each_get_a_connection_then_share_them(serve, pool) -> None:
    upstream = await serve(lambda request: answer(b"{}"))
    await asyncio.gather(*(pool.post(upstream.url, HEADERS, b"{}", connect_timeout=1) for _ in range(4)))
    await asyncio.gather(*(pool.post(upstream.url, HEADERS, b"{}", connect_timeout=1) for _ in range(4)))
    assert upstream.connections == 4


async def test_connection_close_answers_are_not_reused(serve, pool) -> None:
    upstream = await serve(lambda request: answer(b"{}", headers="Connection: close\r\n"))
    for _ in range(2):
        assert (await pool.post(upstream.url, HEADERS, b"{}", connect_timeout=1)).status == 200
    assert upstream.connections == 2


async def test_chunked_gzip_and_eof_delimited_answers_are_read_whole(serve, pool) -> None:
    packed = gzip.compress(b'{"zipped": true}')
    replies = iter(
        [
            answer(b'7\r\n{"a": 1\r\n1\r\n}\r\n0\r\n\r\n', headers="Transfer-Encoding: chunked\r\n"),
            answer(packed, headers="Content-Encoding: gzip\r\n"),
            b'HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{"until": "eof"}',
        ]
    )
    upstream = await serve(lambda request: next(replies))
    bodies = [(await pool.post(upstream.url, HEADERS, b"{}", connect_timeout=1)).body for _ in range(3)]
    assert bodies == [b'{"a": 1}', b'{"zipped": true}', b'{"until": "eof"}']


async def test_interim_answers_are_skipped(serve, pool) -> None:
    upstream = await serve(lambda request: b"HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n" + answer(b"{}"))
    got = await pool.post(upstream.url, HEADERS, b"{}", connect_timeout=1)
    assert (got.status, got.body, "Link" in got.headers) == (200, b"{}", False)


async def test_error_answers_keep_only_their_head_and_headers_are_case_insensitive(serve, pool) -> None:
    big = b"x" * (MAX_ERROR_BODY * 2)
    upstream = await serve(lambda request: answer(big, status="503 Busy", headers="retry-after: 3\r\n"))
    got = await pool.post(upstream.url, HEADERS, b"{}", connect_timeout=1)
    assert got.status == 503 and len(got.body) == MAX_ERROR_BODY
    assert got.headers["Retry-After"] == "3"
    await pool.post(upstream.url, HEADERS, b"{}", connect_timeout=1)
    assert upstream.connections == 1  # the truncated answer was still read to its end


async def test_a_connection_closed_without_an_answer_is_a_client_error_and_is_dropped(serve, pool) -> None:
    replies = iter([None, answer(b"{}")])
    upstream = await serve(lambda request: next(replies))
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await pool.post(upstream.url, HEADERS, b"{}", connect_timeout=1)
    assert (await pool.post(upstream.url, HEADERS, b"{}", connect_timeout=1)).status == 200
    assert upstream.connections == 2


async def test_a_timed_out_request_closes_its_connection(serve, pool) -> None:
    stalls = iter([True, False])

    def answerer(request: bytes) -> bytes | None:
        return b"" if next(stalls) else answer(b"{}")  # nothing at all: the client times out

    upstream = await serve(answerer)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(5):
            await pool.post(upstream.url, HEADERS, b"{}", connect_timeout=1)
    assert (await pool.post(upstream.url, HEADERS, b"{}", connect_timeout=1)).status == 200
    assert upstream.connections == 2  # the stalled one was not handed out again


async def test_idle_connections_expire(serve) -> None:
    upstream = await serve(lambda request: answer(b"{}"))
    pool = Http1Pool(keepalive_seconds=30)
    try:
        await pool.post(upstream.url, HEADERS, b"{}", connect_timeout=1)
        await asyncio.sleep(10)
        await pool.post(upstream.url, HEADERS, b"{}", connect_timeout=1)
        assert upstream.connections == 1
        await asyncio.sleep(31)
        await pool.post(upstream.url, HEADERS, b"{}", connect_timeout=1)
        assert upstream.connections == 2
    finally:
        await pool.close()


async def test_refused_and_timed_out_connects_raise_what_aiohttp_raises(serve, pool) -> None:
    upstream = await serve(lambda request: answer(b"{}"))
    with pytest.raises(aiohttp.ConnectionTimeoutError):
        await pool.post(upstream.url, HEADERS, b"{}", connect_timeout=0)
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]  # closed again below: nothing listens there
    with pytest.raises(ConnectionRefusedError):
        await pool.post(f"http://127.0.0.1:{port}/v1", HEADERS, b"{}", connect_timeout=1)


async def test_malformed_answers_are_a_payload_error(serve, pool) -> None:
    upstream = await serve(lambda request: b"SMTP ready\r\n\r\n")
    with pytest.raises(aiohttp.ClientPayloadError):
        await pool.post(upstream.url, HEADERS, b"{}", connect_timeout=1)


async def test_header_injection_is_refused_before_anything_is_sent(serve, pool) -> None:
    upstream = await serve(lambda request: answer(b"{}"))
    for evil in ("v\r\nX-Evil: 1", "v\nX-Evil: 1", "v\rX"):
        with pytest.raises(ValueError, match="line break"):
            await pool.post(upstream.url, {"X-Id": evil}, b"{}", connect_timeout=1)
    assert upstream.requests == []


@pytest.mark.parametrize(
    ("url", "key", "head"),
    [
        ("http://h/v1/x", ("h", 80, False), "POST /v1/x HTTP/1.1\r\nHost: h\r\n"),
        (
            "https://api.example.com/v1/x?a=1",
            ("api.example.com", 443, True),
            "POST /v1/x?a=1 HTTP/1.1\r\nHost: api.example.com\r\n",
        ),
        ("http://[::1]:8000/v1", ("::1", 8000, False), "POST /v1 HTTP/1.1\r\nHost: [::1]:8000\r\n"),
    ],
)
def test_targets(url: str, key: tuple[str, int, bool], head: str) -> None:
    target = parse_target(url)
    assert target.key == key
    assert target.head.decode().startswith(head)


@pytest.mark.parametrize("url", ["ftp://h/x", "http:///x", "unix:/tmp/s"])
def test_targets_refused(url: str) -> None:
    with pytest.raises(ValueError):
        parse_target(url)
