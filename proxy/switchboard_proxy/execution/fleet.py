"""`Fleet`: the state every sidecar of a namespace shares through Redis (`--state redis://HOST:PORT/DB`).

Budgets, rate buckets and circuit-open signals are shared; concurrency and queues stay per sidecar.
Requests pay a Redis round trip only where sharing needs one (a budget reservation; a rate bucket whose
locally leased tokens ran out), as one atomic script (fleet_scripts.py); everything else (settlements,
heartbeats, circuit signals, the fleet's totals for metrics) goes in one background loop, batched.

Redis down or slow (a call over `timeout_seconds`): the fleet is `down`, logged once; every shared limit
falls back to this sidecar's share of it (limit / live sidecars, the count of the last heartbeat kept),
`switchboard_state_backend_up` says 0, and the loop retries every half second. When Redis answers again
each sidecar rewrites its own part of the budgets (so a restarted, empty Redis learns them back) and the
fleet is up again. No request ever fails because of Redis.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from . import fleet_scripts

if TYPE_CHECKING:
    from .runtime import RoutingTable

log = logging.getLogger("switchboard.state")
Arg = str | int | float  # what a script takes as an argument

HEARTBEAT_SECONDS = 1.0
STALE_MS = 3_500  # a sidecar whose heartbeat is older than this is not live
FLUSH_SECONDS = 0.05
SIGNAL_SECONDS = 0.5
RECONNECT_SECONDS = 0.5
BUDGET_TTL_SLACK_SECONDS = 3600  # a window's key outlives the window by this much
POOL_CONNECTIONS = 8


def sidecar_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{os.urandom(3).hex()}"


class Fleet:
    """One sidecar's link to the namespace's shared state (see the module docstring)."""

    def __init__(self, url: str, *, timeout_seconds: float = 0.5, me: str | None = None) -> None:
        self.url = url
        self.me = me or sidecar_id()
        self.timeout_seconds = timeout_seconds
        self.namespace = ""
        self.is_up = False
        self.live_sidecars = 1  # kept while Redis is away
        self.source: Callable[[], RoutingTable | None] = lambda: None
        # redis-py (and what it pulls in: OpenTelemetry, cryptography) only in a sidecar with --state:
        # some 8 MiB that every other sidecar does without.
        import redis.asyncio as aioredis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff
        from redis.exceptions import RedisError

        self._failures = (RedisError, OSError, TimeoutError)
        # A few connections, shared: under a burst, calls queue for one instead of opening a hundred.
        pool = aioredis.BlockingConnectionPool.from_url(
            url,
            max_connections=POOL_CONNECTIONS,
            timeout=timeout_seconds,
            socket_timeout=max(timeout_seconds, 0.05),
            socket_connect_timeout=max(timeout_seconds, 0.05),
            retry=Retry(NoBackoff(), 0),
            decode_responses=True,
        )
        self._client = aioredis.Redis(connection_pool=pool)
        self._scripts = {
            name: self._client.register_script(getattr(fleet_scripts, name))
            for name in (
                "HEARTBEAT",
                "BUDGET_RESERVE",
                "BUDGET_ADD",
                "BUDGET_RESYNC",
                "BUDGET_READ",
                "BUCKET",
            )
        }
        self._budget_deltas: dict[str, list[int]] = {}
        self._bucket_deltas: dict[str, list[float]] = {}  # key -> [rate, capacity, delta]
        self._circuits: dict[str, str] = {}  # endpoint -> the signal to publish
        self._seen_signals: dict[str, str] = {}

    def key(self, name: str) -> str:
        return f"switchboard:{self.namespace}:{name}"

    async def _call(self, script: str, keys: list[str], args: list[Arg]) -> Any:
        """One script, bounded by the timeout; a failure marks the fleet down and returns None."""
        if not self.is_up:
            return None
        try:
            async with asyncio.timeout(self.timeout_seconds):
                return await self._scripts[script](keys=keys, args=args)
        except self._failures as exc:
            self._went_down(exc)
            return None

    def _went_down(self, exc: BaseException) -> None:
        if self.is_up:
            log.warning(
                "shared state at %s unreachable (%s): serving on this sidecar's share of the limits "
                "(1/%d) until it is back",
                _redacted(self.url),
                type(exc).__name__,
                self.live_sidecars,
            )
        self.is_up = False

    async def reserve_budget(
        self, key: str, *, limit: int, want: int, force: bool
    ) -> tuple[bool, int, int] | None:
        """Reserve `want` pUSD of a budget window for every sidecar at once: (granted, spent, reserved),
        or None when the fleet is down."""
        ttl = self._budget_ttl(key)
        answer = await self._call(
            "BUDGET_RESERVE",
            [self.key(key), self.key("sidecars")],
            [self.me, limit, want, int(force), ttl, STALE_MS],
        )
        if answer is None:
            return None
        return bool(int(answer[0])), int(answer[1]), int(answer[2])

    def add_budget_delta(self, key: str, *, spent: int, reserved: int) -> None:
        """A settlement or release, sent by the background loop."""
        pending = self._budget_deltas.setdefault(key, [0, 0])
        pending[0] += spent
        pending[1] += reserved

    async def take_tokens(
        self, key: str, *, rate_per_minute: int, capacity: int, want: int, minimum: int
    ) -> tuple[int, int] | None:
        """Lease up to `want` tokens (at least `minimum`, or none) from a shared bucket: (granted, left)."""
        answer = await self._call("BUCKET", [self.key(key)], [rate_per_minute, capacity, want, minimum, 0])
        return None if answer is None else (int(answer[0]), int(answer[1]))

    def add_bucket_delta(self, key: str, *, rate_per_minute: int, capacity: int, delta: float) -> None:
        pending = self._bucket_deltas.setdefault(key, [float(rate_per_minute), float(capacity), 0.0])
        pending[2] += delta

    def publish_circuit(self, endpoint: str, *, epoch: int, open_seconds: float) -> None:
        """This sidecar opened `endpoint`'s circuit: the others open theirs at their next poll."""
        self._circuits[endpoint] = f"{self.me}:{epoch}:{int(open_seconds * 1000)}"

    # The background loop: the only place that waits on Redis outside a reservation.

    async def run(self) -> None:
        """Heartbeats, batched settlements, circuit signals and reconnection, until cancelled."""
        loop = asyncio.get_running_loop()
        next_beat = next_signals = 0.0
        while True:
            table = self.source()
            if table is not None:
                self.namespace = table.config.namespace
            now = loop.time()
            if not self.is_up:
                await self._reconnect(table)
                next_beat = next_signals = now
                await asyncio.sleep(0 if self.is_up else RECONNECT_SECONDS)
                continue
            await self._flush()
            if now >= next_beat:
                await self._heartbeat(table)
                next_beat = now + HEARTBEAT_SECONDS
            if now >= next_signals and table is not None:
                await self._poll_signals(table)
                next_signals = now + SIGNAL_SECONDS
            await asyncio.sleep(FLUSH_SECONDS)

    async def connect_once(self) -> None:
        """One attempt to reach Redis (at start, before the loop runs)."""
        table = self.source()
        if table is not None:
            self.namespace = table.config.namespace
        await self._reconnect(table)

    async def _reconnect(self, table: RoutingTable | None) -> None:
        try:
            async with asyncio.timeout(max(self.timeout_seconds, 0.5)):
                await self._client.ping()
                live = await self._scripts["HEARTBEAT"](keys=[self.key("sidecars")], args=[self.me, STALE_MS])
                self.live_sidecars = max(1, int(live))
                await self._resync(table)
        except self._failures:
            return
        log.info("shared state at %s: connected, %d live sidecars", _redacted(self.url), self.live_sidecars)
        self.is_up = True

    async def _resync(self, table: RoutingTable | None) -> None:
        """This sidecar's own budget amounts, absolute: idempotent, and what a restarted Redis forgot."""
        self._budget_deltas.clear()
        if table is None:
            return
        pipe = self._client.pipeline(transaction=False)
        for account in table.budgets.values():
            account.observe_fleet(spent=account.own_spent, reserved=account.own_reserved)
            key = account.key()
            args: list[Arg] = [self.me, account.own_spent, account.own_reserved, self._budget_ttl(key)]
            await self._scripts["BUDGET_RESYNC"](keys=[self.key(key)], args=args, client=pipe)
        await pipe.execute()

    async def _flush(self) -> None:
        if not (self._budget_deltas or self._bucket_deltas or self._circuits):
            return
        budgets, buckets, circuits = self._budget_deltas, self._bucket_deltas, self._circuits
        self._budget_deltas, self._bucket_deltas, self._circuits = {}, {}, {}
        try:
            async with asyncio.timeout(self.timeout_seconds * 5):
                pipe = self._client.pipeline(transaction=False)
                for key, (spent, reserved) in budgets.items():
                    args: list[Arg] = [self.me, spent, reserved, self._budget_ttl(key)]
                    await self._scripts["BUDGET_ADD"](keys=[self.key(key)], args=args, client=pipe)
                for key, (rate, capacity, delta) in buckets.items():
                    args = [int(rate), int(capacity), 0, 0, delta]
                    await self._scripts["BUCKET"](keys=[self.key(key)], args=args, client=pipe)
                for endpoint, signal in circuits.items():
                    pipe.set(self.key(f"circuit:{endpoint}"), signal, px=int(signal.rsplit(":", 1)[1]))
                await pipe.execute()
        except self._failures as exc:
            # Budget deltas are not lost: the resync on reconnect writes this sidecar's totals.
            self._went_down(exc)

    async def _heartbeat(self, table: RoutingTable | None) -> None:
        try:
            async with asyncio.timeout(self.timeout_seconds * 5):
                pipe = self._client.pipeline(transaction=False)
                await self._scripts["HEARTBEAT"](
                    keys=[self.key("sidecars")], args=[self.me, STALE_MS], client=pipe
                )
                accounts = list(table.budgets.values()) if table is not None else []
                for account in accounts:
                    keys = [self.key(account.key()), self.key("sidecars")]
                    await self._scripts["BUDGET_READ"](keys=keys, args=[STALE_MS], client=pipe)
                results = await pipe.execute()
        except self._failures as exc:
            self._went_down(exc)
            return
        self.live_sidecars = max(1, int(results[0]))
        for account, (spent, reserved) in zip(accounts, results[1:], strict=True):
            account.observe_fleet(spent=int(spent), reserved=int(reserved))

    async def _poll_signals(self, table: RoutingTable) -> None:
        names = list(table.endpoints)
        if not names:
            return
        try:
            async with asyncio.timeout(self.timeout_seconds * 5):
                values = await self._client.mget([self.key(f"circuit:{name}") for name in names])
        except self._failures as exc:
            self._went_down(exc)
            return
        for name, raw in zip(names, values, strict=True):
            value = raw.decode() if isinstance(raw, bytes) else raw
            if value is None or value == self._seen_signals.get(name):
                continue
            self._seen_signals[name] = value
            if not value.startswith(f"{self.me}:"):
                table.endpoints[name].gate.trip_by_signal()

    def _budget_ttl(self, key: str) -> int:
        window_seconds = int(key.split(":")[2])
        return window_seconds * 2 + BUDGET_TTL_SLACK_SECONDS

    async def close(self) -> None:
        await self._client.aclose()


def _redacted(url: str) -> str:
    """The URL without a password (redis://:secret@host -> redis://***@host)."""
    scheme, sep, rest = url.partition("://")
    if "@" in rest:
        rest = "***@" + rest.split("@", 1)[1]
    return scheme + sep + rest
