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

NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
ANYWHERE_CIDR = "0.0.0.0/0"
INSTANCE_METADATA_CIDR = "169.254.169.254/32"

_ALL_PODS = k8s.meta.v1.LabelSelectorArgs()


def _pods(labels: Mapping[str, str]) -> k8s.meta.v1.LabelSelectorArgs:
    return k8s.meta.v1.LabelSelectorArgs(match_labels=dict(labels))


def _tcp(*ports: int) -> list[k8s.networking.v1.NetworkPolicyPortArgs]:
    return [k8s.networking.v1.NetworkPolicyPortArgs(protocol="TCP", port=port) for port in ports]


def _specs(args: ClusterMonitoringArgs) -> dict[str, k8s.networking.v1.NetworkPolicySpecArgs]:
    specs = {
        "deny-other-namespaces": k8s.networking.v1.NetworkPolicySpecArgs(
            pod_selector=_ALL_PODS,
            policy_types=["Ingress"],
            ingress=[
                k8s.networking.v1.NetworkPolicyIngressRuleArgs(
                    from_=[k8s.networking.v1.NetworkPolicyPeerArgs(pod_selector=_ALL_PODS)]
                )
            ],
        ),
        # The API server's address is not a pod's: admit any source, on this port only.
        "allow-operator-webhook": k8s.networking.v1.NetworkPolicySpecArgs(
            pod_selector=_pods(OPERATOR_POD_LABELS),
            policy_types=["Ingress"],
            ingress=[
                k8s.networking.v1.NetworkPolicyIngressRuleArgs(ports=_tcp(OPERATOR_WEBHOOK_PORT))
            ],
        ),
        "egress-block-metadata": k8s.networking.v1.NetworkPolicySpecArgs(
            pod_selector=_ALL_PODS,
            policy_types=["Egress"],
            egress=[
                k8s.networking.v1.NetworkPolicyEgressRuleArgs(
                    to=[
                        k8s.networking.v1.NetworkPolicyPeerArgs(
                            ip_block=k8s.networking.v1.IPBlockArgs(
                                cidr=ANYWHERE_CIDR, except_=[INSTANCE_METADATA_CIDR]
                            )
                        ),
                        # Pod IPs are not matched by ipBlock on every CNI (Cilium).
                        k8s.networking.v1.NetworkPolicyPeerArgs(namespace_selector=_ALL_PODS),
                    ]
                )
            ],
        ),
    }
    if args.query_namespaces:
        specs["allow-query"] = k8s.networking.v1.NetworkPolicySpecArgs(
            pod_selector=_pods(PROMETHEUS_POD_LABELS),
            policy_types=["Ingress"],
            ingress=[
                k8s.networking.v1.NetworkPolicyIngressRuleArgs(
                    from_=[
                        k8s.networking.v1.NetworkPolicyPeerArgs(
                            namespace_selector=_pods({NAMESPACE_NAME_LABEL: namespace})
                        )
                        for namespace in args.query_namespaces
                    ],
                    ports=_tcp(PROMETHEUS_PORT, THANOS_SIDECAR_GRPC_PORT),
                )
            ],
        )
    if args.alertmanager_host is not None:
        specs["allow-ingress-alertmanager"] = k8s.networking.v1.NetworkPolicySpecArgs(
            pod_selector=_pods(ALERTMANAGER_POD_LABELS),
            policy_types=["Ingress"],
            ingress=[
                k8s.networking.v1.NetworkPolicyIngressRuleArgs(
                    from_=[
                        k8s.networking.v1.NetworkPolicyPeerArgs(
                            namespace_selector=_pods({NAMESPACE_NAME_LABEL: args.ingress_namespace})
                        )
                    ],
                    ports=_tcp(ALERTMANAGER_PORT),
                )
            ],
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
    return [
        k8s.networking.v1.NetworkPolicy(
            f"{name}-{role}",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=role, namespace=namespace, labels=dict(labels)
            ),
            spec=spec,
            opts=pulumi.ResourceOptions(parent=parent),
        )
        for role, spec in _specs(args).items()
    ]
