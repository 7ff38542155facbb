"""A real sidecar app (`build_app`) under pytest-aiohttp's test client, in front of the shared fake
upstream in the same event loop, on looptime's fake clock: the server's glue tested without processes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from support.builders import Document, write_resources
from switchboard_proxy.server.app import build_app
from switchboard_proxy.settings import ProxySettings

Sidecar = Callable[[Sequence[Document]], Awaitable[TestClient[Any, Any]]]


@pytest.fixture
def sidecar(aiohttp_client, tmp_path: Path) -> Sidecar:
    """Start a sidecar app over `documents` (each call its own app and resources directory)."""
    count = 0

    async def start(documents: Sequence[Document]) -> TestClient[Any, Any]:
        nonlocal count
        count += 1
        directory = write_resources(tmp_path / f"resources-{count}", documents)
        app = build_app(ProxySettings(resource_paths=(directory,), access_log=False))
        # As serve() runs it: a client that goes away cancels its handler.
        return await aiohttp_client(app, server_kwargs={"handler_cancellation": True})

    return start
