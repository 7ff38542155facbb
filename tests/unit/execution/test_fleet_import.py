"""redis-py is loaded only by a sidecar with --state: with it come OpenTelemetry and cryptography, some
8 MiB of RSS that every other sidecar does without (the fuzz campaign's 70 MiB bound noticed)."""

from __future__ import annotations

import subprocess
import sys


def test_a_sidecar_without_state_never_imports_redis() -> None:
    probe = (
        "import sys; import switchboard_proxy.main; from switchboard_proxy.server import app; "
        "from switchboard_proxy.execution import fleet; "
        "print(sorted({'redis', 'opentelemetry'} & set(sys.modules)))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]", loaded.stdout


def test_the_fleet_imports_it_when_made() -> None:
    probe = (
        "import sys; from switchboard_proxy.execution.fleet import Fleet; "
        "Fleet('redis://127.0.0.1:1/0'); print('redis' in sys.modules)"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "True", loaded.stdout + loaded.stderr
