"""`ConfigWatcher`: one loop, one swap. Load -> validate -> compare version -> build table -> swap.

Sources: the compiled config file (`--config`; the kubelet swaps a `..data` symlink, which changes the
file's inode and mtime), resource files (`--resources`, compiled in-process), the credentials directory
(a rotated key rebuilds the table with the same config), SIGHUP (reload now), and the ConfigMap watch
(`kubewatch`, which hands over new text directly). A new config is validated completely before anything
changes; the swap is one assignment, so a request in flight keeps the table it started with. On any error
the last good table stays, `last_error` says why and `config_reloads_total{result="error"}` counts it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from ..accounting.metrics import Metrics
from ..config import (
    ConfigError,
    ConfigProblem,
    RouterConfig,
    compile,
    load_resources,
    load_router_config,
    parse_router_config,
)
from ..config.loading import iter_resource_files
from ..execution.fleet import Fleet
from ..execution.runtime import Credentials, RoutingTable
from ..settings import ProxySettings

log = logging.getLogger("switchboard.reload")
Fingerprint = tuple[object, ...]


@dataclass(eq=False)
class ConfigHolder:
    """The table requests start on, swapped whole by the watcher; plus what the last reload said."""

    table: RoutingTable | None = None
    source: str = ""
    last_error: str = ""
    last_error_at: float = 0.0
    applied: int = 0
    refused: int = 0
    draining: bool = False


class ConfigWatcher:
    """Keeps `holder.table` on the newest valid config."""

    def __init__(
        self,
        settings: ProxySettings,
        holder: ConfigHolder,
        metrics: Metrics,
        *,
        clock: Callable[[], float] = time.time,
        fleet: Fleet | None = None,
    ) -> None:
        self.settings = settings
        self.holder = holder
        self.metrics = metrics
        self.fleet = fleet  # the shared state every table's budgets and buckets use, when --state is set
        self.credentials = Credentials(settings.credentials_dir)
        self._clock = clock
        self._seen: Fingerprint | None = None
        self._credentials_seen: Fingerprint | None = None
        self._wake = asyncio.Event()
        self.api_is_authoritative = False  # set by the ConfigMap watch while it is connected
        holder.source = settings.source

    def load_initial(self) -> str:
        """The first load, at start; the poll loop then looks only for changes after it."""
        self._seen = self.fingerprint()  # taken before reading: a write meanwhile is seen by the poll
        return self.reload()

    def request_reload(self) -> None:
        """SIGHUP: reload at the next turn of the loop, whether or not files changed."""
        self._seen = None
        self._wake.set()

    def fingerprint(self) -> Fingerprint:
        """What changes when the config source or the credentials change."""
        paths = (
            [self.settings.config_path]
            if self.settings.config_path
            else list(iter_resource_files(self.settings.resource_paths))
        )
        stats: list[object] = []
        for path in paths:
            try:
                stat = os.stat(path)  # follows the kubelet's ..data symlink to the current file
                stats.append((str(path), os.path.realpath(path), stat.st_ino, stat.st_mtime_ns, stat.st_size))
            except (OSError, TypeError):
                stats.append((str(path), None))
        return (tuple(stats), self.credentials.fingerprint())

    def load_from_source(self) -> RouterConfig:
        """Read and fully validate the configured source; raises ConfigError."""
        if self.settings.config_path is not None:
            return load_router_config(self.settings.config_path)
        loaded = load_resources(self.settings.resource_paths)
        if loaded.problems:
            raise ConfigError(loaded.problems)
        if not loaded.documents:
            # An empty directory or a half-written file: keep serving the last good config.
            where = ", ".join(str(p) for p in self.settings.resource_paths)
            raise ConfigError([ConfigProblem("", "", "", f"no Switchboard resources found in {where}")])
        return compile(loaded.resources, now=datetime.now(UTC))

    def reload(self, *, config: RouterConfig | None = None, source: str = "") -> str:
        """One reload; returns its result: applied, unchanged or error."""
        try:
            new = config if config is not None else self.load_from_source()
            current = self.holder.table
            if current is not None and current.config == new and not self._credentials_changed():
                self._succeeded()
                current.source = source or current.source  # the same config, now from this source
                self.metrics.config_reloads.labels("unchanged").inc()
                return "unchanged"
            table = RoutingTable.build(
                new,
                credentials=self.credentials,
                source=source or self.settings.source,
                previous=current,
                fleet=self.fleet,
            )
        except ConfigError as exc:
            return self._refuse("; ".join(str(p) for p in exc.problems) or str(exc))
        except (OSError, ValueError) as exc:
            return self._refuse(f"cannot load config: {exc}")
        if current is not None and current.config.version == new.version and current.config != new:
            log.warning("config content changed but its version %s did not; applying it anyway", new.version)
        self.holder.table = table  # the swap: requests already running keep their own reference
        self._credentials_seen = self.credentials.fingerprint()
        self.holder.applied += 1
        self._succeeded()
        self.metrics.config_reloads.labels("applied").inc()
        self.metrics.set_config_version(new.version)
        log.info(
            "serving config %s from %s (%d routes, %d endpoints)",
            new.version,
            table.source,
            len(new.routes),
            len(new.endpoints),
        )
        return "applied"

    def apply_text(self, raw: bytes | str, *, source: str) -> str:
        """A config document from elsewhere (the ConfigMap watch): validate, then reload with it."""
        try:
            config = parse_router_config(raw, source=source)
        except ConfigError as exc:
            return self._refuse("; ".join(str(p) for p in exc.problems))
        return self.reload(config=config, source=source)

    def _credentials_changed(self) -> bool:
        return self._credentials_seen != self.credentials.fingerprint()

    def _succeeded(self) -> None:
        """The newest config is good (new or the same as served): nothing is refused any more."""
        self.holder.last_error = ""
        self.holder.last_error_at = 0.0
        self.metrics.config_error.set(0)

    def _refuse(self, reason: str) -> str:
        self.holder.last_error = reason
        self.holder.last_error_at = self._clock()
        self.holder.refused += 1
        self.metrics.config_reloads.labels("error").inc()
        self.metrics.config_error.set(1)
        serving = self.holder.table.config.version if self.holder.table else "nothing"
        log.error("config refused, still serving %s: %s", serving, reason)
        return "error"

    async def run(self) -> None:
        """Poll the files (and wake on SIGHUP) until cancelled."""
        while True:
            fingerprint = self.fingerprint()
            if fingerprint != self._seen:
                self._seen = fingerprint
                # While the ConfigMap watch is connected it is the newer source; the file is the fallback.
                if not self.api_is_authoritative or self.holder.table is None:
                    self.reload()
                elif self._credentials_changed():
                    # Keys live only in the mounted Secret, whichever source the config comes from: a
                    # rotated key is applied to the config being served.
                    self.reload(config=self.holder.table.config, source=self.holder.table.source)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.settings.poll_seconds)
