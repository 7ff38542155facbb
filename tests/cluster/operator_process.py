"""`start_operator`: switchboard-operator as a real process, for one namespace, against the test cluster."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from support.processes import Process, console_script, free_port, start_process


@dataclass
class Operator:
    """A running switchboard-operator process."""

    process: Process
    namespace: str
    liveness_port: int

    def log_text(self) -> str:
        return self.process.log_text()

    def is_running(self) -> bool:
        return self.process.is_running()

    def kill(self) -> None:
        """SIGKILL: no cleanup, no goodbye, like an OOM kill or a lost node."""
        self.process.kill()

    def stop(self) -> int:
        return self.process.stop()


def start_operator(namespace: str, *args: str, kubeconfig: Path) -> Operator:
    """Start the operator watching `namespace`; returns once its /healthz answers."""
    port = free_port()
    argv = [
        console_script("switchboard-operator"),
        *("--namespace", namespace, "--liveness-port", str(port)),
        *args,
    ]
    process = start_process(
        argv, ready_url=f"http://127.0.0.1:{port}/healthz", env={"KUBECONFIG": str(kubeconfig)}, timeout=30
    )
    return Operator(process, namespace, port)
