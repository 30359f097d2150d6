"""helm-chart-pinned over hand-built Release and Chart inputs (pulumi-kubernetes 4.x)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from policies.config import DEFAULT_CONFIG
from policies.model import NOT_APPLICABLE, UNKNOWN, Resource, RuleContext
from policies.rules.helm import RULES, chart_pinned, is_local_chart, version_problem

NOW = datetime(2026, 11, 27, tzinfo=UTC)
CTX = RuleContext(stack="prod-us-east-1", tier="production", config=DEFAULT_CONFIG, now=NOW)
RELEASE = "kubernetes:helm.sh/v3:Release"
CHART_V3 = "kubernetes:helm.sh/v3:Chart"
CHART_V4 = "kubernetes:helm.sh/v4:Chart"
DIGEST = "sha256:" + "0f" * 32


def helm(type_: str, name: str = "kube-prometheus-stack", **inputs: Any) -> Resource:
    return Resource(
        type=type_,
        name=name,
        urn=f"urn:pulumi:prod-us-east-1::sre-platform::sre:observability:Cluster${type_}::{name}",
        inputs=inputs,
        parent="urn:pulumi:prod-us-east-1::sre-platform::sre:observability:Cluster::cluster",
    )


def release(**inputs: Any) -> Resource:
    base: dict[str, Any] = {
        "chart": "kube-prometheus-stack",
        "version": "58.2.1",
        "namespace": "prometheus",
        "repositoryOpts": {"repo": "https://prometheus-community.github.io/helm-charts"},
        "values": {"grafana": {"enabled": False}},
    }
    base.update(inputs)
    return helm(RELEASE, **base)


def messages(outcome: object) -> list[str]:
    assert isinstance(outcome, list)
    return [violation.message for violation in outcome]


def test_rule_identity() -> None:
    assert [(rule.id, rule.severity, rule.scope) for rule in RULES] == [
        ("helm-chart-pinned", "medium", "resource")
    ]
    assert "version" in RULES[0].remediation


def test_release_with_exact_version_passes() -> None:
    assert chart_pinned.check(release(), CTX) == []
    assert chart_pinned.check(release(version="v1.2.3-rc.1+build.5"), CTX) == []


@pytest.mark.parametrize(
    "version", ["^58.2", "~58.2.1", ">=58.0.0", "*", "58.x", "58.2", "58", "58.2.1 - 59", "x"]
)
def test_release_with_a_range_is_reported_with_the_value(version: str) -> None:
    assert messages(chart_pinned.check(release(version=version), CTX)) == [
        f"Helm Release 'kube-prometheus-stack' chart 'kube-prometheus-stack' has version "
        f"{version!r}, a range rather than one exact version: set version"
    ]


@pytest.mark.parametrize("version", [None, "", "  "])
def test_release_without_version_is_reported(version: str | None) -> None:
    inputs = {} if version is None else {"version": version}
    resource = helm(RELEASE, "velero", chart="vmware-tanzu/velero", **inputs)
    found = messages(chart_pinned.check(resource, CTX))
    assert found == [
        "Helm Release 'velero' chart 'vmware-tanzu/velero' has no version (Helm would install "
        "the newest one): set version"
    ]


def test_non_string_version_is_reported() -> None:
    assert "is not a string" in messages(chart_pinned.check(release(version=58), CTX))[0]


@pytest.mark.parametrize(
    "chart",
    [
        "./charts/sre-app",
        "../charts/app",
        "/srv/charts/app",
        "file:///srv/charts/app",
        "charts/team/app",
        "app-1.2.3.tgz",
        "oci://ghcr.io/org/charts/app@" + DIGEST,
    ],
)
def test_local_path_or_oci_digest_counts_as_pinned(chart: str) -> None:
    assert chart_pinned.check(helm(CHART_V4, "app", chart=chart), CTX) == []


@pytest.mark.parametrize(
    "chart",
    [
        "oci://ghcr.io/org/charts/app",
        "oci://ghcr.io/org/charts/app@sha256:abc",
        "https://charts.example.com/app-1.2.3.tgz",
        "bitnami/thanos",
        "thanos",
    ],
)
def test_remote_references_need_a_version(chart: str) -> None:
    assert messages(chart_pinned.check(helm(CHART_V4, "app", chart=chart), CTX))[0].startswith(
        f"Helm Chart 'app' chart {chart!r} has no version"
    )
    assert chart_pinned.check(helm(CHART_V4, "app", chart=chart, version="15.7.2"), CTX) == []


def test_is_local_chart() -> None:
    assert is_local_chart("./app")
    assert not is_local_chart("bitnami/thanos")
    assert not is_local_chart("oci://reg/charts/app")


def test_version_problem() -> None:
    assert version_problem("1.2.3") is None
    assert version_problem("01.2.3") is not None  # leading zeros are not SemVer


def test_v4_chart_with_repository_opts() -> None:
    chart = helm(
        CHART_V4,
        "argocd",
        chart="argo-cd",
        version="7.7.0",
        namespace="argocd",
        repositoryOpts={"repo": "https://argoproj.github.io/argo-helm"},
    )
    assert chart_pinned.check(chart, CTX) == []
    loose = helm(CHART_V4, "argocd", chart="argo-cd", version="^7", repositoryOpts={})
    assert "'^7', a range" in messages(chart_pinned.check(loose, CTX))[0]


def test_v3_chart_reads_fetch_opts_version() -> None:
    pinned = helm(CHART_V3, "thanos", chart="thanos", fetchOpts={"version": "15.7.2"})
    assert chart_pinned.check(pinned, CTX) == []
    loose = helm(CHART_V3, "thanos", chart="thanos", fetchOpts={"version": "15.x"})
    assert messages(chart_pinned.check(loose, CTX)) == [
        "Helm Chart 'thanos' chart 'thanos' has version '15.x', a range rather than one exact "
        "version: set fetchOpts.version"
    ]
    top_level = helm(CHART_V3, "thanos", chart="thanos", version="15.7.2")
    assert chart_pinned.check(top_level, CTX) == []
    local = helm(CHART_V3, "app", path="./charts/app")
    assert chart_pinned.check(local, CTX) == []


def test_v3_chart_from_the_python_sdk_has_no_inputs_to_judge() -> None:
    # pulumi_kubernetes.helm.v3.Chart registers its component with empty props.
    assert chart_pinned.check(helm(CHART_V3, "thanos"), CTX) is NOT_APPLICABLE


def test_unknown_chart_or_version_is_not_a_violation() -> None:
    assert chart_pinned.check(release(version=UNKNOWN), CTX) == []
    assert chart_pinned.check(release(chart=UNKNOWN, version="^1"), CTX) == []


@pytest.mark.parametrize(
    "type_",
    ["kubernetes:apps/v1:Deployment", "kubernetes:yaml/v2:ConfigGroup", "aws:s3/bucket:Bucket"],
)
def test_not_applicable_to_other_types(type_: str) -> None:
    assert chart_pinned.check(helm(type_, "x", chart="x", version="^1"), CTX) is NOT_APPLICABLE


def test_same_outcome_in_every_tier() -> None:
    for tier in ("production", "staging", "test", "development"):
        ctx = RuleContext(stack="any", tier=tier, config=DEFAULT_CONFIG, now=NOW)
        assert len(messages(chart_pinned.check(release(version="^58"), ctx))) == 1
