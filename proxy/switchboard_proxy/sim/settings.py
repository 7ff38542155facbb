"""Startup settings of `switchboard-sim`: flags and an optional YAML/JSON file, merged into one dataclass.

Where it sits: `main.py` parses flags and calls `build_settings`; `app.py` builds the server from the
resulting `SimSettings`. The config file has the shape
`{models: {NAME: {profile fields}}, listen: {NAME: PORT}, any_model: bool}`; `--model` flags are merged on
top of the file's models, field by field.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from switchboard_proxy.sim.profiles import Profile, ProfileError, merge_profile, parse_model_option
from switchboard_proxy.sim.state import DEFAULT_MODEL


@dataclass(frozen=True)
class SimSettings:
    """Everything the simulator needs to start; all defaulted."""

    host: str = "127.0.0.1"
    port: int = 9100
    profiles: Mapping[str, Profile] = field(default_factory=dict)
    # Model name -> extra port whose requests that model serves whatever the body says.
    listen: Mapping[str, int] = field(default_factory=dict)
    access_log: bool = False


class SettingsError(ValueError):
    """A flag or config file the simulator cannot start from; the message names the culprit."""


def build_settings(
    server: SimSettings,
    *,
    model_options: Sequence[str] = (),
    listen_options: Sequence[str] = (),
    config_path: str | None = None,
    any_model: bool = False,
) -> SimSettings:
    """`server` (host, port, access log) plus the config file's, `--model`'s and `--listen`'s models."""
    file_models: dict[str, Any] = {}
    listen: dict[str, int] = {}
    if config_path is not None:
        file_models, listen, file_any_model = load_config_file(Path(config_path))
        any_model = any_model or file_any_model
    profiles = _profiles_from(file_models, model_options=model_options)
    for option in listen_options:
        name, port = parse_listen_option(option)
        listen[name] = port
    # A --listen port for a model nobody described serves that model with default behaviour.
    for name in listen:
        profiles.setdefault(name, Profile())
    # Without any model the simulator would answer 404 to everything: serve any name instead.
    if any_model or not profiles:
        profiles.setdefault(DEFAULT_MODEL, Profile())
    return dataclasses.replace(server, profiles=profiles, listen=listen)


def _profiles_from(file_models: Mapping[str, Any], *, model_options: Sequence[str]) -> dict[str, Profile]:
    profiles: dict[str, Profile] = {}
    for name, fields in file_models.items():
        if not isinstance(fields, Mapping):
            raise SettingsError(f"models.{name}: expected a mapping of profile fields, got {fields!r}")
        profiles[str(name)] = _merge(Profile(), fields=fields, where=f"models.{name}")
    for option in model_options:
        try:
            name, fields = parse_model_option(option)
        except ProfileError as exc:
            raise SettingsError(f"--model {option}: {exc}") from None
        profiles[name] = _merge(profiles.get(name, Profile()), fields=fields, where=f"--model {option}")
    return profiles


def _merge(base: Profile, *, fields: Mapping[str, Any], where: str) -> Profile:
    try:
        return merge_profile(base, fields=fields)
    except ProfileError as exc:
        raise SettingsError(f"{where}: {exc}") from None


def parse_listen_option(option: str) -> tuple[str, int]:
    """Parse `--listen NAME=PORT`."""
    name, sep, port_text = option.partition("=")
    if not sep or not name.strip() or not port_text.strip().isdigit():
        raise SettingsError(f"--listen {option}: expected NAME=PORT, e.g. small=9101")
    port = int(port_text)
    if not 0 < port < 65536:
        raise SettingsError(f"--listen {option}: port must be between 1 and 65535")
    return name.strip(), port


def load_config_file(path: Path) -> tuple[dict[str, Any], dict[str, int], bool]:
    """Read `{models, listen, any_model}` from a YAML or JSON file."""
    try:
        text = path.read_text()
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise SettingsError(f"{path}: cannot read config: {exc}") from None
    data = data or {}
    if not isinstance(data, dict):
        raise SettingsError(f"{path}: expected a mapping with 'models' and 'listen'")
    unknown = set(data) - {"models", "listen", "any_model"}
    if unknown:
        raise SettingsError(f"{path}: unknown keys {sorted(unknown)}; expected models, listen, any_model")
    models = data.get("models") or {}
    listen = data.get("listen") or {}
    if not isinstance(models, dict) or not isinstance(listen, dict):
        raise SettingsError(f"{path}: 'models' and 'listen' must be mappings")
    ports: dict[str, int] = {}
    for name, port in listen.items():
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise SettingsError(f"{path}: listen.{name}: expected a port number, got {port!r}")
        ports[str(name)] = port
    return models, ports, bool(data.get("any_model", False))
