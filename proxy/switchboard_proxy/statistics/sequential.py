"""An always-valid comparison of two means: the mixture sequential probability ratio test (mSPRT).

Johari, Pekelis, Koomen and Walsh, "Always Valid Inference: Continuous Monitoring of A/B Tests" (2017,
Operations Research 2022). For the difference d = mean(candidate) - mean(control) with estimate D and
variance V = var_a/n_a + var_b/n_b, a normal mixture N(0, tau^2) over the alternatives gives the
likelihood ratio

    L = sqrt(V / (V + tau^2)) * exp(D^2 tau^2 / (2 V (V + tau^2)))

and rejecting "no difference" once L >= 1/alpha keeps the false-positive rate under alpha however often
the test is looked at (Ville's inequality): the operator may run it at every reconcile. Inverting it
gives a confidence sequence, D +- w with

    w = sqrt(2 V (V + tau^2) / tau^2 * (log(1/alpha) + log((V + tau^2) / V) / 2)),

and the test concludes for a variant once the interval leaves 0 on its side. It concludes "no
difference" once the interval lies inside +- `margin`, the smallest difference worth acting on.
`tau` is the size of difference the test is most sensitive to; a good choice is the effect one hopes
to detect. The normal approximation needs a few hundred requests per arm, hence `minRequests`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, NamedTuple

from .samples import Sample

Outcome = Literal["running", "candidate", "control", "equivalent"]
Z95, Z80 = 1.959964, 0.841621


@dataclass(frozen=True)
class SequentialSettings:
    """How one metric is compared: its mixture scale, the smallest difference that matters, alpha."""

    tau: float  # standard deviation of the mixture over differences, in the metric's unit
    margin: float  # |difference| below which the variants count as the same, in the metric's unit
    alpha: float = 0.05
    higher_is_better: bool = True
    min_count: float = 200  # observations per arm before anything is concluded


class Comparison(NamedTuple):
    """The candidate against the control: difference, its always-valid interval and the outcome."""

    difference: float  # candidate - control, in the metric's unit
    low: float
    high: float
    outcome: Outcome


def half_width(variance: float, *, tau: float, alpha: float) -> float:
    """Half-width of the mSPRT confidence sequence at variance `variance` of the difference."""
    if variance <= 0:
        return 0.0
    t2 = tau * tau
    return math.sqrt(
        2 * variance * (variance + t2) / t2 * (math.log(1 / alpha) + math.log((variance + t2) / variance) / 2)
    )


def compare(control: Sample, candidate: Sample, settings: SequentialSettings) -> Comparison:
    """Compare two samples; `running` until both have `min_count` observations and the evidence decides."""
    difference = candidate.mean - control.mean
    if min(control.size, candidate.size) < settings.min_count:
        return Comparison(difference, -math.inf, math.inf, "running")
    variance = control.variance / control.size + candidate.variance / candidate.size
    # Two samples without any spread (every request failed, or none did): a sliver of variance keeps the
    # interval honest instead of collapsing it to a point.
    variance = max(variance, 1e-12)
    width = half_width(variance, tau=settings.tau, alpha=settings.alpha)
    low, high = difference - width, difference + width
    if low > 0 or high < 0:
        better_candidate = (low > 0) == settings.higher_is_better
        return Comparison(difference, low, high, "candidate" if better_candidate else "control")
    if -settings.margin < low and high < settings.margin:
        return Comparison(difference, low, high, "equivalent")
    return Comparison(difference, low, high, "running")


def fixed_sample_size(*, variance_a: float, variance_b: float, effect: float, alpha: float = 0.05) -> int:
    """Observations per arm a fixed-horizon two-sided z-test needs for 80% power at `effect`."""
    return math.ceil((Z95 + Z80) ** 2 * (variance_a + variance_b) / (effect * effect))
