"""Typed inputs of ``ClusterMonitoring`` and the one error it raises for bad ones.

Plain frozen dataclasses: the stack program builds them from validated stack config and
the outputs of ``CentralObservability``; the component never reads ``pulumi.Config``.
Every default is the behaviour documented on the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import pulumi

UTILITIES_NODE_SELECTOR: Mapping[str, str] = MappingProxyType({"node-group": "utilities"})
UTILITIES_TOLERATION: Mapping[str, str] = MappingProxyType(
    {"key": "dedicated", "operator": "Equal", "value": "utilities", "effect": "NoSchedule"}
)


@dataclass(frozen=True)
class ComputeResources:
    """CPU and memory requests and limits of one container (Kubernetes quantities)."""

    cpu_request: str
    memory_request: str
    cpu_limit: str
    memory_limit: str

    def values(self) -> dict[str, dict[str, str]]:
        """The ``resources`` block of a chart's values (``ResourceRequirements``)."""
        return {
            "requests": {"cpu": self.cpu_request, "memory": self.memory_request},
            "limits": {"cpu": self.cpu_limit, "memory": self.memory_limit},
        }


@dataclass(frozen=True)
class ClusterMonitoringArgs:
    """What one cluster's monitoring needs. Defaults are the cheap, safe choice."""

    environment: str
    # Unique per environment; becomes Prometheus' ``clusterID`` external label and the
    # ``clusterID`` label of every log line, so Thanos and Loki can tell clusters apart.
    cluster_id: str
    metrics_bucket: pulumi.Input[str]
    metrics_bucket_arn: pulumi.Input[str]
    oidc_provider_arn: str
    # The issuer host/path, without ``https://`` (the end of ``oidc_provider_arn``).
    oidc_issuer: str
    # Loki's push endpoint (``…/loki/api/v1/push``), usually CentralObservability's output.
    loki_push_url: pulumi.Input[str]
    prometheus_storage: str = "50Gi"
    # Raw (not downsampled) retention in Prometheus; Thanos keeps the long-term copy.
    retention: str = "7d"
    # The bucket's region; None means the region of the cluster (read from the issuer).
    bucket_region: str | None = None
    # None means the cluster's default StorageClass.
    storage_class: str | None = None
    # An in-cluster Alertmanager; off by default: alerts go to the central one.
    alertmanager: bool = False
    # The Secret (in ``prometheus``) holding that Alertmanager's configuration, e.g.
    # CentralObservability's routing tree on the cnc cluster; None: the chart's own.
    alertmanager_config_secret: str | None = None
    # Alertmanagers Prometheus sends alerts to, as URLs (``https://am.example.com``).
    external_alertmanagers: tuple[str, ...] = ()
    # Serve this cluster's Alertmanager at this hostname through the ingress controller
    # (so other clusters' Prometheus can send to it); None keeps it in-cluster. Its API
    # has no authentication of its own: the ingress class must be an internal one.
    alertmanager_host: str | None = None
    ingress_class: str = "nginx"
    # The ingress controller's namespace: the only one let through to the Alertmanager.
    ingress_namespace: str = "ingress-nginx"
    # Namespaces whose pods may query Prometheus (9090) and the Thanos sidecar (10901),
    # e.g. the central Thanos Query in the cnc cluster; none by default. When set, the
    # sidecar also gets its discovery Service (``THANOS_SIDECAR_ENDPOINT``).
    query_namespaces: tuple[str, ...] = ()
    # Logs of these namespaces get the Loki label ``retention="critical"`` (kept longer);
    # so do pods labelled ``sre-platform/log-retention: critical``.
    critical_log_namespaces: tuple[str, ...] = ()
    node_selector: Mapping[str, str] = field(default_factory=lambda: dict(UTILITIES_NODE_SELECTOR))
    tolerations: tuple[Mapping[str, str], ...] = (UTILITIES_TOLERATION,)
    prometheus_resources: ComputeResources = ComputeResources("500m", "2Gi", "2", "4Gi")
    alloy_resources: ComputeResources = ComputeResources("100m", "256Mi", "1", "1Gi")
    owner: str = "platform-sre"
    team: str = "Platform SRE"
    # Charts Argo CD installs on this cluster (``kube-prometheus-stack``, ``alloy``; from
    # the GitOps data): one owner per chart and cluster, so their Helm releases are not
    # declared here. The namespace, Thanos role, object-store Secret and NetworkPolicies
    # are; the per-cluster values reach Argo CD (``cluster_monitoring_handover``).
    argo_cd_charts: frozenset[str] = frozenset()


class ClusterMonitoringError(ValueError):
    """An argument of ``ClusterMonitoring`` is invalid; the message says which and why.

    Raised at construction, before anything is declared. Messages name the input, the
    bad value and what is allowed.
    """

    def __init__(self, field: str, value: object, allowed: str) -> None:
        self.field = field
        self.value = value
        self.allowed = allowed
        super().__init__(f"invalid {field} {value!r}: {allowed}")

    def __reduce__(self) -> tuple[type[ClusterMonitoringError], tuple[Any, ...]]:
        """Pickle by fields (the default would call ``__init__`` with the message only)."""
        return (type(self), (self.field, self.value, self.allowed))
