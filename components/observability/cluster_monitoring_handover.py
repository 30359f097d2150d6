"""When Argo CD, not ``ClusterMonitoring``, installs the two charts on a cluster.

One owner per chart and cluster: where the GitOps data delivers kube-prometheus-stack or
Alloy, ``ClusterMonitoring`` declares everything but that Helm release (namespace, Thanos
IRSA role and object-store Secret, NetworkPolicies) and Argo CD installs the chart. The
values common to an environment come from the GitOps values repository; what is fixed
or per cluster is handed over here: the release name, the Thanos role ARN as an
annotation of the cluster's Argo CD Secret, and ``helm.parameters`` whose values are Go
templates over the cluster generator's parameters (the ``cluster-id`` label, that
annotation).
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

import pulumi

from components.aws_policies import IRSA_ROLE_ANNOTATION
from components.observability import cluster_alloy, cluster_prometheus

# The cluster Secret annotation holding the Thanos sidecar's IRSA role ARN.
THANOS_ROLE_ANNOTATION: Final = "sre-platform/thanos-role-arn"
# The environment variable the values repository's Alloy configuration reads the
# cluster ID from (``sys.env("CLUSTER_ID")``).
CLUSTER_ID_ENV: Final = "CLUSTER_ID"
CLUSTER_ID_TEMPLATE: Final = '{{index .metadata.labels "cluster-id"}}'
# The cluster Secret annotation holding the Prometheus volume size (stack config).
STORAGE_ANNOTATION: Final = "sre-platform/prometheus-storage"


def _annotation(key: str) -> str:
    return f'{{{{index .metadata.annotations "{key}"}}}}'


# (chart repository, chart) of each release ClusterMonitoring would otherwise install.
CHARTS: Final = MappingProxyType(
    {
        cluster_prometheus.CHART: cluster_prometheus.CHART_REPOSITORY,
        cluster_alloy.CHART: cluster_alloy.CHART_REPOSITORY,
    }
)


def _escaped(key: str) -> str:
    """A values key inside a ``--set`` path: dots escaped (``eks\\.amazonaws\\.com/…``)."""
    return key.replace(".", "\\.")


def _parameters() -> dict[str, tuple[tuple[str, str], ...]]:
    # Helm replaces a list set by --set whole: Alloy's extraEnv is given in full, the
    # node name (as ClusterMonitoring sets it) and the cluster ID.
    return {
        cluster_prometheus.CHART: (
            (
                f"prometheus.serviceAccount.annotations.{_escaped(IRSA_ROLE_ANNOTATION)}",
                _annotation(THANOS_ROLE_ANNOTATION),
            ),
            (
                "prometheus.prometheusSpec.storageSpec.volumeClaimTemplate.spec.resources"
                ".requests.storage",
                _annotation(STORAGE_ANNOTATION),
            ),
            (
                "prometheus.prometheusSpec.externalLabels."
                + cluster_prometheus.EXTERNAL_CLUSTER_LABEL,
                CLUSTER_ID_TEMPLATE,
            ),
        ),
        cluster_alloy.CHART: (
            ("alloy.extraEnv[0].name", cluster_alloy.NODE_NAME_ENV),
            ("alloy.extraEnv[0].valueFrom.fieldRef.fieldPath", "spec.nodeName"),
            ("alloy.extraEnv[1].name", CLUSTER_ID_ENV),
            ("alloy.extraEnv[1].value", CLUSTER_ID_TEMPLATE),
        ),
    }


def cluster_annotations(
    thanos_role_arn: pulumi.Input[str], prometheus_storage: str
) -> dict[str, pulumi.Input[str]]:
    """What the cluster's Argo CD Secret carries for the parameters above."""
    return {THANOS_ROLE_ANNOTATION: thanos_role_arn, STORAGE_ANNOTATION: prometheus_storage}


def monitoring_chart(repo_url: str, chart: str | None) -> str | None:
    """The ClusterMonitoring chart an application installs (same repository and chart)."""
    if chart is not None and CHARTS.get(chart) == repo_url.rstrip("/"):
        return chart
    return None


def release_name(chart: str) -> str:
    """The fixed Helm release name: the chart's labels (``release: …``), which the rule,
    ServiceMonitor and NetworkPolicy selectors match, are made from it."""
    names = {
        cluster_prometheus.CHART: cluster_prometheus.RELEASE_NAME,
        cluster_alloy.CHART: cluster_alloy.RELEASE_NAME,
    }
    return names[chart]


def argo_cd_parameters(chart: str) -> tuple[tuple[str, str], ...]:
    """The ``helm.parameters`` (name, value template) Argo CD needs for ``chart``."""
    return _parameters()[chart]
