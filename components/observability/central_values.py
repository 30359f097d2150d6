"""Helm charts and values of the central observability stack.

Pure functions of plain settings and (possibly unknown) outputs, so tests can read the
values without a cluster. Every workload a chart would deploy either gets requests and
limits here or is switched off. Value names follow the pinned chart versions below.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.observability.central_args import CentralObservabilityArgs
from components.observability.central_irsa import IRSA_ROLE_ANNOTATION


@dataclass(frozen=True)
class Chart:
    """A Helm chart pinned to one exact version of one repository."""

    name: str
    version: str
    repository: str | None  # None: ``name`` is an oci:// reference

    @property
    def release(self) -> str:
        return self.name.rsplit("/", 1)[-1]


THANOS = Chart("oci://registry-1.docker.io/bitnamicharts/thanos", "13.2.2", None)
LOKI = Chart("loki", "6.29.0", "https://grafana.github.io/helm-charts")
GRAFANA = Chart("grafana", "8.4.4", "https://grafana.github.io/helm-charts")

# Thanos compactor retention per resolution (raw 7 d, 5 m 30 d, 1 h 365 d).
THANOS_RETENTION = {
    "retentionResolutionRaw": "7d",
    "retentionResolution5m": "30d",
    "retentionResolution1h": "365d",
}
LOKI_DEFAULT_RETENTION = "168h"  # 7 days
LOKI_CRITICAL_RETENTION = "720h"  # 30 days

THANOS_STOREGATEWAY_SA = "thanos-storegateway"
THANOS_COMPACTOR_SA = "thanos-compactor"
LOKI_SA = "loki"
GRAFANA_ADMIN_SECRET_KEYS = ("admin-user", "admin-password")
GRAFANA_PORT = 80
THANOS_QUERY_PORT = 9090
THANOS_GRPC_PORT = 10901
LOKI_GATEWAY_PORT = 80
THANOS_DATASOURCE_UID = "thanos"
LOKI_DATASOURCE_UID = "loki"


def resources(cpu: str, memory: str, cpu_limit: str, memory_limit: str) -> dict[str, Any]:
    return {
        "requests": {"cpu": cpu, "memory": memory},
        "limits": {"cpu": cpu_limit, "memory": memory_limit},
    }


def _placement(args: CentralObservabilityArgs) -> dict[str, Any]:
    return {
        "nodeSelector": dict(args.node_selector),
        "tolerations": [t.as_value() for t in args.tolerations],
    }


def service_url(release: str, namespace: str, port: int, scheme: str = "http") -> str:
    return f"{scheme}://{release}.{namespace}.svc.cluster.local:{port}"


def thanos_objstore_config(bucket: str, region: str) -> str:
    """Thanos' S3 objstore configuration: no keys, the SDK takes the IRSA web identity."""
    return (
        "type: S3\n"
        "config:\n"
        f"  bucket: {bucket}\n"
        f"  endpoint: s3.{region}.amazonaws.com\n"
        f"  region: {region}\n"
        "  sse_config:\n"
        "    type: SSE-S3\n"
    )


def _service_account(name: str, role_arn: pulumi.Input[str]) -> dict[str, Any]:
    return {"create": True, "name": name, "annotations": {IRSA_ROLE_ANNOTATION: role_arn}}


def thanos_values(
    args: CentralObservabilityArgs,
    *,
    bucket: pulumi.Input[str],
    storegateway_role_arn: pulumi.Input[str],
    compactor_role_arn: pulumi.Input[str],
) -> dict[str, Any]:
    """Query (fans out to the store gateway and the clusters' sidecars), store gateway
    (serves the bucket's blocks) and compactor (downsamples and applies retention)."""
    placement = _placement(args)
    return {
        "objstoreConfig": pulumi.Output.from_input(bucket).apply(
            lambda name: thanos_objstore_config(name, args.region)
        ),
        "query": {
            "enabled": True,
            "replicaCount": 2,
            "replicaLabel": ["prometheus_replica"],
            "dnsDiscovery": {"enabled": True, "sidecarsService": "", "sidecarsNamespace": ""},
            "stores": list(args.thanos_store_endpoints),
            "resources": resources("200m", "512Mi", "1", "2Gi"),
            **placement,
        },
        "queryFrontend": {"enabled": False},
        "bucketweb": {"enabled": False},
        "ruler": {"enabled": False},
        "receive": {"enabled": False},
        "receiveDistributor": {"enabled": False},
        "storegateway": {
            "enabled": True,
            "serviceAccount": _service_account(THANOS_STOREGATEWAY_SA, storegateway_role_arn),
            "persistence": {"enabled": True, "size": "20Gi"},
            "resources": resources("200m", "1Gi", "1", "4Gi"),
            **placement,
        },
        "compactor": {
            "enabled": True,
            **THANOS_RETENTION,
            "serviceAccount": _service_account(THANOS_COMPACTOR_SA, compactor_role_arn),
            "persistence": {"enabled": True, "size": "50Gi"},
            "resources": resources("200m", "1Gi", "1", "4Gi"),
            **placement,
        },
        "metrics": {"enabled": True, "serviceMonitor": {"enabled": True}},
    }


def loki_retention_streams(selectors: Sequence[str]) -> list[dict[str, Any]]:
    """Critical streams keep the long period (a higher priority wins over the default)."""
    return [
        {"selector": selector, "priority": 1, "period": LOKI_CRITICAL_RETENTION}
        for selector in selectors
    ]


def loki_values(
    args: CentralObservabilityArgs,
    *,
    bucket: pulumi.Input[str],
    role_arn: pulumi.Input[str],
) -> dict[str, Any]:
    """Simple-scalable Loki (write, read, backend) on its own bucket; the backend's
    compactor applies retention: ``critical_stream_selectors`` 30 d, the rest 7 d."""
    placement = _placement(args)
    target = {"persistence": {"size": "10Gi"}, **placement}
    gateway: dict[str, Any] = {
        "enabled": True,
        "replicas": 2,
        "resources": resources("50m", "64Mi", "500m", "256Mi"),
        **placement,
    }
    if args.loki_host:
        gateway["ingress"] = _ingress(args, args.loki_host, "loki-gateway-tls")
    return {
        "deploymentMode": "SimpleScalable",
        "loki": {
            # One tenant: every cluster's logs are the platform's.
            "auth_enabled": False,
            "schemaConfig": {
                "configs": [
                    {
                        "from": "2024-04-01",
                        "store": "tsdb",
                        "object_store": "s3",
                        "schema": "v13",
                        "index": {"prefix": "loki_index_", "period": "24h"},
                    }
                ]
            },
            "storage": {
                "type": "s3",
                "bucketNames": {"chunks": bucket, "ruler": bucket},
                "s3": {"region": args.region},
            },
            "limits_config": {
                "retention_period": LOKI_DEFAULT_RETENTION,
                "retention_stream": loki_retention_streams(args.critical_stream_selectors),
            },
            "compactor": {
                "retention_enabled": True,
                "delete_request_store": "s3",
                "working_directory": "/var/loki/compactor",
                "retention_delete_delay": "2h",
            },
        },
        "serviceAccount": {
            "create": True,
            "name": LOKI_SA,
            "annotations": {IRSA_ROLE_ANNOTATION: role_arn},
        },
        "write": {"replicas": 3, "resources": resources("250m", "512Mi", "1", "2Gi"), **target},
        "read": {"replicas": 2, "resources": resources("250m", "512Mi", "1", "2Gi"), **target},
        "backend": {
            "replicas": 2,
            "resources": resources("100m", "256Mi", "500m", "1Gi"),
            **target,
        },
        "singleBinary": {"replicas": 0},
        "gateway": gateway,
        "sidecar": {"resources": resources("10m", "64Mi", "100m", "128Mi")},
        # Memcached caches pay off at a scale we do not have; the canary and its Helm
        # test only prove the chart works.
        "chunksCache": {"enabled": False},
        "resultsCache": {"enabled": False},
        "lokiCanary": {"enabled": False},
        "test": {"enabled": False},
        "minio": {"enabled": False},
    }


def _ingress(args: CentralObservabilityArgs, host: str, tls_secret: str) -> dict[str, Any]:
    return {
        "enabled": True,
        "ingressClassName": args.ingress_class,
        "hosts": [{"host": host, "paths": [{"path": "/", "pathType": "Prefix"}]}],
        "tls": [{"secretName": tls_secret, "hosts": [host]}],
    }


def grafana_datasources(namespace: str) -> dict[str, Any]:
    """Thanos (the default, Prometheus-compatible) and Loki, both through their services."""
    return {
        "datasources.yaml": {
            "apiVersion": 1,
            "datasources": [
                {
                    "name": "Thanos",
                    "type": "prometheus",
                    "uid": THANOS_DATASOURCE_UID,
                    "access": "proxy",
                    "url": service_url("thanos-query", namespace, THANOS_QUERY_PORT),
                    "isDefault": True,
                    "jsonData": {"prometheusType": "Thanos", "timeInterval": "30s"},
                },
                {
                    "name": "Loki",
                    "type": "loki",
                    "uid": LOKI_DATASOURCE_UID,
                    "access": "proxy",
                    "url": service_url("loki-gateway", namespace, LOKI_GATEWAY_PORT),
                },
            ],
        }
    }


def grafana_values(
    args: CentralObservabilityArgs,
    *,
    database_host: pulumi.Input[str],
    database_name: str,
    database_user: str,
    database_secret: str,
    password_key: str,
    admin_secret: str,
    root_url: str,
    dashboard_label: tuple[str, str],
) -> dict[str, Any]:
    """Grafana on Aurora (two replicas share it), provisioned datasources, and the
    dashboard sidecar that loads the repository's dashboards from a ConfigMap."""
    placement = _placement(args)
    values: dict[str, Any] = {
        "replicas": 2,
        "admin": {
            "existingSecret": admin_secret,
            "userKey": GRAFANA_ADMIN_SECRET_KEYS[0],
            "passwordKey": GRAFANA_ADMIN_SECRET_KEYS[1],
        },
        "grafana.ini": {
            "server": {"root_url": root_url},
            "database": {
                "type": "postgres",
                "host": database_host,
                "name": database_name,
                "user": database_user,
                "ssl_mode": "require",
            },
            "analytics": {"reporting_enabled": False, "check_for_updates": False},
        },
        # The password comes from the Secret, never from these values.
        "envValueFrom": {
            "GF_DATABASE_PASSWORD": {"secretKeyRef": {"name": database_secret, "key": password_key}}
        },
        "persistence": {"enabled": False},
        "datasources": grafana_datasources(args.namespace),
        "sidecar": {
            "resources": resources("50m", "64Mi", "200m", "256Mi"),
            "dashboards": {
                "enabled": True,
                "label": dashboard_label[0],
                "labelValue": dashboard_label[1],
                "searchNamespace": None,
            },
        },
        "resources": resources("100m", "256Mi", "1", "1Gi"),
        "testFramework": {"enabled": False},
        **placement,
    }
    if args.grafana_host:
        values["ingress"] = {
            "enabled": True,
            "ingressClassName": args.ingress_class,
            "hosts": [args.grafana_host],
            "tls": [{"secretName": "grafana-tls", "hosts": [args.grafana_host]}],
        }
    return values


def helm_release_kwargs(chart: Chart) -> Mapping[str, Any]:
    """``chart``/``version``/``repository_opts`` of a ``helm.v3.Release`` for ``chart``."""
    kwargs: dict[str, Any] = {"chart": chart.name, "version": chart.version}
    if chart.repository is not None:
        kwargs["repository_opts"] = k8s.helm.v3.RepositoryOptsArgs(repo=chart.repository)
    return kwargs
