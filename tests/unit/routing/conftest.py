"""Fixtures shared by the routing tests; the builders themselves live in routing_builders.py."""

from __future__ import annotations

import pytest
from routing_builders import examples_config

from switchboard_proxy.config import RouterConfig


@pytest.fixture(scope="session")
def examples() -> RouterConfig:
    """examples/*.yaml compiled at T0 (before small-fast's 2027 sunset)."""
    return examples_config()
