"""The bounded fuzzing stage of `make test`: a few thousand hostile probes against a real sidecar and sim
(`make fuzz` runs the same campaign longer, with a seed and a request budget: tests/fuzz/run.py)."""

from __future__ import annotations

import os
import random
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import orjson
import pytest
from campaign import RSS_LIMIT_MB, Tally, check_afterwards, check_answer, fuzz_stack, record, rss_mb, send
from hostile import Probe, probes
from hypothesis import HealthCheck, given, settings

from support.stack import Stack

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]
PROBES = int(os.environ.get("SWITCHBOARD_FUZZ_PROBES", "2500"))


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with fuzz_stack(Path(tmp_path_factory.mktemp("fuzz"))) as running:
        yield running


@pytest.fixture(scope="module")
def untokened(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The same stack with no tokensPerMinute, so that every huge prompt is sent upstream."""
    with fuzz_stack(Path(tmp_path_factory.mktemp("fuzz-untokened")), token_limits=False) as running:
        yield running


def campaign(stack: Stack, tally: Tally, *, count: int, seed: int | None = None) -> None:
    """Send `count` probes drawn by hypothesis and check every answer (shrinking what breaks)."""

    @settings(
        max_examples=count,
        deadline=None,
        database=None,
        derandomize=seed is None,
        suppress_health_check=list(HealthCheck),
    )
    @given(probe=probes)
    def one(probe: Probe) -> None:
        answers = send(stack, probe)
        record(tally, probe, answers)
        for reply in answers:
            check_answer(probe, reply)

    if seed is not None:
        from hypothesis import seed as seeded

        one = seeded(seed)(one)
    one()


def test_hostile_probes_get_clean_answers_and_leave_the_sidecar_healthy(stack: Stack) -> None:
    tally = Tally(rss_before_mb=rss_mb(stack.proxy))
    campaign(stack, tally, count=PROBES)
    check_afterwards(stack, tally)
    print("\n" + tally.summary())
    assert {category.split(":")[0] for category in tally.sent} == {"body", "header", "connection"}


def _large_prompt(url: str, size: int) -> int:
    body = orjson.dumps({"messages": [{"role": "user", "content": "a" * size}], "max_tokens": 4})
    request = urllib.request.Request(
        url + "/v1/chat/completions",
        data=body,
        headers={"Content-Type": "application/json", "X-Switchboard-Route": "chat"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as refused:
        return refused.code


def test_concurrent_large_prompts_leave_no_memory_behind(untokened: Stack) -> None:
    """Prompts of 0.2-1.9 MB, 16 at a time, that the upstream refuses (its window is smaller): each
    failed attempt used to keep its request body and prepared payload alive in a traceback cycle, and
    freed bodies stayed in glibc's heap; 600 of them took the RSS from 55 to over 400 MiB."""
    sizes = [random.Random(i).randint(200_000, 1_900_000) for i in range(600)]
    with ThreadPoolExecutor(16) as pool:
        statuses = Counter(pool.map(lambda size: _large_prompt(untokened.url, size), sizes))
    # The sim's context-length refusal, or the sidecar's own refusal (shed, or a request bucket that ran
    # dry); most must reach the upstream and fail there.
    assert set(statuses) <= {400, 429, 503}, statuses
    assert statuses[400] >= 400, statuses
    assert rss_mb(untokened.proxy) < RSS_LIMIT_MB, statuses
