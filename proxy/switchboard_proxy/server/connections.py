"""The sidecar's HTTP connections, below any request: what the parser refuses, and clients too slow.

- Malformed HTTP that never reaches a handler (an oversized header, a broken request line) is answered in
  the caller's API shape (Anthropic's on /v1/messages, as far as the request line tells) with a request
  id, never with aiohttp's plain text that quotes the offending bytes: a header may carry a credential,
  so neither the log line nor the answer repeats anything the client sent.
- A client that has not sent a complete request head within HEAD_SECONDS of connecting is cut off, and
  so is a connection idle (or dribbling its next head) for as long after its last answer (aiohttp's
  keep-alive timeout); the body's own limit is in bodies.py. At most MAX_HEADERS header fields of at most
  MAX_FIELD_BYTES each; the whole head is held to errors.MAX_HEAD_BYTES by the edge middleware.
Both listeners (the model API and the admin port) use these connections.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import BadStatusLine, InvalidHeader, LineTooLong
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_server import Server

from .errors import error_body

log = logging.getLogger("switchboard.proxy")
HEAD_SECONDS = 10.0
MAX_HEADERS = 100
MAX_FIELD_BYTES = 8190
SERVER_LIMITS: dict[str, Any] = {
    "keepalive_timeout": HEAD_SECONDS,
    "max_headers": MAX_HEADERS,
    "max_field_size": MAX_FIELD_BYTES,
    "max_line_size": MAX_FIELD_BYTES,
}


class _SidecarRequestHandler(RequestHandler):
    """aiohttp's connection handler, plus a deadline for the first request head and JSON parser errors."""

    _head_timer: asyncio.TimerHandle | None = None
    _request_line = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._head_timer = asyncio.get_running_loop().call_later(HEAD_SECONDS, self._head_overdue)

    def connection_lost(self, exc: BaseException | None) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if data[:4] in (b"POST", b"GET ", b"PUT ", b"HEAD"):
            self._request_line = data[:64]  # to answer a parser error in the right API's shape
        super().data_received(data)
        if self._head_timer is not None and self._request_count:
            self._head_timer.cancel()  # the first head is in; later ones are the keep-alive timeout's
            self._head_timer = None

    def _head_overdue(self) -> None:
        self._head_timer = None
        if not self._request_count and self.transport is not None:
            log.warning("closed a connection that sent no complete request head in %.0f s", HEAD_SECONDS)
            self.force_close()

    def handle_error(
        self, request: Any, status: int = 500, exc: BaseException | None = None, message: str | None = None
    ) -> web.StreamResponse:
        if status >= 500:
            super().handle_error(request, status, exc, message)  # a bug: logged with its traceback
            text, type_, code = "internal error", "internal_error", "internal_error"
        else:
            if request.writer.output_size > 0:  # a response already started: nothing else can be sent
                raise ConnectionError("response already started; cannot send the parser error")
            status, text = _parser_error(exc)
            log.warning("refused malformed HTTP from %s: %s (%d)", request.remote, type(exc).__name__, status)
            type_, code = "invalid_request_error", "bad_request"
        anthropic = b" /v1/messages" in self._request_line
        body = error_body(status, message=text, type_=type_, code=code, param=None, anthropic=anthropic)
        headers = {"X-Request-Id": secrets.token_hex(16)}
        response = web.Response(status=status, body=body, content_type="application/json", headers=headers)
        response.force_close()
        return response


def _parser_error(exc: BaseException | None) -> tuple[int, str]:
    """Status and our own words for a request the HTTP parser refused."""
    if isinstance(exc, LineTooLong):
        return 431, "a request header or the request line is too large"
    if isinstance(exc, InvalidHeader):
        return 400, "a request header is malformed"
    if isinstance(exc, BadStatusLine):
        return 400, "the request line is malformed"
    return 400, "malformed HTTP request"


class _SidecarServer(Server):
    def __call__(self) -> RequestHandler:
        return _SidecarRequestHandler(self, loop=self._loop, **self._kwargs)


class SidecarRunner(web.AppRunner):
    """AppRunner whose connections are the sidecar's (see the module docstring)."""

    def __init__(self, app: web.Application, **kwargs: Any) -> None:
        super().__init__(app, **SERVER_LIMITS, **kwargs)

    async def _make_server(self) -> Server:
        server = await super()._make_server()
        server.__class__ = _SidecarServer
        return server
