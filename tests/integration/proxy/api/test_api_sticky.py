"""Sticky experiment assignment is a pure hash: two sidecar processes agree on every user's variant."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.processes import Process
from support.stack import endpoint, http, route, start_proxy, write_resources

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


def test_two_sidecars_assign_every_user_the_same_variant(sim: Process, tmp_path: Path) -> None:
    documents = [
        endpoint("chat-a", sim.base_url),
        endpoint("chat-b", sim.base_url),
        route(
            "tab",
            ["chat-a"],
            default=True,
            experiment={
                "name": "tab-v2",
                "stickyBy": "user",
                "variants": [
                    {"name": "control", "weight": 50},
                    {"name": "candidate", "weight": 50, "targets": [{"endpoint": "chat-b"}]},
                ],
            },
        ),
    ]
    resources = write_resources(tmp_path, documents)
    first = start_proxy(resources=resources)
    try:
        second = start_proxy(resources=resources)
        try:
            assignments = {
                user: [variant_of(proxy, user) for proxy in (first, second)] for user in map(str, range(50))
            }
        finally:
            second.stop()
    finally:
        first.stop()
    disagreements = {user: pair for user, pair in assignments.items() if pair[0] != pair[1]}
    assert not disagreements
    counts = {
        variant: sum(pair[0] == variant for pair in assignments.values())
        for variant in ("control", "candidate")
    }
    assert counts["control"] + counts["candidate"] == 50
    assert counts["control"] >= 10 and counts["candidate"] >= 10, counts  # 50/50, not all on one side


def variant_of(proxy: Process, user: str) -> str:
    body = {"model": "tab", "messages": [{"role": "user", "content": "x"}]}
    reply = http(
        "POST", f"{proxy.base_url}/v1/chat/completions", body, headers={"X-Switchboard-User": f"user-{user}"}
    )
    assert reply.status == 200, reply.body
    variant = reply.header("X-Switchboard-Variant") or ""
    expected_endpoint = {"control": "chat-a", "candidate": "chat-b"}[variant]
    assert reply.header("X-Switchboard-Endpoint") == expected_endpoint
    return variant
