"""The acceptance's full runs of the sequential test: 1,000 seeded A/A experiments checked at every step,
and 1,000 with a true difference of 0.05 in mean feedback (pure code; here for its few seconds)."""

from __future__ import annotations

import math

import pytest

from unit.statistics.test_sequential import assert_powerful, false_positive_rate, power_run

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_1000_aa_experiments_keep_false_positives_under_alpha() -> None:
    rate, standard_error = false_positive_rate(1000)
    print(f"A/A false positives: {rate:.3f} (SE {standard_error:.4f}, bound {0.05 + 2 * standard_error:.4f})")
    assert rate <= 0.05 + 2 * standard_error


def test_1000_experiments_with_a_true_difference_conclude_for_the_better() -> None:
    fixed, stops, outcomes = power_run(1000)
    concluded = sorted(n for n in stops if n is not None)
    power = outcomes.count("candidate") / len(outcomes)
    print(
        f"fixed-sample n {fixed}; concluded for the better by {2 * fixed}: {power:.3f} "
        f"(SE {math.sqrt(power * (1 - power) / 1000):.3f}); median stop {concluded[len(concluded) // 2]}; "
        f"for the worse: {outcomes.count('control')}"
    )
    assert_powerful(fixed, stops, outcomes)
