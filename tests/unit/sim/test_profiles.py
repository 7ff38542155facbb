"""Profile rules of switchboard-sim: parsing `--model`, merging and validating fields, fault decisions."""

from __future__ import annotations

import pytest

from switchboard_proxy.sim.profiles import (
    FAULTS,
    REDACTED,
    Profile,
    ProfileError,
    coerce_text_fields,
    decide_fault,
    merge_profile,
    parse_model_option,
    profile_to_dict,
)


@pytest.mark.parametrize(
    ("option", "name", "fields"),
    [
        pytest.param("small", "small", {}, id="name-only"),
        pytest.param(
            "small:ttft_ms=20,tokens_per_second=500",
            "small",
            {"ttft_ms": 20, "tokens_per_second": 500.0},
            id="int-and-float",
        ),
        pytest.param(
            "k: api_key=sk-1 , fault=rate-limited,",
            "k",
            {"api_key": "sk-1", "fault": "rate-limited"},
            id="spaces-and-trailing-comma",
        ),
        pytest.param("m:error_rate=0.25", "m", {"error_rate": 0.25}, id="probability"),
    ],
)
def test_parse_model_option(option: str, name: str, fields: dict[str, object]) -> None:
    assert parse_model_option(option) == (name, fields)


@pytest.mark.parametrize(
    ("option", "bad_field"),
    [
        pytest.param(":ttft_ms=1", "model", id="no-name"),
        pytest.param("m:ttft_ms", "ttft_ms", id="no-equals"),
        pytest.param("m:ttft_ms=fast", "ttft_ms", id="not-an-int"),
        pytest.param("m:colour=red", "colour", id="unknown-field"),
    ],
)
def test_parse_model_option_names_the_bad_field(option: str, bad_field: str) -> None:
    with pytest.raises(ProfileError) as caught:
        parse_model_option(option)
    assert caught.value.problems[0][0] == bad_field
    assert bad_field in str(caught.value)


def test_merge_applies_fields_and_keeps_the_rest() -> None:
    base = Profile(ttft_ms=5, output_tokens=3)
    merged = merge_profile(base, fields={"fault": "error-503", "fail_count": 2, "tokens_per_second": 100})
    assert merged == Profile(
        ttft_ms=5, output_tokens=3, fault="error-503", fail_count=2, tokens_per_second=100.0
    )
    assert base.fault == "none", "the base profile is frozen and unchanged"


@pytest.mark.parametrize(
    ("fields", "bad_field"),
    [
        pytest.param({"ttft_ms": -1}, "ttft_ms", id="negative-time"),
        pytest.param({"ttft_ms": "20"}, "ttft_ms", id="string-for-int"),
        pytest.param({"ttft_ms": True}, "ttft_ms", id="bool-is-not-an-int"),
        pytest.param({"ttft_ms": 1.5}, "ttft_ms", id="fractional-int"),
        pytest.param({"error_rate": 1.5}, "error_rate", id="rate-above-one"),
        pytest.param({"fault": "explode"}, "fault", id="unknown-fault"),
        pytest.param({"context_window": 0}, "context_window", id="empty-window"),
        pytest.param({"tokens_per_second": -3}, "tokens_per_second", id="negative-rate"),
        pytest.param({"served": "x"}, "served", id="unknown-field"),
    ],
)
def test_merge_rejects_bad_fields(fields: dict[str, object], bad_field: str) -> None:
    with pytest.raises(ProfileError) as caught:
        merge_profile(Profile(), fields=fields)
    assert [name for name, _ in caught.value.problems] == [bad_field]


def test_merge_reports_every_problem_not_just_the_first() -> None:
    with pytest.raises(ProfileError) as caught:
        merge_profile(Profile(), fields={"ttft_ms": -1, "fault": "explode", "nope": 1})
    assert sorted(name for name, _ in caught.value.problems) == ["fault", "nope", "ttft_ms"]


def test_merge_accepts_integral_floats_and_ints_for_floats() -> None:
    merged = merge_profile(Profile(), fields={"ttft_ms": 20.0, "error_rate": 1})
    assert (merged.ttft_ms, merged.error_rate) == (20, 1.0)
    assert isinstance(merged.ttft_ms, int)


def test_coerce_text_fields_types_by_field() -> None:
    assert coerce_text_fields({"seed": "7", "error_rate": "0.5", "served_model": "gpt-x"}) == {
        "seed": 7,
        "error_rate": 0.5,
        "served_model": "gpt-x",
    }


def test_profile_to_dict_redacts_the_key() -> None:
    data = profile_to_dict(Profile(api_key="sk-secret"))
    assert data["api_key"] == REDACTED
    assert profile_to_dict(Profile(api_key="sk-secret"), redact=False)["api_key"] == "sk-secret"
    assert profile_to_dict(Profile())["api_key"] == "", "no key: nothing to redact"


def test_every_fault_is_accepted() -> None:
    for fault in FAULTS:
        assert merge_profile(Profile(), fields={"fault": fault}).fault == fault


@pytest.mark.parametrize(
    ("profile", "draw", "remaining", "expected"),
    [
        pytest.param(Profile(), 0.0, 0, (False, 0), id="no-fault"),
        pytest.param(Profile(fault="error-500"), 0.99, 0, (True, 0), id="always-by-default"),
        pytest.param(Profile(fault="error-500", error_rate=0.3), 0.2, 0, (True, 0), id="draw-below-rate"),
        pytest.param(Profile(fault="error-500", error_rate=0.3), 0.3, 0, (False, 0), id="draw-at-rate"),
        pytest.param(Profile(fault="reset", error_rate=0.0), 0.0, 0, (False, 0), id="rate-zero-never"),
        pytest.param(Profile(fault="reset", fail_count=2), 0.5, 2, (True, 1), id="budget-consumed"),
        pytest.param(Profile(fault="reset", fail_count=2), 0.5, 0, (False, 0), id="budget-exhausted"),
        pytest.param(
            Profile(fault="reset", fail_count=2, error_rate=0.5), 0.7, 2, (False, 2), id="miss-keeps-budget"
        ),
    ],
)
def test_decide_fault(profile: Profile, draw: float, remaining: int, expected: tuple[bool, int]) -> None:
    assert decide_fault(profile, draw=draw, remaining=remaining) == expected
