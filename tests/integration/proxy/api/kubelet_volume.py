"""Files published the way the kubelet publishes a ConfigMap or Secret volume, and compiled configs.

The kubelet writes each version into a fresh `..<timestamp>` directory, points `..data` at it by renaming a
temporary symlink over it (one atomic step), and exposes every key as `<key> -> ..data/<key>`. The sidecar
must notice the swap of `..data`, so the tests publish exactly like that.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from switchboard_proxy.config import Resources, compile, parse_resource


class KubeletVolume:
    """A mounted ConfigMap/Secret directory whose content is swapped atomically by `publish`."""

    _counter = itertools.count(1)

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    def path(self, key: str) -> Path:
        return self.directory / key

    def publish(self, files: dict[str, str]) -> None:
        """Write a new version of every key and swap `..data` to it in one rename."""
        version = self.directory / f"..2026_01_01_00_00_{next(self._counter):02d}.{os.getpid()}"
        version.mkdir()
        for key, text in files.items():
            (version / key).write_text(text)
        temporary = self.directory / "..data_tmp"
        temporary.unlink(missing_ok=True)
        temporary.symlink_to(version.name)
        os.replace(temporary, self.directory / "..data")
        for key in files:
            link = self.directory / key
            if not link.is_symlink():
                link.symlink_to(Path("..data") / key)


def compile_config(documents: Iterable[dict[str, Any]]) -> str:
    """The compiled config JSON (what the operator writes into the ConfigMap) for resource documents."""
    parsed = []
    for document in documents:
        resource, problems = parse_resource(document)
        assert resource is not None, problems
        parsed.append(resource)
    return compile(Resources.of(parsed)).model_dump_json(indent=2)


def config_version(config_json: str) -> str:
    version: str = json.loads(config_json)["version"]
    return version
