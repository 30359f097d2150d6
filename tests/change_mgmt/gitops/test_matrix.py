"""The offline cluster generator: names, the matrix, the Applications and the diff."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from change_mgmt.gitops.matrix import applications, diff, placements
from change_mgmt.gitops.naming import application_name
from tests.change_mgmt.gitops.gitops_files import edit, gitops_copy, loaded
from tests.components.crd_schema import crd_problems
from tests.conftest import REPO_ROOT

APPLICATION_CRD = "argoproj.io_applications.yaml"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return gitops_copy(tmp_path)


def test_application_names_follow_the_design() -> None:
    assert application_name("alloy", "prod", "customer-prod-1") == "alloy-sre-prod-customer-prod-1"


def test_each_app_lands_on_exactly_the_clusters_its_selector_matches(root: Path) -> None:
    matrix = {(p.app, p.cluster) for p in placements(loaded(root, "prod"))}
    customers = {"customer-prod-1", "customer-prod-2"}
    every = customers | {"cnc-prod", "cnc-prod-dr"}
    for app in ("kube-prometheus-stack", "alloy", "velero"):
        assert {c for a, c in matrix if a == app} == customers
    for app in ("ingress-nginx", "metrics-server"):
        assert {c for a, c in matrix if a == app} == every


def test_a_cluster_label_opts_out_through_not_in(root: Path) -> None:
    edit(
        root,
        "clusters/prod.yaml",
        "      cluster-id: customer-prod-2\n",
        "      cluster-id: customer-prod-2\n      backup: disabled\n",
    )
    velero = [p.cluster for p in placements(loaded(root, "prod")) if p.app == "velero"]
    assert velero == ["customer-prod-1"]


def test_placements_carry_revision_namespace_project_and_name(root: Path) -> None:
    found = [p for p in placements(loaded(root, "staging")) if p.app == "alloy"]
    assert [(p.name, p.revision, p.namespace, p.project) for p in found] == [
        ("alloy-sre-staging-customer-staging-1", "0.10.1", "prometheus", "sre")
    ]


@pytest.mark.parametrize("environment", ["dev", "staging", "prod"])
def test_every_generated_application_validates_against_the_argocd_crd(environment: str) -> None:
    generated = applications(loaded(REPO_ROOT, environment))
    assert len(generated) == len(placements(loaded(REPO_ROOT, environment)))
    for application in generated:
        assert crd_problems(application, APPLICATION_CRD) == [], application["metadata"]["name"]


def test_an_application_holds_what_the_data_says(root: Path) -> None:
    by_name = {a["metadata"]["name"]: a for a in applications(loaded(root, "prod"))}
    prometheus = by_name["kube-prometheus-stack-sre-prod-customer-prod-2"]
    spec = prometheus["spec"]
    assert prometheus["metadata"]["namespace"] == "argocd"
    assert spec["destination"] == {
        "server": "https://customer-prod-2.eks.placeholder.example.com",
        "namespace": "prometheus",
    }
    chart, values = spec["sources"]
    assert chart["chart"] == "kube-prometheus-stack" and chart["targetRevision"] == "65.1.1"
    assert chart["helm"]["valueFiles"] == [
        "$values/values/kube-prometheus-stack/common.yaml",
        "$values/values/kube-prometheus-stack/prod.yaml",
    ]
    assert values["ref"] == "values" and len(values["targetRevision"]) == 40
    assert spec["syncPolicy"] == {"automated": {"prune": False, "selfHeal": True}}
    assert spec["ignoreDifferences"][0]["jqPathExpressions"] == [
        ".webhooks[]?.clientConfig.caBundle"
    ]
    ingress = by_name["ingress-nginx-sre-prod-cnc-prod"]["spec"]
    assert "sources" not in ingress and ingress["source"]["chart"] == "ingress-nginx"


def test_a_path_source_reads_its_value_files_from_its_own_checkout(root: Path) -> None:
    edit(
        root,
        "apps/dev.yaml",
        "    chart: ingress-nginx\n",
        "    path: charts/ingress-nginx\n    valueFiles: [values-dev.yaml]\n",
    )
    edit(
        root,
        "apps/dev.yaml",
        "syncPolicy:\n      automated: true\n      prune: true\n      selfHeal: true\n  - name: velero",
        "syncPolicy:\n      automated: false\n  - name: velero",
    )
    (application, *_) = [
        a
        for a in applications(loaded(root, "dev"))
        if a["metadata"]["name"].startswith("ingress-nginx")
    ]
    assert application["spec"]["source"]["path"] == "charts/ingress-nginx"
    assert application["spec"]["source"]["helm"] == {"valueFiles": ["values-dev.yaml"]}
    assert "syncPolicy" not in application["spec"]  # manual sync
    assert crd_problems(application, APPLICATION_CRD) == []


def test_diff_names_added_removed_and_changed_pairs(root: Path) -> None:
    base = placements(loaded(root, "prod"))
    edit(root, "apps/prod.yaml", "revision: 0.10.1", "revision: 0.11.0")
    edit(
        root,
        "apps/prod.yaml",
        "      matchExpressions:\n        - key: backup",
        "      matchExpressions:\n        - key: region\n          operator: In\n          values: [us-west-2]\n        - key: backup",
    )
    edit(
        root,
        "clusters/prod.yaml",
        "cluster-id: customer-prod-2\n      region: us-east-1",
        "cluster-id: customer-prod-2\n      region: us-west-2",
    )
    text = (root / "gitops" / "clusters" / "prod.yaml").read_text()
    assert yaml.safe_load(text)["clusters"][3]["labels"]["region"] == "us-west-2"
    changes = diff(base, placements(loaded(root, "prod")))
    assert [(p.app, p.cluster) for p in changes.removed] == [("velero", "customer-prod-1")]
    assert changes.added == ()
    assert [(a.cluster, a.revision, b.revision) for a, b in changes.changed] == [
        ("customer-prod-1", "0.10.1", "0.11.0"),
        ("customer-prod-2", "0.10.1", "0.11.0"),
    ]
    assert diff(base, base).empty
