"""The README's first command: `make demo` runs examples/demo/demo.py; its tour must show failover."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_demo_tour_shows_routing_and_failover() -> None:
    result = subprocess.run(
        [sys.executable, "examples/demo/demo.py", "--tour-only"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    before, after = out.split("now the capable model fails")
    assert "X-Switchboard-Endpoint: capable" in before
    assert "X-Switchboard-Endpoint: cheap" in after and "X-Switchboard-Fallback-Reason: overloaded" in after
    assert "X-Switchboard-Route: tab-completion" in after and "X-Switchboard-Variant:" in after
    assert "Traceback" not in result.stderr
