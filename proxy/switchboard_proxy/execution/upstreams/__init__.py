"""Provider wire formats: how to address an endpoint and read usage from its answers (pure, no I/O).

`prepare(endpoint, call, key)` returns the URL, headers and body bytes of one attempt; the executor
sends them. One module per provider; `PREPARERS` picks by `EndpointConfig.provider`.
"""

from __future__ import annotations

from collections.abc import Callable

from switchboard_proxy.config import EndpointConfig

from . import anthropic, azure, openai
from .base import Call, Prepared

Preparer = Callable[[EndpointConfig, Call, str], Prepared]

PREPARERS: dict[str, Preparer] = {
    "openai": openai.prepare,
    "azure-openai": azure.prepare,
    "anthropic": anthropic.prepare,
}

__all__ = ["PREPARERS", "Call", "Prepared"]
