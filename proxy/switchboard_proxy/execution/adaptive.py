"""`AdaptiveLimit`: how many requests one endpoint should have in flight, found from observed latency.

A gradient limit in the manner of Netflix's concurrency-limits (Gradient) and Envoy's adaptive concurrency
filter. Every admitted attempt reports its latency (admission to the upstream's first byte: a whole JSON
answer, a stream's first event). Samples are gathered into short windows; at the end of each window
`next_limit()` compares the window's mean latency with the endpoint's no-load latency (the lowest window
mean seen, which drifts up slowly so that an upstream that really got slower is learnt):

    gradient = clamp(tolerance * no_load / window_mean, 0.5, 1)
    limit    = limit * gradient + headroom          (smoothed, within [1, maxConcurrency])

The no-load latency is measured in probe windows (the first one, and one every `probe_every` windows)
during which only `probe_limit` attempts may be in flight, as Envoy's filter does: under saturation
every other window's latency is inflated. While latency stays
within `tolerance` of no-load it grows by a tenth per window (only when the window actually used half
the limit: an idle endpoint tells nothing about its knee); once requests start queueing upstream, latency
rises with the excess and the gradient pulls the limit back to about `tolerance` x the upstream's
capacity, around which it then moves by a tenth at most. A window in which the upstream answered
429/503 or timed out backs off multiplicatively at once (AIMD's decrease). Pure arithmetic and a
small state machine with an injected clock; the lease feeds it, the slots read `limit`.
"""

from __future__ import annotations

from typing import NamedTuple

MIN_LIMIT = 1.0


class AdaptiveSettings(NamedTuple):
    """Tuning of the gradient; the defaults suit LLM upstreams (tens of ms to seconds per answer)."""

    tolerance: float = 1.1  # latency may rise to this multiple of no-load before the limit shrinks
    smoothing: float = 0.3  # share of the new estimate taken per window
    min_gradient: float = 0.5  # the most one window can shrink the limit by (halving)
    backoff: float = 0.9  # limit x this after a window with a 429/503 or a timeout
    probe_every: int = 60  # windows between two no-load probes (a window at `probe_limit` in flight)
    probe_limit: int = 3
    window_seconds: float = 0.25  # a window closes after this long once it has `window_samples`
    window_samples: int = 5
    max_window_seconds: float = 2.0  # ... or after this long with any sample at all


class Window(NamedTuple):
    """What one window saw: mean latency, the most in flight, whether the upstream pushed back."""

    mean_seconds: float
    max_inflight: int
    pushed_back: bool


def headroom(limit: float) -> float:
    """The increase per window while latency stays at no-load: a tenth of the limit (at least one), so a
    limit far below the knee gets there in tens of windows, and one at the knee overshoots it by little."""
    return max(1.0, limit * 0.1)


def next_limit(
    limit: float, *, ceiling: int, window: Window, no_load_seconds: float, settings: AdaptiveSettings
) -> float:
    """The limit after `window` (pure): gradient towards the knee, multiplicative backoff on pushback."""
    if window.pushed_back:
        return max(MIN_LIMIT, limit * settings.backoff)
    if window.mean_seconds <= 0 or no_load_seconds <= 0:
        return limit
    gradient = min(
        1.0, max(settings.min_gradient, settings.tolerance * no_load_seconds / window.mean_seconds)
    )
    # An endpoint that was never more than half busy has shown nothing about its knee: do not grow.
    grow = headroom(limit) if window.max_inflight * 2 >= limit else 0.0
    target = limit * gradient + (grow if gradient >= 1.0 else 0.0)
    smoothed = limit + settings.smoothing * (target - limit)
    return min(float(ceiling), max(MIN_LIMIT, smoothed))


def next_no_load(no_load_seconds: float, window_mean: float, *, probed: bool) -> float:
    """A probe window's mean is the no-load latency afresh (an upstream that got slower is learnt);
    between probes, the lowest window mean seen (pure)."""
    if probed or no_load_seconds <= 0:
        return window_mean
    return min(no_load_seconds, window_mean)


class AdaptiveLimit:
    """One endpoint's adaptive limit: gathers samples into windows and moves `value` at each window's end."""

    __slots__ = (
        "_count",
        "_max_inflight",
        "_probing",
        "_pushed_back",
        "_started",
        "_sum",
        "_windows",
        "ceiling",
        "no_load_seconds",
        "settings",
        "value",
    )

    def __init__(self, ceiling: int, *, now: float, settings: AdaptiveSettings | None = None) -> None:
        self.ceiling = ceiling
        self.settings = settings or AdaptiveSettings()
        self.value = float(ceiling)  # trusted until latency says otherwise
        # The first window is a probe: a few in flight, so the no-load latency is measured before the
        # upstream is pushed past its knee (where every latency seen would be inflated already).
        self._probing = True
        self._windows = 0
        self.no_load_seconds = 0.0
        self._started = now
        self._count = 0
        self._sum = 0.0
        self._max_inflight = 0
        self._pushed_back = False

    @property
    def limit(self) -> int:
        if self._probing:
            return max(1, min(int(self.value), self.settings.probe_limit))
        return max(1, int(self.value))

    def reconfigure(self, ceiling: int) -> None:
        self.ceiling = ceiling
        self.value = min(self.value, float(ceiling))

    def sample(self, seconds: float, *, inflight: int, now: float) -> bool:
        """One answered attempt's latency; True when it closed a window (the limit may have moved)."""
        if self._probing and (inflight > self.settings.probe_limit or now - seconds < self._started):
            # Admitted before the probe began: its latency is the loaded one, even when it arrives once
            # the backlog has drained to a few (it queued upstream behind that backlog). The probe counts
            # only what it admitted itself (and closes empty after max_window_seconds if nothing came).
            return self._maybe_close(now)
        self._count += 1
        self._sum += seconds
        self._max_inflight = max(self._max_inflight, inflight)
        return self._maybe_close(now)

    def push_back(self, *, now: float) -> bool:
        """The upstream answered 429/503 or timed out: the window ends with a backoff (at most one backoff
        per `window_seconds`, so a burst of 429s is one signal, not fifty)."""
        self._pushed_back = True
        return self._maybe_close(now)

    def _maybe_close(self, now: float) -> bool:
        settings, elapsed = self.settings, now - self._started
        enough = self._count >= settings.window_samples or self._pushed_back
        if not ((elapsed >= settings.window_seconds and enough) or elapsed >= settings.max_window_seconds):
            return False
        mean = self._sum / self._count if self._count else 0.0
        window = Window(mean, self._max_inflight, self._pushed_back)
        if mean > 0 and not self._pushed_back:
            self.no_load_seconds = next_no_load(self.no_load_seconds, mean, probed=self._probing)
        if not self._probing or self._pushed_back:
            self.value = next_limit(
                self.value,
                ceiling=self.ceiling,
                window=window,
                no_load_seconds=self.no_load_seconds,
                settings=settings,
            )
        self._windows += 1
        self._probing = self._windows % settings.probe_every == 0
        self._started, self._count, self._sum, self._max_inflight = now, 0, 0.0, 0
        self._pushed_back = False
        return True
