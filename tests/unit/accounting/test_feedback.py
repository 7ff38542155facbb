"""RecentRequests: a bounded ring of request id -> who served it."""

from __future__ import annotations

from switchboard_proxy.accounting.feedback import RecentRequests, Served


def test_remembers_and_looks_up() -> None:
    recent = RecentRequests(capacity=3)
    recent.remember("a", Served("r", "v", "e"))
    assert recent.lookup("a") == Served("r", "v", "e")
    assert recent.lookup("b") is None


def test_oldest_ids_fall_out_first_and_the_size_stays_bounded() -> None:
    recent = RecentRequests(capacity=100)
    for index in range(1000):
        recent.remember(f"id-{index}", Served("r", "v", f"e{index}"))
        assert len(recent) <= 100
    assert len(recent) == 100
    assert recent.lookup("id-899") is None
    assert recent.lookup("id-900") == Served("r", "v", "e900")
    assert recent.lookup("id-999") == Served("r", "v", "e999")


def test_remembering_an_id_again_updates_it() -> None:
    recent = RecentRequests(capacity=2)
    recent.remember("a", Served("r", "v", "first"))
    recent.remember("a", Served("r", "v", "second"))
    assert len(recent) == 1 and recent.lookup("a") == Served("r", "v", "second")


def test_default_capacity_is_bounded() -> None:
    recent = RecentRequests()
    for index in range(recent.capacity + 10):
        recent.remember(str(index), Served("r", "v", "e"))
    assert len(recent) == recent.capacity
