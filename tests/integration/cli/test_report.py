"""`switchboard report` against a real Prometheus scraping a real sidecar: the terminal table, and the HTML
page opened in headless Chromium (Debian's `chromium`): the charts drew (the screenshot has the chart
lines' colours, not a blank page) and the expected elements are in the rendered DOM."""

from __future__ import annotations

import random
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from support.local_prometheus import NAMESPACE, PrometheusProcess, start_prometheus
from support.png import pixels
from support.processes import Process
from support.stack import Stack, endpoint, http, route, start_proxy, start_sim, write_resources
from support.waiting import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(180)]

CLI = str(Path(sys.executable).parent / "switchboard")
PRICES = {"cheap": (0.1, 0.2), "dear": (5.0, 15.0)}
QUALITY = {"cheap": 0.6, "dear": 0.9}
SERIES_COLOURS = [(0x25, 0x63, 0xEB), (0xDC, 0x26, 0x26)]  # report_html.COLOURS[0:2]


@dataclass
class Fleet:
    sim: Process
    stack: Stack
    prometheus: PrometheusProcess


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    root = tmp_path_factory.mktemp("report")
    sim = start_sim({name: {} for name in PRICES}, tmp_dir=root)
    experiment = {
        "name": "dearer",
        "stickyBy": "request",
        "variants": [
            {"name": "control", "weight": 50},
            {"name": "candidate", "weight": 50, "targets": [{"endpoint": "dear"}]},
        ],
    }
    documents = [
        *(
            endpoint(name, sim.base_url, pricing={"inputPerMTok": i, "outputPerMTok": o})
            for name, (i, o) in PRICES.items()
        ),
        route("chat", ["cheap"], default=True, experiment=experiment),
    ]
    resources = write_resources(root / "resources", documents)
    proxy = start_proxy(resources=resources)
    prometheus = start_prometheus({"pod-a": proxy.base_url}, root / "prometheus")
    try:
        stack = Stack(sim=sim, proxy=proxy, resources=resources)
        prometheus.wait_scraping(1)
        rng = random.Random(3)
        for sent in range(200):  # bounded; spread over ~6 s so that the trends have a shape
            if sent % 20 == 19:
                time.sleep(0.6)
            reply = stack.post(
                "/v1/chat/completions", {"model": "chat", "messages": [{"role": "user", "content": "q"}]}
            )
            served = reply.header("X-Switchboard-Endpoint") or ""
            score = float(rng.random() < QUALITY[served])
            http(
                "POST",
                f"{stack.url}/v1/feedback",
                {"request_id": reply.header("X-Request-Id"), "score": score},
            )
        yield Fleet(sim, stack, prometheus)
    finally:
        prometheus.stop()
        proxy.stop()
        sim.stop()


def report(fleet: Fleet, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [CLI, "report", "chat", "--prometheus-url", fleet.prometheus.url, "--namespace", NAMESPACE, *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)


def rows(output: str) -> dict[str, list[str]]:
    return {
        line.split()[0]: line.split()
        for line in output.splitlines()
        if line.startswith("  ") and line.split()
    }


def test_the_table_shows_every_variant_and_endpoint(fleet: Fleet) -> None:
    def complete() -> dict[str, list[str]] | None:
        # Every request scraped: the variants' requests add up to what was sent.
        found = rows(report(fleet).stdout)
        count = {
            name: int(found.get(name, ["", "0"])[1]) for name in ("control", "candidate", "cheap", "dear")
        }
        return found if count["control"] + count["candidate"] == 200 and all(count.values()) else None

    found = wait_until(complete, timeout=30, interval=0.5, what="all 200 requests in the variant rows")
    assert int(found["cheap"][1]) + int(found["dear"][1]) == 200  # one attempt each: nothing failed
    assert any(cell.startswith("n=") for cell in found["candidate"])  # feedback counted
    cheap_cost, dear_cost = float(found["cheap"][-4]), float(found["dear"][-4])
    assert dear_cost > 10 * cheap_cost


def test_prometheus_down_is_a_clear_error(fleet: Fleet) -> None:
    result = subprocess.run(
        [CLI, "report", "chat", "--prometheus-url", "http://127.0.0.1:1"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 3
    assert "unreachable" in result.stderr and "check --prometheus-url" in result.stderr


def test_the_html_report_draws_in_chromium(fleet: Fleet, tmp_path: Path) -> None:
    binary = shutil.which("chromium")
    assert binary, "chromium is missing: apt-get install chromium (Debian's package; .ci/run installs it)"
    page = tmp_path / "chat.html"

    def drawn() -> str | None:
        # A rate over [1m] needs two scrapes of a series, so the trend lines come a few seconds in.
        assert report(fleet, "--since", "2m", "--html", str(page)).returncode == 0
        text = page.read_text()
        return text if len(re.findall(r'class="series"[^>]* points="[^"]+ [^"]+"', text)) >= 6 else None

    text = wait_until(drawn, timeout=60, interval=1, what="the page with a line per variant on each trend")
    assert "http://" not in text and "https://" not in text and "<script" not in text, "self-contained"
    chromium = [
        binary,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
    dom = subprocess.run(
        [*chromium, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=90, check=True
    ).stdout
    for element in (
        'id="chart-error-rate"',
        'id="chart-p95-latency-s"',
        'id="chart-cost-per-minute-usd"',
        'id="cost-quality"',
        'id="figures"',
    ):
        assert element in dom, element
    assert dom.count('class="series"') >= 6  # two variants on each of three trends
    assert dom.count('class="point"') == 4  # two variants, two endpoints
    shot = tmp_path / "shot.png"
    subprocess.run(
        [*chromium, f"--screenshot={shot}", "--window-size=1400,1400", page.as_uri()],
        capture_output=True,
        timeout=90,
        check=True,
    )
    width, height, found = pixels(shot)
    assert (width, height) == (1400, 1400)
    assert len(set(found)) > 20, "the screenshot is blank"
    for colour in SERIES_COLOURS:
        near = sum(1 for p in found if all(abs(a - b) < 24 for a, b in zip(p, colour, strict=True)))
        assert near > 200, f"too few pixels of the chart colour {colour}: {near}"
