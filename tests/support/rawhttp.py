"""Raw HTTP/1.1 over a plain socket, for what clients and SDKs refuse to send: header bytes that are no
UTF-8, bodies that lie about their encoding or length, heads that never end."""

from __future__ import annotations

import socket
from dataclasses import dataclass


@dataclass
class RawReply:
    """A parsed answer: status, lower-cased headers (the last of repeated ones) and body."""

    status: int
    headers: dict[str, str]
    body: bytes


def raw_exchange(url: str, request: bytes, *, timeout: float = 10.0) -> RawReply:
    """Send `request` to `url` (http://host:port) and read one whole answer."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(request)
        return read_reply(sock)


def read_reply(sock: socket.socket) -> RawReply:
    """One final answer (interim 1xx answers, such as 100 Continue, are skipped)."""
    return Replies(sock).next()


class Replies:
    """Answers read off one connection in turn (pipelined answers may come in one read)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.data = b""

    def next(self) -> RawReply:
        while True:
            if self.data.startswith(b"HTTP/1.1 1") and b"\r\n\r\n" in self.data:
                self.data = self.data.partition(b"\r\n\r\n")[2]  # an interim 1xx answer
                continue
            if b"\r\n\r\n" in self.data and len(self.data) >= _expected_length(self.data):
                break
            chunk = self.sock.recv(65536)
            if not chunk:
                break
            self.data += chunk
        length = _expected_length(self.data) if b"\r\n\r\n" in self.data else len(self.data)
        answer, self.data = self.data[: min(length, len(self.data))], self.data[min(length, len(self.data)) :]
        return _parse(answer)


def _parse(data: bytes) -> RawReply:
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    if not lines or len(lines[0].split()) < 2:
        raise ConnectionError(f"no HTTP answer, got {data[:200]!r}")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
    return RawReply(int(lines[0].split()[1]), headers, body)


def request_bytes(
    path: str, body: bytes, *, headers: dict[str, bytes] | None = None, method: str = "POST"
) -> bytes:
    """A request with a correct Content-Length (unless `headers` gives one) and Connection: close."""
    fields = {b"Host": b"sidecar", b"Content-Type": b"application/json", b"Connection": b"close"}
    fields |= {name.encode(): value for name, value in (headers or {}).items()}
    if not any(name.lower() == b"content-length" for name in fields):
        fields[b"Content-Length"] = str(len(body)).encode()
    head = b"".join(name + b": " + value + b"\r\n" for name, value in fields.items())
    return f"{method} {path} HTTP/1.1\r\n".encode() + head + b"\r\n" + body


def _expected_length(data: bytes) -> int:
    head, _, _ = data.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(head) + 4 + int(line.split(b":")[1])
    return len(data) + 1
