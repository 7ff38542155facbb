"""The always-valid sequential test: peeking at every step keeps false positives under alpha, and a true
difference is found within twice the fixed-sample size.

The unit tier runs 300 seeded A/A experiments (about a second); tests/integration/test_sequential_full.py
runs the acceptance's full 1,000 with the same code.
"""

from __future__ import annotations

import math
import random

import pytest

from switchboard_proxy.statistics import Sample, SequentialSettings, compare, fixed_sample_size
from switchboard_proxy.statistics.sequential import half_width

FEEDBACK = SequentialSettings(tau=0.05, margin=0.0, min_count=200)
HORIZON = 2000


class Arm:
    """Running count, sum and sum of squares of one arm's observations."""

    __slots__ = ("n", "squares", "total")

    def __init__(self) -> None:
        self.n, self.total, self.squares = 0, 0.0, 0.0

    def add(self, value: float) -> None:
        self.n += 1
        self.total += value
        self.squares += value * value

    def sample(self) -> Sample:
        mean = self.total / self.n
        return Sample(self.n, mean, max(self.squares / self.n - mean * mean, 0.0))


def run_experiment(
    seed: int, draw_a: random.Random, horizon: int, *, mean_a: float, mean_b: float, scores: bool
) -> tuple[int | None, str]:
    """One experiment checked after every pair of observations: (stopping n, outcome)."""
    rng = random.Random(seed)
    a, b = Arm(), Arm()
    for n in range(1, horizon + 1):
        a.add(_draw(rng, mean_a, scores))
        b.add(_draw(rng, mean_b, scores))
        if n >= FEEDBACK.min_count:
            outcome = compare(a.sample(), b.sample(), FEEDBACK).outcome
            if outcome in ("candidate", "control"):
                return n, outcome
    return None, "running"


def _draw(rng: random.Random, mean: float, scores: bool) -> float:
    if scores:  # a feedback score in 0..1 with this mean (Beta with 10 pseudo-observations)
        return rng.betavariate(10 * mean, 10 * (1 - mean))
    return float(rng.random() < mean)  # a thumbs up or down


def false_positive_rate(experiments: int) -> tuple[float, float]:
    concluded = sum(
        run_experiment(seed, random.Random(), HORIZON, mean_a=0.7, mean_b=0.7, scores=False)[1] != "running"
        for seed in range(experiments)
    )
    rate = concluded / experiments
    return rate, math.sqrt(0.05 * 0.95 / experiments)


def test_aa_experiments_peeked_at_every_step_keep_false_positives_under_alpha() -> None:
    rate, standard_error = false_positive_rate(300)
    assert rate <= 0.05 + 2 * standard_error, rate


def power_run(experiments: int, *, scores: bool = False) -> tuple[int, list[int | None], list[str]]:
    """Feedback 0.70 against 0.75, each run stopped at twice the fixed-sample size for 80% power."""
    # Beta(10m, 10(1-m)) scores have variance m(1-m)/11; thumbs up or down m(1-m).
    variance = (0.7 * 0.3 / 11, 0.75 * 0.25 / 11) if scores else (0.7 * 0.3, 0.75 * 0.25)
    fixed = fixed_sample_size(variance_a=variance[0], variance_b=variance[1], effect=0.05)
    runs = [
        run_experiment(10_000 + s, random.Random(), 2 * fixed, mean_a=0.70, mean_b=0.75, scores=scores)
        for s in range(experiments)
    ]
    return fixed, [n for n, _ in runs], [o for _, o in runs]


def assert_powerful(fixed: int, stops: list[int | None], outcomes: list[str]) -> None:
    """At least 80% (less two standard errors of the estimate) conclude for the better variant by twice
    the fixed-sample size, the median run stops before it, and none concludes for the worse one
    (beyond the alpha a test may err by)."""
    runs = len(outcomes)
    power = outcomes.count("candidate") / runs
    assert power >= 0.8 - 2 * math.sqrt(0.8 * 0.2 / runs), (fixed, power)
    assert outcomes.count("control") <= 0.05 * runs
    concluded = sorted(n for n in stops if n is not None)
    assert concluded[len(concluded) // 2] <= 2 * fixed


def test_a_true_difference_in_thumbs_concludes_within_twice_the_fixed_sample_size() -> None:
    fixed, stops, outcomes = power_run(100)
    assert fixed == 1248
    assert_powerful(fixed, stops, outcomes)


def test_a_true_difference_in_scores_concludes_within_twice_the_fixed_sample_size() -> None:
    assert_powerful(*power_run(100, scores=True))


def test_nothing_is_concluded_before_min_count() -> None:
    few = Sample(199, 0.9, 0.09)
    assert compare(Sample(199, 0.1, 0.09), few, FEEDBACK).outcome == "running"


@pytest.mark.parametrize(
    ("control", "candidate", "higher_is_better", "outcome"),
    [
        pytest.param(0.70, 0.80, True, "candidate", id="higher-wins"),
        pytest.param(0.80, 0.70, True, "control", id="control-higher"),
        pytest.param(0.10, 0.02, False, "candidate", id="lower-error-wins"),
        pytest.param(0.02, 0.10, False, "control", id="candidate-errs-more"),
    ],
)
def test_the_outcome_names_the_better_side(
    control: float, candidate: float, higher_is_better: bool, outcome: str
) -> None:
    settings = SequentialSettings(tau=0.05, margin=0.0, higher_is_better=higher_is_better)
    result = compare(
        Sample(5000, control, control * (1 - control)),
        Sample(5000, candidate, candidate * (1 - candidate)),
        settings,
    )
    assert result.outcome == outcome
    assert result.low <= result.difference <= result.high


def test_equivalence_once_the_interval_fits_inside_the_margin() -> None:
    settings = SequentialSettings(tau=0.05, margin=0.02)
    same = Sample(100_000, 0.7, 0.21)
    assert compare(same, same, settings).outcome == "equivalent"
    assert compare(Sample(300, 0.7, 0.21), Sample(300, 0.7, 0.21), settings).outcome == "running"


def test_the_confidence_sequence_is_wider_than_a_fixed_sample_interval() -> None:
    variance = 0.21 / 1000 * 2
    assert half_width(variance, tau=0.05, alpha=0.05) > 1.96 * math.sqrt(variance)


def test_fixed_sample_size_of_the_textbook_case() -> None:
    # 80% power, two-sided 5%, p 0.5 vs 0.55: about 1,565 per arm.
    assert fixed_sample_size(variance_a=0.25, variance_b=0.2475, effect=0.05) == pytest.approx(1562, abs=5)
