"""The shipped gitops/ data agrees with the platform stacks and the issue's promises."""

from __future__ import annotations

import pytest
import yaml

from change_mgmt.gitops.matrix import placements
from tests.change_mgmt.gitops.gitops_files import loaded
from tests.conftest import REPO_ROOT

OBSERVABILITY = ("kube-prometheus-stack", "alloy")


@pytest.mark.parametrize("environment", ["dev", "staging", "prod"])
def test_every_stack_cluster_is_registered_with_its_type(environment: str) -> None:
    stack = yaml.safe_load((REPO_ROOT / f"Pulumi.{environment}.yaml").read_text())
    declared = {c["id"]: c["type"] for c in stack["config"]["sre-platform:clusters"]}
    registered = {c.name: c.type.value for c in loaded(REPO_ROOT, environment).clusters}
    assert declared.items() <= registered.items()


def test_prod_has_two_clusters_of_each_type() -> None:
    types = [c.type.value for c in loaded(REPO_ROOT, "prod").clusters]
    assert types.count("cnc") >= 2 and types.count("customer") >= 2


@pytest.mark.parametrize("environment", ["dev", "staging", "prod"])
def test_observability_utilities_reach_every_customer_cluster_only(environment: str) -> None:
    gitops = loaded(REPO_ROOT, environment)
    customers = {c.name for c in gitops.clusters if c.type.value == "customer"}
    for app in OBSERVABILITY:
        assert {p.cluster for p in placements(gitops) if p.app == app} == customers


def test_placeholders_stay_in_reserved_ranges() -> None:
    for environment in ("dev", "staging", "prod"):
        for cluster in loaded(REPO_ROOT, environment).clusters:
            assert cluster.server.endswith(".placeholder.example.com")
            assert cluster.roleArn.startswith("arn:aws:iam::000000000000:role/")


@pytest.mark.parametrize("environment", ["dev", "staging", "prod"])
def test_observability_charts_are_the_versions_cluster_monitoring_pins(environment: str) -> None:
    from components.observability import cluster_alloy, cluster_prometheus

    pinned = {
        cluster_prometheus.CHART: (
            cluster_prometheus.CHART_REPOSITORY,
            cluster_prometheus.CHART_VERSION,
        ),
        cluster_alloy.CHART: (cluster_alloy.CHART_REPOSITORY, cluster_alloy.CHART_VERSION),
    }
    apps = {a.name: a for a in loaded(REPO_ROOT, environment).applications}
    for chart, (repository, version) in pinned.items():
        assert (apps[chart].chart, apps[chart].repoURL, apps[chart].revision) == (
            chart,
            repository,
            version,
        )
