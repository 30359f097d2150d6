"""NetworkPolicies of the ``argocd`` namespace.

Ingress: the namespace itself, Prometheus (its namespace) on the metrics ports, and the
ingress controller's namespace to the Argo CD server. Egress: anywhere (git, Helm
repositories, STS, the clusters' API servers) except the node's instance-metadata
endpoint: Argo CD's AWS credentials come from IRSA, never from the node's role.
"""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_kubernetes as k8s

from components.gitops.args import GitOpsPlatformArgs
from components.network_policies import (
    allow_ingress,
    block_instance_metadata,
    declare_policies,
    from_namespace,
    pods,
    same_namespace_only,
)

SERVER_POD_LABELS: Mapping[str, str] = {"app.kubernetes.io/name": "argocd-server"}
SERVER_PORT = 8080
# Metrics ports of the controller, server, repo server, ApplicationSet controller and
# notifications controller (the chart's defaults).
METRICS_PORTS = (8082, 8083, 8084, 8080, 9001)


def _specs(args: GitOpsPlatformArgs) -> dict[str, k8s.networking.v1.NetworkPolicySpecArgs]:
    return {
        "deny-other-namespaces": same_namespace_only(),
        "allow-metrics": allow_ingress(
            from_namespace(args.monitoring_namespace), ports=METRICS_PORTS
        ),
        "allow-ingress-server": allow_ingress(
            from_namespace(args.ingress_namespace),
            to=pods(SERVER_POD_LABELS),
            ports=(SERVER_PORT,),
        ),
        "egress-block-metadata": block_instance_metadata(),
    }


def create_network_policies(
    name: str,
    args: GitOpsPlatformArgs,
    namespace: pulumi.Output[str],
    labels: Mapping[str, str],
    parent: pulumi.Resource,
) -> list[k8s.networking.v1.NetworkPolicy]:
    """Declare the namespace's policies, children of ``parent``, named ``<name>-<role>``."""
    return declare_policies(
        name, _specs(args), namespace, labels, pulumi.ResourceOptions(parent=parent)
    )
