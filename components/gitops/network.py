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
from components.observability.cluster_network_policies import (
    ANYWHERE_CIDR,
    INSTANCE_METADATA_CIDR,
    NAMESPACE_NAME_LABEL,
)

SERVER_POD_LABELS: Mapping[str, str] = {"app.kubernetes.io/name": "argocd-server"}
SERVER_PORT = 8080
# Metrics ports of the controller, server, repo server, ApplicationSet controller and
# notifications controller (the chart's defaults).
METRICS_PORTS = (8082, 8083, 8084, 8080, 9001)

_ALL_PODS = k8s.meta.v1.LabelSelectorArgs()
_net = k8s.networking.v1


def _from_namespace(namespace: str) -> k8s.networking.v1.NetworkPolicyPeerArgs:
    return _net.NetworkPolicyPeerArgs(
        namespace_selector=k8s.meta.v1.LabelSelectorArgs(
            match_labels={NAMESPACE_NAME_LABEL: namespace}
        )
    )


def _tcp(*ports: int) -> list[k8s.networking.v1.NetworkPolicyPortArgs]:
    return [_net.NetworkPolicyPortArgs(protocol="TCP", port=port) for port in ports]


def _specs(args: GitOpsPlatformArgs) -> dict[str, k8s.networking.v1.NetworkPolicySpecArgs]:
    return {
        "deny-other-namespaces": _net.NetworkPolicySpecArgs(
            pod_selector=_ALL_PODS,
            policy_types=["Ingress"],
            ingress=[
                _net.NetworkPolicyIngressRuleArgs(
                    from_=[_net.NetworkPolicyPeerArgs(pod_selector=_ALL_PODS)]
                )
            ],
        ),
        "allow-metrics": _net.NetworkPolicySpecArgs(
            pod_selector=_ALL_PODS,
            policy_types=["Ingress"],
            ingress=[
                _net.NetworkPolicyIngressRuleArgs(
                    from_=[_from_namespace(args.monitoring_namespace)],
                    ports=_tcp(*METRICS_PORTS),
                )
            ],
        ),
        "allow-ingress-server": _net.NetworkPolicySpecArgs(
            pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=dict(SERVER_POD_LABELS)),
            policy_types=["Ingress"],
            ingress=[
                _net.NetworkPolicyIngressRuleArgs(
                    from_=[_from_namespace(args.ingress_namespace)], ports=_tcp(SERVER_PORT)
                )
            ],
        ),
        "egress-block-metadata": _net.NetworkPolicySpecArgs(
            pod_selector=_ALL_PODS,
            policy_types=["Egress"],
            egress=[
                _net.NetworkPolicyEgressRuleArgs(
                    to=[
                        _net.NetworkPolicyPeerArgs(
                            ip_block=_net.IPBlockArgs(
                                cidr=ANYWHERE_CIDR, except_=[INSTANCE_METADATA_CIDR]
                            )
                        ),
                        _net.NetworkPolicyPeerArgs(namespace_selector=_ALL_PODS),
                    ]
                )
            ],
        ),
    }


def create_network_policies(
    name: str,
    args: GitOpsPlatformArgs,
    namespace: pulumi.Output[str],
    labels: Mapping[str, str],
    parent: pulumi.Resource,
) -> list[k8s.networking.v1.NetworkPolicy]:
    """Declare the namespace's policies, children of ``parent``, named ``<name>-<role>``."""
    return [
        _net.NetworkPolicy(
            f"{name}-{role}",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=role, namespace=namespace, labels=dict(labels)
            ),
            spec=spec,
            opts=pulumi.ResourceOptions(parent=parent),
        )
        for role, spec in _specs(args).items()
    ]
