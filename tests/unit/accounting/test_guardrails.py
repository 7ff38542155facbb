"""Guardrails: a variant breaches once it has enough requests and too high an error rate, reported once."""

from __future__ import annotations

from switchboard_proxy.accounting.guardrails import Guardrails, VariantHealth, breaches
from switchboard_proxy.config.model import ExperimentConfig

EXPERIMENT = ExperimentConfig(name="x", sticky_by="user", max_error_rate=0.1, min_requests=20)


def test_no_experiment_never_breaches() -> None:
    guardrails = Guardrails()
    assert not any(guardrails.observe("r", "v", failed=True, experiment=None) for _ in range(100))


def test_breach_is_reported_exactly_once() -> None:
    guardrails = Guardrails()
    verdicts = [guardrails.observe("r", "v", failed=True, experiment=EXPERIMENT) for _ in range(100)]
    assert verdicts.count(True) == 1
    assert verdicts.index(True) == EXPERIMENT.min_requests - 1  # the 20th request is enough to judge


def test_too_few_requests_are_not_judged() -> None:
    guardrails = Guardrails()
    assert not any(guardrails.observe("r", "v", failed=True, experiment=EXPERIMENT) for _ in range(19))


def test_error_rate_at_the_limit_does_not_breach_above_it_does() -> None:
    guardrails = Guardrails()
    for index in range(100):
        assert not guardrails.observe("r", "v", failed=index % 10 == 9, experiment=EXPERIMENT)  # <= 10 %
    assert guardrails.observe("r", "v", failed=True, experiment=EXPERIMENT)  # 11/101 > 10 %


def test_variants_and_routes_are_counted_apart() -> None:
    guardrails = Guardrails()
    for _ in range(30):
        guardrails.observe("r", "good", failed=False, experiment=EXPERIMENT)
        guardrails.observe("other", "bad", failed=False, experiment=EXPERIMENT)
    verdicts = [guardrails.observe("r", "bad", failed=True, experiment=EXPERIMENT) for _ in range(30)]
    assert verdicts.count(True) == 1
    assert guardrails.health[("r", "good")].error_rate == 0.0
    assert guardrails.health[("other", "bad")].error_rate == 0.0


def test_variant_health_and_breaches() -> None:
    assert VariantHealth().error_rate == 0.0
    assert VariantHealth(requests=10, failures=5).error_rate == 0.5
    assert not breaches(VariantHealth(requests=19, failures=19), EXPERIMENT)
    assert breaches(VariantHealth(requests=20, failures=3), EXPERIMENT)
    assert not breaches(VariantHealth(requests=20, failures=2), EXPERIMENT)
