"""`Http1Pool`: a lean HTTP/1.1 client for attempts answered in JSON, over pooled keep-alive connections.

Why not aiohttp's client, which streams still use: it sits in every request's path, and per request it
costs about four times what this does (65 against 16 µs of CPU at 32 concurrent requests on this
machine; `bench/` measures the whole sidecar). It owes that to what a general client must do (cookies,
redirects, proxies, auth, payload types, tracing) and this never needs: POST a body already serialized,
read one whole answer. The parsing is httptools' (llhttp, as in Node.js and uvicorn), not ours.

- One request at a time per connection, no pipelining. A connection goes back to its pool only after a
  complete answer the server lets it keep; a failed, timed-out or cancelled request closes it.
- Idle connections are reused newest first and closed after `keepalive_seconds`, before a server would.
- The caller bounds the whole request (`asyncio.timeout`); `connect_timeout` bounds a new connection and
  raises aiohttp's ConnectionTimeoutError, so failures classify as aiohttp's do (`classify.py`).
- The request asks for no compression; a gzip or deflate answer is inflated all the same.
- Answers with a status other than 2xx keep only their first `MAX_ERROR_BODY` bytes (enough to classify
  an error, never a runaway body); any answer is refused past `MAX_BODY` bytes, or `MAX_HEAD` of headers.
"""

from __future__ import annotations

import asyncio
import ssl
import zlib
from collections.abc import Mapping
from typing import NamedTuple, cast
from urllib.parse import urlsplit

import aiohttp
import httptools
from multidict import CIMultiDict, CIMultiDictProxy

from .. import __version__

MAX_ERROR_BODY = 64 * 1024
MAX_BODY = 64 * 1024 * 1024
MAX_HEAD = 64 * 1024  # an answer's header fields, all together
DEFAULT_KEEPALIVE_SECONDS = 30.0
USER_AGENT = f"switchboard/{__version__}"
_MAX_TARGETS = 1024  # parsed URLs kept; they come from the config, so this is never reached in practice


class HttpAnswer(NamedTuple):
    """A whole HTTP answer."""

    status: int
    headers: CIMultiDictProxy[str]
    body: bytes


class _Target(NamedTuple):
    """What a URL says about where and how to send: the pool key and the request's first lines."""

    key: tuple[str, int, bool]  # host, port, TLS
    head: bytes  # "POST /path HTTP/1.1\r\nHost: ...\r\n"


class _Connection(asyncio.Protocol):
    """One keep-alive connection: feeds what arrives to the parser and resolves the pending answer."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.waiter: asyncio.Future[HttpAnswer] | None = None
        self.closed = False
        self.idle_since = 0.0
        self._reset()

    def _reset(self) -> None:
        self._headers: list[tuple[str, str]] = []
        self._head_size = 0
        self._body: list[bytes] = []
        self._size = 0
        self._limit = MAX_BODY
        self._until_eof = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are no asyncio.Transport subclass

    def data_received(self, data: bytes) -> None:
        if self.waiter is None:
            self.close()  # bytes nobody asked for: the connection cannot be trusted with another request
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(aiohttp.ClientPayloadError(f"malformed HTTP answer: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._until_eof and self.waiter is not None:
            self._complete(keep_alive=False)  # an answer delimited by the end of the connection
        else:
            self._fail(aiohttp.ServerDisconnectedError("the upstream closed the connection"))

    # httptools' callbacks

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_size += len(name) + len(value)
        if self._head_size > MAX_HEAD:
            self._fail(aiohttp.ClientPayloadError(f"the answer's headers are larger than {MAX_HEAD} bytes"))
            return
        self._headers.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        if not 200 <= status < 300:
            self._limit = MAX_ERROR_BODY
        if not self.parser.should_keep_alive():  # an answer that ends with the connection never is
            names = {name.lower() for name, _ in self._headers}
            self._until_eof = (
                "content-length" not in names
                and "transfer-encoding" not in names
                and status not in (204, 304)
            )

    def on_body(self, body: bytes) -> None:
        room = self._limit - self._size
        if room > 0:
            self._body.append(body[:room])
        self._size += len(body)
        if self._size > MAX_BODY:
            self._fail(aiohttp.ClientPayloadError(f"the answer is larger than {MAX_BODY} bytes"))

    def on_message_complete(self) -> None:
        if self.parser.get_status_code() < 200:
            self._reset()  # an interim answer (100 Continue, 103 Early Hints): the real one follows
            return
        self._complete(keep_alive=self.parser.should_keep_alive())

    def _complete(self, *, keep_alive: bool) -> None:
        waiter, self.waiter = self.waiter, None
        headers = CIMultiDictProxy(CIMultiDict(self._headers))
        body = b"".join(self._body)
        self._until_eof = False
        if not keep_alive:
            self.close()
        if waiter is None or waiter.done():
            return
        try:
            waiter.set_result(HttpAnswer(self.parser.get_status_code(), headers, _inflated(headers, body)))
        except (zlib.error, ValueError) as exc:
            self.close()
            waiter.set_exception(aiohttp.ClientPayloadError(f"cannot decode the answer: {exc}"))

    def _fail(self, exc: Exception) -> None:
        waiter, self.waiter = self.waiter, None
        self.close()
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)

    def send(self, head: bytes, body: bytes) -> asyncio.Future[HttpAnswer]:
        assert self.transport is not None
        self._reset()
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.writelines((head, body))  # no copy of a large body to join it to its head
        return self.waiter

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


def _inflated(headers: CIMultiDictProxy[str], body: bytes) -> bytes:
    encoding = headers.get("Content-Encoding", "identity").lower()
    if encoding in ("", "identity"):
        return body
    if encoding in ("gzip", "x-gzip", "deflate"):
        return zlib.decompress(body, wbits=47)  # 47: a gzip or zlib header, whichever it is
    raise ValueError(f"unsupported Content-Encoding {encoding!r}")


class Http1Pool:
    """Keep-alive connections by (host, port, TLS); see the module docstring."""

    def __init__(self, *, keepalive_seconds: float = DEFAULT_KEEPALIVE_SECONDS) -> None:
        self.keepalive_seconds = keepalive_seconds
        self._idle: dict[tuple[str, int, bool], list[_Connection]] = {}
        self._targets: dict[str, _Target] = {}
        self._tls: ssl.SSLContext | None = None

    async def post(
        self, url: str, headers: Mapping[str, str], body: bytes, *, connect_timeout: float
    ) -> HttpAnswer:
        """POST `body` to `url` and read the whole answer (the caller bounds the wait)."""
        target = self._target(url)
        head = target.head + _header_block(headers, len(body))  # refused here, before any connection
        connection = self._idle_connection(target.key) or await self._connect(target.key, connect_timeout)
        try:
            answer = await connection.send(head, body)
        except BaseException:
            connection.close()  # cancelled or timed out mid-answer: its state is unknown
            raise
        if not connection.closed:
            connection.idle_since = asyncio.get_running_loop().time()
            self._idle.setdefault(target.key, []).append(connection)
        return answer

    async def close(self) -> None:
        """Close every idle connection (the ones in use close when their request ends)."""
        for connections in self._idle.values():
            for connection in connections:
                connection.close()
        self._idle.clear()

    def _target(self, url: str) -> _Target:
        target = self._targets.get(url)
        if target is None:
            if len(self._targets) >= _MAX_TARGETS:
                self._targets.clear()
            target = self._targets[url] = parse_target(url)
        return target

    def _idle_connection(self, key: tuple[str, int, bool]) -> _Connection | None:
        connections = self._idle.get(key)
        if not connections:
            return None
        oldest_kept = asyncio.get_running_loop().time() - self.keepalive_seconds
        while connections:
            connection = connections.pop()
            if not connection.closed and connection.idle_since >= oldest_kept:
                _expire(connections, oldest_kept)
                return connection
            connection.close()
        return None

    async def _connect(self, key: tuple[str, int, bool], timeout: float) -> _Connection:
        host, port, tls = key
        loop = asyncio.get_running_loop()
        context = self._tls_context() if tls else None
        try:
            async with asyncio.timeout(timeout):
                _, connection = await loop.create_connection(
                    _Connection, host, port, ssl=context, server_hostname=host if tls else None
                )
        except TimeoutError:
            raise aiohttp.ConnectionTimeoutError(f"connecting to {host}:{port} timed out") from None
        return connection

    def _tls_context(self) -> ssl.SSLContext:
        if self._tls is None:
            self._tls = ssl.create_default_context()
        return self._tls


def _expire(connections: list[_Connection], oldest_kept: float) -> None:
    """Close the idle connections (oldest first in the list) unused since before `oldest_kept`."""
    while connections and (connections[0].closed or connections[0].idle_since < oldest_kept):
        connections.pop(0).close()


def parse_target(url: str) -> _Target:
    """The pool key and request head of an http(s) URL; ValueError for anything else."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {url!r}")
    tls = parts.scheme == "https"
    port = parts.port or (443 if tls else 80)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    host = parts.hostname
    authority = f"[{host}]" if ":" in host else host
    if parts.port is not None:
        authority += f":{parts.port}"
    head = f"POST {path} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: {USER_AGENT}\r\n"
    _check_line_breaks(head, 3)
    return _Target((host, port, tls), head.encode("ascii"))


def _header_block(headers: Mapping[str, str], length: int) -> bytes:
    block = "".join(
        [*(f"{name}: {value}\r\n" for name, value in headers.items()), f"Content-Length: {length}\r\n\r\n"]
    )
    _check_line_breaks(block, len(headers) + 2)
    return block.encode("utf-8")


def _check_line_breaks(text: str, lines: int) -> None:
    """Refuse header text with a CR or LF of its own (inside a name or value), which would end the head
    early or start another header: it must hold exactly the `lines` line ends put there."""
    if text.count("\n") != lines or text.count("\r") != lines:
        raise ValueError("a request header contains a line break")
