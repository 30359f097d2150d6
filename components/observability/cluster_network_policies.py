"""NetworkPolicies of the ``prometheus`` namespace.

Ingress: only the namespace itself, plus the API server's admission-webhook calls to the
operator and, when asked, the query namespaces to Prometheus and its Thanos sidecar, and
the ingress controller to the Alertmanager it serves (``alertmanager_host``).
Egress: anywhere (Prometheus scrapes the whole cluster, Thanos uploads to S3, Alloy pushes
to Loki) except the node's instance-metadata endpoint: credentials come from IRSA, never
from the node's role. Node agents on the host network are not subject to these policies.
"""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_kubernetes as k8s

from components.network_policies import (
    allow_ingress,
    block_instance_metadata,
    declare_policies,
    from_namespace,
    pods,
    same_namespace_only,
)
from components.observability.cluster_monitoring_args import ClusterMonitoringArgs
from components.observability.cluster_prometheus import (
    ALERTMANAGER_POD_LABELS,
    ALERTMANAGER_PORT,
    OPERATOR_POD_LABELS,
    OPERATOR_WEBHOOK_PORT,
    PROMETHEUS_POD_LABELS,
    PROMETHEUS_PORT,
    THANOS_SIDECAR_GRPC_PORT,
)


def _specs(args: ClusterMonitoringArgs) -> dict[str, k8s.networking.v1.NetworkPolicySpecArgs]:
    specs = {
        "deny-other-namespaces": same_namespace_only(),
        # The API server's address is not a pod's: admit any source, on this port only.
        "allow-operator-webhook": allow_ingress(
            to=pods(OPERATOR_POD_LABELS), ports=(OPERATOR_WEBHOOK_PORT,)
        ),
        "egress-block-metadata": block_instance_metadata(),
    }
    if args.query_namespaces:
        specs["allow-query"] = allow_ingress(
            *(from_namespace(namespace) for namespace in args.query_namespaces),
            to=pods(PROMETHEUS_POD_LABELS),
            ports=(PROMETHEUS_PORT, THANOS_SIDECAR_GRPC_PORT),
        )
    if args.alertmanager_host is not None:
        specs["allow-ingress-alertmanager"] = allow_ingress(
            from_namespace(args.ingress_namespace),
            to=pods(ALERTMANAGER_POD_LABELS),
            ports=(ALERTMANAGER_PORT,),
        )
    return specs


def create_network_policies(
    name: str,
    args: ClusterMonitoringArgs,
    namespace: pulumi.Output[str],
    labels: Mapping[str, str],
    parent: pulumi.Resource,
) -> list[k8s.networking.v1.NetworkPolicy]:
    """Declare the namespace's policies, children of ``parent``, named ``<name>-<role>``."""
    return declare_policies(
        name, _specs(args), namespace, labels, pulumi.ResourceOptions(parent=parent)
    )
