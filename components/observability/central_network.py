"""NetworkPolicies of the central observability namespace.

Pods talk freely inside the namespace; from outside only the ingress controller (Grafana,
the Loki gateway) and Prometheus (scraping, alert queries) get in. Egress stays open but
the node's instance-metadata endpoint is blocked: workloads use their IRSA roles, never
the node's credentials.
"""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_kubernetes as k8s

NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
INSTANCE_METADATA_CIDR = "169.254.169.254/32"
ANYWHERE_CIDR = "0.0.0.0/0"
_ALL_PODS = k8s.meta.v1.LabelSelectorArgs()


def _from_namespace(namespace: str) -> k8s.networking.v1.NetworkPolicyPeerArgs:
    return k8s.networking.v1.NetworkPolicyPeerArgs(
        namespace_selector=k8s.meta.v1.LabelSelectorArgs(
            match_labels={NAMESPACE_NAME_LABEL: namespace}
        )
    )


def _ingress_from(
    *peers: k8s.networking.v1.NetworkPolicyPeerArgs,
) -> k8s.networking.v1.NetworkPolicySpecArgs:
    return k8s.networking.v1.NetworkPolicySpecArgs(
        pod_selector=_ALL_PODS,
        policy_types=["Ingress"],
        ingress=[k8s.networking.v1.NetworkPolicyIngressRuleArgs(from_=list(peers))],
    )


def policy_specs(
    ingress_namespace: str, prometheus_namespace: str
) -> dict[str, k8s.networking.v1.NetworkPolicySpecArgs]:
    """Role -> spec of each policy (policies are additive)."""
    return {
        "allow-same-namespace": _ingress_from(
            k8s.networking.v1.NetworkPolicyPeerArgs(pod_selector=_ALL_PODS)
        ),
        "allow-ingress-controller": _ingress_from(_from_namespace(ingress_namespace)),
        "allow-prometheus": _ingress_from(_from_namespace(prometheus_namespace)),
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
                        # Pod IPs are not matched by ipBlock on every CNI: name the
                        # cluster's namespaces too, so DNS and in-cluster calls work.
                        k8s.networking.v1.NetworkPolicyPeerArgs(namespace_selector=_ALL_PODS),
                    ]
                )
            ],
        ),
    }


def create_network_policies(
    name: str,
    namespace: pulumi.Output[str],
    labels: Mapping[str, str],
    *,
    ingress_namespace: str,
    prometheus_namespace: str,
    parent: pulumi.Resource,
) -> list[k8s.networking.v1.NetworkPolicy]:
    return [
        k8s.networking.v1.NetworkPolicy(
            f"{name}-{role}",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=role, namespace=namespace, labels=dict(labels)
            ),
            spec=spec,
            opts=pulumi.ResourceOptions(parent=parent),
        )
        for role, spec in policy_specs(ingress_namespace, prometheus_namespace).items()
    ]
