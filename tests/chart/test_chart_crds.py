"""The chart's CRDs are the repository's crds/, byte for byte, rendered as templates that `helm upgrade` keeps
current and `helm uninstall` keeps; Kopf's peering CRDs sit in the chart's crds/ folder (installed before
the templates that create peering objects)."""

from __future__ import annotations

import pytest
import yaml

from support.charts import CHART, render
from support.processes import REPO_ROOT

pytestmark = pytest.mark.chart


def test_the_chart_carries_exactly_the_repository_s_crds() -> None:
    ours = {p.name: p.read_bytes() for p in (REPO_ROOT / "crds").glob("*.yaml")}
    carried = {p.name: p.read_bytes() for p in (CHART / "files" / "crds").glob("*.yaml")}
    assert carried == ours, "charts/switchboard/files/crds/ differs from crds/: run `make crds`"


def test_rendered_crds_are_the_files_plus_the_keep_policy_and_the_release_labels() -> None:
    rendered = {d["metadata"]["name"]: d for d in render().of_kind("CustomResourceDefinition")}
    for path in sorted((REPO_ROOT / "crds").glob("*.yaml")):
        original = yaml.safe_load(path.read_text())
        crd = rendered.pop(original["metadata"]["name"])
        metadata = crd.pop("metadata")
        assert crd == {k: v for k, v in original.items() if k != "metadata"}, path.name
        assert metadata["annotations"]["helm.sh/resource-policy"] == "keep"
        assert metadata["labels"]["app.kubernetes.io/managed-by"] == "Helm"
        assert metadata["labels"]["app.kubernetes.io/part-of"] == "switchboard"
    assert set(rendered) == {
        "clusterkopfpeerings.kopf.dev",
        "kopfpeerings.kopf.dev",
    }  # from crds/ (--include-crds)


def test_crds_can_be_left_to_someone_else() -> None:
    names = {
        d["metadata"]["name"]
        for d in render(values={"crds.install": "false"}).of_kind("CustomResourceDefinition")
    }
    assert names == {"clusterkopfpeerings.kopf.dev", "kopfpeerings.kopf.dev"}


def test_peering_objects_match_the_operator_s_scope() -> None:
    cluster_wide = render()
    assert [p["metadata"]["name"] for p in cluster_wide.of_kind("ClusterKopfPeering")] == ["switchboard"]
    assert not cluster_wide.of_kind("KopfPeering")
    namespaced = render(values={"operator.allNamespaces": "false", "operator.watchNamespaces": "{team-a}"})
    assert not namespaced.of_kind("ClusterKopfPeering")
    assert sorted(p["metadata"]["namespace"] for p in namespaced.of_kind("KopfPeering")) == [
        "switchboard-system",
        "team-a",
    ]
