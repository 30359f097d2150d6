"""Values of the ``kube-prometheus-stack`` chart and the Thanos object-store config.

Pure functions (no resources declared), shared by the component and its tests. Keys are
the chart's own (prometheus-community/kube-prometheus-stack, ``values.yaml``); the
chart passes ``prometheus.prometheusSpec`` on to the operator's ``Prometheus`` resource.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

import pulumi
import yaml

from components.aws_policies import IRSA_ROLE_ANNOTATION
from components.observability.cluster_monitoring_args import (
    ClusterMonitoringArgs,
    ComputeResources,
)

CHART = "kube-prometheus-stack"
CHART_VERSION = "65.1.1"
CHART_REPOSITORY = "https://prometheus-community.github.io/helm-charts"
# The Helm release name: the chart labels its own ServiceMonitors and rules
# ``release: <release name>``, so it must be fixed, not auto-named.
RELEASE_NAME = "kube-prometheus-stack"
NAMESPACE = "prometheus"

RULE_SELECTOR_LABELS: Mapping[str, str] = MappingProxyType({"release": RELEASE_NAME})
"""Labels a PrometheusRule, ServiceMonitor or PodMonitor (in any namespace) carries to
be picked up by this Prometheus: the chart's own objects already carry them."""

EXTERNAL_CLUSTER_LABEL = "clusterID"
PROMETHEUS_SERVICE_ACCOUNT = "kube-prometheus-stack-prometheus"
OBJSTORE_SECRET = "thanos-objstore-config"
OBJSTORE_KEY = "objstore.yml"
# The operator's pods (its TLS port takes the admission webhook calls of the API server).
OPERATOR_POD_LABELS: Mapping[str, str] = MappingProxyType(
    {"app": f"{CHART}-operator", "release": RELEASE_NAME}
)
OPERATOR_WEBHOOK_PORT = 10250
PROMETHEUS_POD_LABELS: Mapping[str, str] = MappingProxyType(
    {"app.kubernetes.io/name": "prometheus"}
)
PROMETHEUS_PORT = 9090
# The operator labels the Alertmanager pods it runs; 9093 is their web and API port.
ALERTMANAGER_POD_LABELS: Mapping[str, str] = MappingProxyType(
    {"app.kubernetes.io/name": "alertmanager"}
)
ALERTMANAGER_PORT = 9093
ALERTMANAGER_TLS_SECRET = "alertmanager-tls"
THANOS_SIDECAR_GRPC_PORT = 10901
# The headless Service of the sidecar (``prometheus.thanosService``), for Thanos Query.
THANOS_SIDECAR_ENDPOINT = (
    f"{CHART}-thanos-discovery.{NAMESPACE}.svc.cluster.local:{THANOS_SIDECAR_GRPC_PORT}"
)

# Requests and limits of the chart's workloads other than Prometheus itself.
THANOS_SIDECAR_RESOURCES = ComputeResources("50m", "128Mi", "500m", "512Mi")
CONFIG_RELOADER_RESOURCES = ComputeResources("10m", "32Mi", "100m", "64Mi")
OPERATOR_RESOURCES = ComputeResources("100m", "128Mi", "500m", "256Mi")
WEBHOOK_JOB_RESOURCES = ComputeResources("10m", "32Mi", "100m", "64Mi")
KUBE_STATE_METRICS_RESOURCES = ComputeResources("50m", "128Mi", "250m", "512Mi")
NODE_EXPORTER_RESOURCES = ComputeResources("20m", "32Mi", "200m", "64Mi")
ALERTMANAGER_RESOURCES = ComputeResources("50m", "64Mi", "200m", "256Mi")

# A node agent (DaemonSet) runs on every node, tainted or not, so it has no node
# selector and tolerates every NoSchedule taint besides the platform ones.
EVERY_NODE_TOLERATION: Mapping[str, str] = MappingProxyType(
    {"operator": "Exists", "effect": "NoSchedule"}
)


def scheduling(args: ClusterMonitoringArgs) -> dict[str, Any]:
    """Node selector and tolerations of a platform workload (Deployment, StatefulSet, Job)."""
    return {
        "nodeSelector": dict(args.node_selector),
        "tolerations": [dict(toleration) for toleration in args.tolerations],
    }


def node_agent_tolerations(args: ClusterMonitoringArgs) -> list[dict[str, str]]:
    """Tolerations of a node agent: the platform's, then every NoSchedule taint."""
    return [dict(toleration) for toleration in args.tolerations] + [dict(EVERY_NODE_TOLERATION)]


def objstore_config(bucket: str, region: str) -> str:
    """Thanos' S3 object-store config: credentials come from the pod's IRSA web identity
    through the AWS SDK's default chain, so the text holds no keys."""
    return yaml.safe_dump(
        {
            "type": "S3",
            "config": {
                "bucket": bucket,
                "endpoint": f"s3.{region}.amazonaws.com",
                "region": region,
                "aws_sdk_auth": True,
            },
        },
        sort_keys=False,
    )


def _alertmanager_configs(urls: tuple[str, ...]) -> list[dict[str, Any]]:
    """Prometheus ``alerting.alertmanagers`` entries, one per URL."""
    configs = []
    for url in urls:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        entry: dict[str, Any] = {
            "scheme": parts.scheme,
            "static_configs": [{"targets": [f"{parts.hostname}:{port}"]}],
        }
        if parts.path.strip("/"):
            entry["path_prefix"] = parts.path
        configs.append(entry)
    return configs


def _selectors() -> dict[str, Any]:
    """Rule, ServiceMonitor and PodMonitor selection: our labels, every namespace."""
    selected: dict[str, Any] = {}
    for kind in ("rule", "serviceMonitor", "podMonitor"):
        selected[f"{kind}SelectorNilUsesHelmValues"] = False
        selected[f"{kind}Selector"] = {"matchLabels": dict(RULE_SELECTOR_LABELS)}
        selected[f"{kind}NamespaceSelector"] = {}
    return selected


def _storage_spec(args: ClusterMonitoringArgs) -> dict[str, Any]:
    claim: dict[str, Any] = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": args.prometheus_storage}},
    }
    if args.storage_class is not None:
        claim["storageClassName"] = args.storage_class
    return {"volumeClaimTemplate": {"spec": claim}}


def _alertmanager_spec(args: ClusterMonitoringArgs) -> dict[str, Any]:
    spec: dict[str, Any] = {"resources": ALERTMANAGER_RESOURCES.values(), **scheduling(args)}
    if args.alertmanager_config_secret is not None:
        # The configuration is someone else's Secret: the chart must not write its own.
        spec["useExistingSecret"] = True
        spec["configSecret"] = args.alertmanager_config_secret
    if args.alertmanager_host is not None:
        # Links in notifications (silences, the alert list) point where people reach it.
        spec["externalUrl"] = f"https://{args.alertmanager_host}"
    return spec


def alertmanager_ingress(args: ClusterMonitoringArgs) -> dict[str, Any]:
    """``alertmanager.ingress``: served at ``alertmanager_host`` over TLS through the
    given ingress class, or not at all. The chart's ``hosts`` and ``paths`` are lists of
    strings (it builds the rules), unlike the Grafana and Loki charts."""
    host = args.alertmanager_host
    if host is None:
        return {"enabled": False}
    return {
        "enabled": True,
        "ingressClassName": args.ingress_class,
        "hosts": [host],
        "paths": ["/"],
        "pathType": "Prefix",
        "tls": [{"secretName": ALERTMANAGER_TLS_SECRET, "hosts": [host]}],
    }


def prometheus_spec(args: ClusterMonitoringArgs) -> dict[str, Any]:
    """``prometheus.prometheusSpec``: labels, retention, storage, Thanos, selectors."""
    spec: dict[str, Any] = {
        "externalLabels": {EXTERNAL_CLUSTER_LABEL: args.cluster_id},
        "retention": args.retention,
        "storageSpec": _storage_spec(args),
        "resources": args.prometheus_resources.values(),
        **scheduling(args),
        **_selectors(),
        "thanos": {
            "objectStorageConfig": {
                "existingSecret": {"name": OBJSTORE_SECRET, "key": OBJSTORE_KEY}
            },
            "resources": THANOS_SIDECAR_RESOURCES.values(),
        },
    }
    if args.external_alertmanagers:
        spec["additionalAlertManagerConfigs"] = _alertmanager_configs(args.external_alertmanagers)
    return spec


def chart_values(args: ClusterMonitoringArgs, role_arn: pulumi.Input[str]) -> dict[str, Any]:
    """The chart's values. Grafana lives in the cnc cluster; EKS runs etcd, the scheduler,
    the controller manager and kube-proxy's metrics where Prometheus cannot scrape them."""
    return {
        "fullnameOverride": CHART,
        "grafana": {"enabled": False},
        "kubeEtcd": {"enabled": False},
        "kubeControllerManager": {"enabled": False},
        "kubeScheduler": {"enabled": False},
        "kubeProxy": {"enabled": False},
        "alertmanager": {
            "enabled": args.alertmanager,
            "ingress": alertmanager_ingress(args),
            "alertmanagerSpec": _alertmanager_spec(args),
        },
        "prometheusOperator": {
            "resources": OPERATOR_RESOURCES.values(),
            **scheduling(args),
            "prometheusConfigReloader": {"resources": CONFIG_RELOADER_RESOURCES.values()},
            "admissionWebhooks": {
                "patch": {"resources": WEBHOOK_JOB_RESOURCES.values(), **scheduling(args)}
            },
        },
        "kube-state-metrics": {
            "resources": KUBE_STATE_METRICS_RESOURCES.values(),
            **scheduling(args),
        },
        "prometheus-node-exporter": {
            "resources": NODE_EXPORTER_RESOURCES.values(),
            "tolerations": node_agent_tolerations(args),
        },
        "prometheus": {
            "serviceAccount": {
                "create": True,
                "name": PROMETHEUS_SERVICE_ACCOUNT,
                "annotations": {IRSA_ROLE_ANNOTATION: role_arn},
            },
            "prometheusSpec": prometheus_spec(args),
            "thanosService": {"enabled": bool(args.query_namespaces)},
        },
    }
