"""Startup settings of switchboard-sim: config file, `--model` and `--listen` merged into SimSettings.

(Named test_sim_settings.py so it cannot collide with the proxy's or operator's test_settings.py.)
"""

from __future__ import annotations

from pathlib import Path

import pytest

from switchboard_proxy.sim.profiles import Profile
from switchboard_proxy.sim.settings import SettingsError, SimSettings, build_settings, parse_listen_option


def test_model_flags_build_profiles() -> None:
    settings = build_settings(SimSettings(port=1234), model_options=["a:ttft_ms=5", "b"])
    assert settings.port == 1234
    assert dict(settings.profiles) == {"a": Profile(ttft_ms=5), "b": Profile()}


def test_flags_merge_over_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "sim.yaml"
    config.write_text("models:\n  a: {ttft_ms: 5, output_tokens: 3}\n  c: {}\nlisten:\n  a: 9101\n")
    settings = build_settings(
        SimSettings(), config_path=str(config), model_options=["a:ttft_ms=7"], listen_options=["b=9102"]
    )
    assert settings.profiles["a"] == Profile(ttft_ms=7, output_tokens=3), "field by field, flag wins"
    assert settings.profiles["b"] == Profile(), "a --listen model nobody described gets defaults"
    assert set(settings.profiles) == {"a", "b", "c"}
    assert dict(settings.listen) == {"a": 9101, "b": 9102}


def test_json_config_and_any_model(tmp_path: Path) -> None:
    config = tmp_path / "sim.json"
    config.write_text('{"models": {"a": {"fault": "hang"}}, "any_model": true}')
    settings = build_settings(SimSettings(), config_path=str(config))
    assert set(settings.profiles) == {"a", "default"}


def test_no_models_at_all_serves_any_model() -> None:
    assert set(build_settings(SimSettings()).profiles) == {"default"}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param("models:\n  a: {ttft_ms: -1}\n", "models.a: ttft_ms", id="bad-field"),
        pytest.param("models: [a]\n", "must be mappings", id="models-not-a-mapping"),
        pytest.param("listen: {a: http}\n", "listen.a", id="bad-port"),
        pytest.param("model: {}\n", "unknown keys", id="typo-at-top"),
        pytest.param("models: {a: [1]}\n", "models.a", id="profile-not-a-mapping"),
    ],
)
def test_bad_config_files_name_the_culprit(tmp_path: Path, content: str, message: str) -> None:
    config = tmp_path / "sim.yaml"
    config.write_text(content)
    with pytest.raises(SettingsError, match=message):
        build_settings(SimSettings(), config_path=str(config))


def test_missing_config_file() -> None:
    with pytest.raises(SettingsError, match="cannot read"):
        build_settings(SimSettings(), config_path="/nonexistent/sim.yaml")


@pytest.mark.parametrize("option", ["a", "a=", "=9100", "a=x", "a=70000"])
def test_bad_listen_options(option: str) -> None:
    with pytest.raises(SettingsError, match="--listen"):
        parse_listen_option(option)


def test_bad_model_flag_names_the_flag() -> None:
    with pytest.raises(SettingsError, match="--model a:fault=boom"):
        build_settings(SimSettings(), model_options=["a:fault=boom"])
