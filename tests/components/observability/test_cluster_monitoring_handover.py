"""ClusterMonitoring where Argo CD installs its charts: one owner per chart and cluster."""

from __future__ import annotations

import re
from typing import Any

import pytest

from components.observability.cluster_monitoring import ClusterMonitoringError
from components.observability.cluster_monitoring_handover import (
    STORAGE_ANNOTATION,
    THANOS_ROLE_ANNOTATION,
    argo_cd_parameters,
    cluster_annotations,
    monitoring_chart,
    release_name,
)
from stacks.mock_engine import MockRun
from tests.components.observability.test_cluster_monitoring import (
    NAME,
    NETWORK_POLICY,
    RELEASE,
    ROLE,
    ROLE_POLICY,
    SECRET,
    default_run,
    make_args,
    run_monitoring,
)

NAMESPACE = "kubernetes:core/v1:Namespace"
BOTH = frozenset({"kube-prometheus-stack", "alloy"})


def _types(charts: frozenset[str]) -> dict[str, int]:
    run = run_monitoring(make_args(argo_cd_charts=charts))
    counts: dict[str, int] = {}
    for resource in run.resources:
        counts[resource.type] = counts.get(resource.type, 0) + 1
    return counts


def test_with_both_charts_by_argo_cd_no_release_and_everything_else() -> None:
    handed_over = _types(BOTH)
    assert RELEASE not in handed_over
    full: dict[str, int] = {}
    for resource in default_run().resources:
        full[resource.type] = full.get(resource.type, 0) + 1
    assert full[RELEASE] == 2
    # Namespace, Thanos role and policy, object-store Secret, NetworkPolicies: all kept.
    for kept in (NAMESPACE, ROLE, ROLE_POLICY, SECRET, NETWORK_POLICY):
        assert handed_over[kept] == full[kept], kept


@pytest.mark.parametrize(
    ("chart", "kept"), [("alloy", "kube-prometheus-stack"), ("kube-prometheus-stack", "alloy")]
)
def test_one_chart_by_argo_cd_keeps_the_other_release(chart: str, kept: str) -> None:
    run = run_monitoring(make_args(argo_cd_charts=frozenset({chart})))
    assert [r.inputs["chart"] for r in run.of_type(RELEASE)] == [kept]
    assert [r.name for r in run.of_type(RELEASE)] == [f"{NAME}-{kept}"]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"argo_cd_charts": frozenset({"loki"})}, "argo_cd_charts"),
        ({"argo_cd_charts": BOTH, "alertmanager": True}, "alertmanager"),
        (
            {"argo_cd_charts": frozenset({"kube-prometheus-stack"}), "query_namespaces": ("obs",)},
            "query_namespaces",
        ),
    ],
)
def test_what_argo_cd_cannot_configure_is_refused_naming_cluster_and_chart(
    overrides: dict[str, object], field: str
) -> None:
    with pytest.raises(ClusterMonitoringError) as caught:
        run_monitoring(make_args(**overrides))
    assert caught.value.field == field
    if field != "argo_cd_charts":
        assert "cluster 'c1'" in str(caught.value)
        assert "kube-prometheus-stack" in str(caught.value)


def test_alloy_alone_by_argo_cd_may_keep_the_alertmanager() -> None:
    run = run_monitoring(make_args(argo_cd_charts=frozenset({"alloy"}), alertmanager=True))
    assert [r.inputs["chart"] for r in run.of_type(RELEASE)] == ["kube-prometheus-stack"]


def test_only_the_same_repository_and_chart_count_as_a_monitoring_chart() -> None:
    prometheus = "https://prometheus-community.github.io/helm-charts"
    assert monitoring_chart(prometheus, "kube-prometheus-stack") == "kube-prometheus-stack"
    assert monitoring_chart(prometheus + "/", "kube-prometheus-stack") == "kube-prometheus-stack"
    assert monitoring_chart("https://grafana.github.io/helm-charts", "alloy") == "alloy"
    assert monitoring_chart("https://charts.example.com", "kube-prometheus-stack") is None
    assert monitoring_chart(prometheus, None) is None
    assert monitoring_chart(prometheus, "prometheus") is None


def test_the_parameters_read_what_the_cluster_secret_carries() -> None:
    annotations = cluster_annotations("arn:aws:iam::123456789012:role/thanos", "100Gi")
    assert annotations == {
        THANOS_ROLE_ANNOTATION: "arn:aws:iam::123456789012:role/thanos",
        STORAGE_ANNOTATION: "100Gi",
    }
    values = [value for _, value in argo_cd_parameters("kube-prometheus-stack")]
    for key in annotations:
        assert f'{{{{index .metadata.annotations "{key}"}}}}' in values
    assert '{{index .metadata.labels "cluster-id"}}' in values
    assert release_name("kube-prometheus-stack") == "kube-prometheus-stack"
    assert release_name("alloy") == "alloy"


def test_the_parameters_set_the_keys_the_component_sets_in_its_values() -> None:
    """Each ``--set`` path names a key ClusterMonitoring's own chart values have (with the
    value the component gives it where that is fixed), so a renamed key fails here."""
    run = default_run()
    prometheus = _values(run, "kube-prometheus-stack")
    for name, _ in argo_cd_parameters("kube-prometheus-stack"):
        assert isinstance(_lookup(prometheus, _path(name)), str), name
    alloy = _values(run, "alloy")
    parameters = dict(argo_cd_parameters("alloy"))
    # Helm replaces a --set list whole: the component's one entry comes back unchanged.
    (node_name,) = alloy["alloy"]["extraEnv"]
    assert parameters["alloy.extraEnv[0].name"] == node_name["name"]
    assert (
        parameters["alloy.extraEnv[0].valueFrom.fieldRef.fieldPath"]
        == node_name["valueFrom"]["fieldRef"]["fieldPath"]
    )
    assert parameters["alloy.extraEnv[1].name"] == "CLUSTER_ID"
    assert parameters["alloy.extraEnv[1].value"] == '{{index .metadata.labels "cluster-id"}}'
    assert len(parameters) == 4


def _values(run: MockRun, chart: str) -> Any:
    (found,) = [r for r in run.of_type(RELEASE) if r.inputs["chart"] == chart]
    return found.inputs["values"]


def _lookup(values: Any, path: list[str | int]) -> Any:
    for part in path:
        values = values[part]
    return values


def _path(name: str) -> list[str | int]:
    """``a.b\\.c[1].d`` → ["a", "b.c", 1, "d"] (Helm's --set path syntax)."""
    parts: list[str | int] = []
    for piece in re.split(r"(?<!\\)\.", name):
        key, _, index = piece.partition("[")
        parts.append(key.replace("\\.", "."))
        if index:
            parts.append(int(index.rstrip("]")))
    return parts
