"""Why an endpoint was not planned: a closed set of words, and the `Rejection` that carries one.

The words appear in `switchboard explain`, in `X-Switchboard-Fallback-Reason`, in error messages and
logs; the sidecar decides on them by set membership (`STATIC_REASONS`), never by parsing text.
"""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple


class Reason(StrEnum):
    """Why an endpoint was not planned."""

    PROTOCOL = "protocol"
    CAPABILITY = "capability"
    CONTEXT_WINDOW = "context-window"
    MAX_OUTPUT = "max-output"
    CIRCUIT_OPEN = "circuit-open"
    CONCURRENCY_LIMIT = "concurrency-limit"
    RATE_LIMIT = "rate-limit"
    TOKEN_RATE_LIMIT = "token-rate-limit"
    DEADLINE = "deadline"
    BUDGET = "budget"


# Reasons that no wait can change: the endpoint could never serve this request as it is.
STATIC_REASONS: frozenset[Reason] = frozenset(
    {Reason.PROTOCOL, Reason.CAPABILITY, Reason.CONTEXT_WINDOW, Reason.MAX_OUTPUT}
)
TOO_LARGE_REASONS: frozenset[Reason] = frozenset({Reason.CONTEXT_WINDOW, Reason.MAX_OUTPUT})


class Rejection(NamedTuple):
    """Why one endpoint was not planned."""

    endpoint: str
    reason: Reason
    detail: str

    def __str__(self) -> str:
        return f"{self.endpoint}: {self.reason} ({self.detail})"
