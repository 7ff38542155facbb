"""ConfigWatcher: load -> validate -> compare -> build -> swap, keeping the last good table on any error."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest

from support.builders import endpoint, resources, route
from support.waiting import until
from switchboard_proxy.accounting.metrics import Metrics
from switchboard_proxy.config import RouterConfig, compile
from switchboard_proxy.config.consistency import reference_problems
from switchboard_proxy.reloading import ConfigHolder, ConfigWatcher
from switchboard_proxy.settings import ProxySettings


def config_json(target: str = "a", *, key_env: str = "") -> str:
    spec = {"apiKey": {"env": key_env}} if key_env else {}
    items = [endpoint("a", **spec), endpoint("b"), route("chat", [target], default=True)]
    return compile(resources(*items)).model_dump_json()


def publish(directory: Path, text: str, generation: int) -> None:
    """The kubelet's way: a new `..<ts>` directory, `..data` swapped by one rename, stable key symlinks."""
    version = directory / f"..2026_{generation:04d}"
    version.mkdir()
    (version / "config.json").write_text(text)
    temporary = directory / "..data_tmp"
    temporary.symlink_to(version.name)
    os.replace(temporary, directory / "..data")
    link = directory / "config.json"
    if not link.is_symlink():
        link.symlink_to("..data/config.json")


def watcher_for(path: Path, **settings: object) -> tuple[ConfigWatcher, ConfigHolder]:
    holder = ConfigHolder()
    clock_value = [1234.5]
    watcher = ConfigWatcher(
        ProxySettings(config_path=path, **settings),  # type: ignore[arg-type]
        holder,
        Metrics(),
        clock=lambda: clock_value[0],
    )
    return watcher, holder


def gauge(watcher: ConfigWatcher, name: str, **labels: str) -> float | None:
    return watcher.metrics.registry.get_sample_value(name, labels)


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "config.json"
    path.write_text(config_json("a"))
    return path


def test_applied_then_unchanged(config_file: Path) -> None:
    watcher, holder = watcher_for(config_file)
    assert watcher.reload() == "applied"
    table = holder.table
    assert table is not None and table.config.routes["chat"].variants[0].targets[0].endpoint == "a"
    assert watcher.reload() == "unchanged"
    assert holder.table is table and holder.applied == 1
    assert gauge(watcher, "switchboard_config_info", version=table.config.version) == 1


def test_a_new_config_swaps_the_table_and_keeps_live_endpoint_state(config_file: Path) -> None:
    watcher, holder = watcher_for(config_file)
    watcher.reload()
    first = holder.table
    assert first is not None
    config_file.write_text(config_json("b"))
    assert watcher.reload() == "applied"
    second = holder.table
    assert second is not None and second is not first
    assert second.config.routes["chat"].variants[0].targets[0].endpoint == "b"
    assert second.endpoints["a"] is first.endpoints["a"]  # circuits and limits survive reloads
    assert second.endpoints["a"].gate is first.endpoints["a"].gate
    assert first.config.routes["chat"].variants[0].targets[0].endpoint == "a"  # in-flight keep theirs


@pytest.mark.parametrize(
    "broken",
    [
        pytest.param("{not json", id="bad-json"),
        pytest.param("[]", id="json-array"),
        pytest.param('{"version": "v"}', id="missing-fields"),
        pytest.param("", id="empty"),
    ],
)
def test_an_invalid_config_is_refused_and_the_last_good_stays(config_file: Path, broken: str) -> None:
    watcher, holder = watcher_for(config_file)
    watcher.reload()
    good = holder.table
    config_file.write_text(broken)
    assert watcher.reload() == "error"
    assert holder.table is good
    assert holder.last_error and holder.last_error_at == 1234.5 and holder.refused == 1
    assert gauge(watcher, "switchboard_config_last_reload_failed") == 1
    assert good is not None and gauge(watcher, "switchboard_config_info", version=good.config.version) == 1


def test_restoring_the_last_good_file_clears_the_error(config_file: Path) -> None:
    watcher, holder = watcher_for(config_file)
    watcher.reload()
    good_text = config_file.read_text()
    config_file.write_text("{")
    assert watcher.reload() == "error"
    config_file.write_text(good_text)
    assert watcher.reload() == "unchanged"
    assert holder.last_error == "" and holder.last_error_at == 0.0
    assert gauge(watcher, "switchboard_config_last_reload_failed") == 0


def test_a_missing_file_is_an_error_not_a_crash(tmp_path: Path) -> None:
    watcher, holder = watcher_for(tmp_path / "absent.json")
    assert watcher.reload() == "error"
    assert holder.table is None and "absent.json" in holder.last_error


def mutate(text: str, change: str) -> str:
    document = json.loads(text)
    if change == "ghost-target":
        document["routes"]["chat"]["variants"][0]["targets"][0]["endpoint"] = "ghost"
    elif change == "ghost-chain":
        document["routes"]["chat"]["variants"][0]["policy"]["chain"] = ["ghost"]
    elif change == "ghost-default":
        document["default_route"] = "ghost"
    elif change == "ghost-alias":
        document["model_routes"]["alias"] = "ghost"
    elif change == "renamed-endpoint":
        document["endpoints"]["a"]["name"] = "z"
    elif change == "no-variants":
        document["routes"]["chat"]["variants"] = []
    return json.dumps(document)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ("ghost-target", "routes.chat.variants[0].targets"),
        ("ghost-chain", "routes.chat.variants[0].policy.chain"),
        ("ghost-default", "default_route"),
        ("ghost-alias", "model_routes.alias"),
        ("renamed-endpoint", "endpoints.a.name"),
        ("no-variants", "routes.chat.variants"),
    ],
)
def test_references_that_point_nowhere_are_refused(config_file: Path, change: str, field: str) -> None:
    config = RouterConfig.model_validate_json(mutate(config_file.read_text(), change))
    assert [p.field_path for p in reference_problems(config)] == [field]
    watcher, holder = watcher_for(config_file)
    watcher.reload()
    config_file.write_text(mutate(config_file.read_text(), change))
    assert watcher.reload() == "error"
    assert field in holder.last_error


def test_a_compiled_config_has_no_reference_problems(config_file: Path) -> None:
    assert reference_problems(RouterConfig.model_validate_json(config_file.read_text())) == []


def test_changed_content_with_a_stale_version_is_still_applied(config_file: Path) -> None:
    watcher, holder = watcher_for(config_file)
    watcher.reload()
    assert holder.table is not None
    version = holder.table.config.version
    edited = json.loads(config_json("b"))
    edited["version"] = version  # hand-edited, version not restamped
    config_file.write_text(json.dumps(edited))
    assert watcher.reload() == "applied"
    assert holder.table.config.routes["chat"].variants[0].targets[0].endpoint == "b"


def test_fingerprint_changes_when_the_kubelet_swaps_data(tmp_path: Path) -> None:
    publish(tmp_path, config_json("a"), 1)
    watcher, holder = watcher_for(tmp_path / "config.json")
    before = watcher.fingerprint()
    assert watcher.fingerprint() == before  # stable while nothing changes
    publish(tmp_path, config_json("b"), 2)
    assert watcher.fingerprint() != before
    assert watcher.reload() == "applied"
    assert holder.table is not None
    assert holder.table.config.routes["chat"].variants[0].targets[0].endpoint == "b"


def test_rotated_credentials_rebuild_the_table_with_the_same_config(tmp_path: Path) -> None:
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "a").write_text("old-key-123456\n")
    text = compile(
        resources(
            endpoint("a", apiKey={"secretRef": {"name": "s", "key": "k"}}), route("chat", ["a"], default=True)
        )
    ).model_dump_json()
    path = tmp_path / "config.json"
    path.write_text(text)
    watcher, holder = watcher_for(path, credentials_dir=credentials)
    assert watcher.reload() == "applied"
    assert holder.table is not None and holder.table.endpoints["a"].key == "old-key-123456"
    before = watcher.fingerprint()
    key_file = credentials / "a"
    key_file.write_text("new-key-654321\n")
    os.utime(key_file, ns=(1, key_file.stat().st_mtime_ns + 1_000_000))
    assert watcher.fingerprint() != before
    assert watcher.reload() == "applied"
    assert holder.table.endpoints["a"].key == "new-key-654321"
    assert "new-key" not in repr(holder.table.endpoints["a"])


def test_resources_mode_compiles_in_process(tmp_path: Path) -> None:
    (tmp_path / "r.yaml").write_text(
        "apiVersion: switchboard.dev/v1alpha1\nkind: ModelEndpoint\nmetadata: {name: a}\n"
        "spec: {url: 'http://127.0.0.1:1/v1', model: a}\n---\n"
        "apiVersion: switchboard.dev/v1alpha1\nkind: ModelRoute\nmetadata: {name: chat}\n"
        "spec: {default: true, targets: [{endpoint: a}]}\n"
    )
    holder = ConfigHolder()
    watcher = ConfigWatcher(ProxySettings(resource_paths=(tmp_path,)), holder, Metrics())
    assert watcher.reload() == "applied"
    assert holder.table is not None and holder.table.config.default_route == "chat"
    (tmp_path / "r.yaml").write_text(
        "apiVersion: switchboard.dev/v1alpha1\nkind: ModelRoute\nmetadata: {name: chat}\n"
        "spec: {default: true, targets: [{endpoint: missing}]}\n"
    )
    assert watcher.reload() == "error"
    assert holder.table.config.default_route == "chat"


def test_apply_text_from_the_configmap_watch(config_file: Path) -> None:
    watcher, holder = watcher_for(config_file)
    assert watcher.apply_text(config_json("b"), source="configmap ns/name") == "applied"
    assert holder.table is not None and holder.table.source == "configmap ns/name"
    assert watcher.apply_text(b"{oops", source="configmap ns/name") == "error"
    assert holder.table.config.routes["chat"].variants[0].targets[0].endpoint == "b"


@pytest.mark.looptime
async def test_load_initial_then_the_loop_applies_changes(config_file: Path) -> None:
    watcher, holder = watcher_for(config_file, poll_seconds=0.02)
    assert watcher.load_initial() == "applied"
    first = holder.table
    task = asyncio.create_task(watcher.run())
    try:
        await asyncio.sleep(0.1)  # five polls of loop time
        assert holder.table is first and holder.applied == 1  # no second load of the same file
        config_file.write_text(config_json("b"))
        await until(lambda: holder.table is not first, timeout=0.1, what="the changed file to be applied")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


@pytest.mark.looptime
async def test_request_reload_wakes_the_loop_at_once(config_file: Path) -> None:
    watcher, holder = watcher_for(config_file, poll_seconds=3600)
    watcher.load_initial()
    task = asyncio.create_task(watcher.run())
    try:
        await asyncio.sleep(0)  # the loop is waiting for its next poll, an hour away
        config_file.write_text(config_json("b"))
        watcher.request_reload()
        await until(lambda: holder.applied == 2, timeout=0.05, what="the reload SIGHUP asked for")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
