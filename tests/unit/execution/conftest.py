"""The execution tests' HTTP clients, as the sidecar has them (the upstream is tests/unit/conftest.py's)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from switchboard_proxy.execution.attempts import Clients
from switchboard_proxy.execution.http1 import Http1Pool


@pytest.fixture
async def clients() -> AsyncIterator[Clients]:
    async with aiohttp.ClientSession() as session:
        pool = Http1Pool()
        yield Clients(session, pool)
        await pool.close()
