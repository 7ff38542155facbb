"""The unit tests' upstream: the shared fake (tests/support/fake_upstream.py) on a real loopback port in
the test's own event loop, so that looptime's fake clock covers both sides of every request."""

from __future__ import annotations

import pytest

from support.fake_upstream import FakeUpstream


@pytest.fixture
async def upstream(aiohttp_server) -> FakeUpstream:
    fake = FakeUpstream()
    server = await aiohttp_server(fake.app())
    fake.url = str(server.make_url("/v1"))
    return fake
