"""`OperatorSettings`: what switchboard-operator is told at start (no logic)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OperatorSettings:
    """Scope and endpoints of one operator process."""

    namespaces: tuple[str, ...] = ()  # empty with all_namespaces=True: the whole cluster
    all_namespaces: bool = False
    liveness_port: int = 8080
    sunset_check_seconds: float = 10.0
    log_level: str = "info"
