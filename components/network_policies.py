"""The NetworkPolicy building blocks every namespace we create uses.

Policies are additive: once any policy selects a pod for ingress, only what some policy
allows gets in. Every namespace gets the same two baselines — ingress from the namespace
itself, and egress anywhere except the node's instance-metadata endpoint (workloads use
their own IRSA roles, never the node's credentials) — plus the openings its component
needs. The policy pack requires a NetworkPolicy in every namespace we create.
"""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_kubernetes as k8s

NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
ANYWHERE_CIDR = "0.0.0.0/0"
INSTANCE_METADATA_CIDR = "169.254.169.254/32"
ALL_PODS = k8s.meta.v1.LabelSelectorArgs()

_net = k8s.networking.v1


def pods(labels: Mapping[str, str]) -> k8s.meta.v1.LabelSelectorArgs:
    return k8s.meta.v1.LabelSelectorArgs(match_labels=dict(labels))


def from_namespace(namespace: str) -> k8s.networking.v1.NetworkPolicyPeerArgs:
    return _net.NetworkPolicyPeerArgs(namespace_selector=pods({NAMESPACE_NAME_LABEL: namespace}))


def tcp(*ports: int) -> list[k8s.networking.v1.NetworkPolicyPortArgs]:
    return [_net.NetworkPolicyPortArgs(protocol="TCP", port=port) for port in ports]


def allow_ingress(
    *peers: k8s.networking.v1.NetworkPolicyPeerArgs,
    to: k8s.meta.v1.LabelSelectorArgs = ALL_PODS,
    ports: tuple[int, ...] = (),
) -> k8s.networking.v1.NetworkPolicySpecArgs:
    """Ingress to the pods ``to`` selects from ``peers`` (none: from any source), on
    ``ports`` (none: every port)."""
    rule = _net.NetworkPolicyIngressRuleArgs(
        from_=list(peers) or None, ports=tcp(*ports) if ports else None
    )
    return _net.NetworkPolicySpecArgs(pod_selector=to, policy_types=["Ingress"], ingress=[rule])


def same_namespace_only() -> k8s.networking.v1.NetworkPolicySpecArgs:
    """Ingress from the namespace's own pods: every other namespace is denied."""
    return allow_ingress(_net.NetworkPolicyPeerArgs(pod_selector=ALL_PODS))


def block_instance_metadata() -> k8s.networking.v1.NetworkPolicySpecArgs:
    """Egress anywhere but the instance-metadata address."""
    return _net.NetworkPolicySpecArgs(
        pod_selector=ALL_PODS,
        policy_types=["Egress"],
        egress=[
            _net.NetworkPolicyEgressRuleArgs(
                to=[
                    _net.NetworkPolicyPeerArgs(
                        ip_block=_net.IPBlockArgs(
                            cidr=ANYWHERE_CIDR, except_=[INSTANCE_METADATA_CIDR]
                        )
                    ),
                    # Pod IPs are not matched by ipBlock on every CNI (Cilium): name the
                    # cluster's namespaces too, so DNS and in-cluster calls work.
                    _net.NetworkPolicyPeerArgs(namespace_selector=ALL_PODS),
                ]
            )
        ],
    )


def declare_policies(
    name: str,
    specs: Mapping[str, k8s.networking.v1.NetworkPolicySpecArgs],
    namespace: pulumi.Input[str],
    labels: Mapping[str, str],
    opts: pulumi.ResourceOptions,
) -> list[k8s.networking.v1.NetworkPolicy]:
    """One NetworkPolicy per ``role: spec``, named ``<name>-<role>`` (``role`` in the
    cluster)."""
    return [
        _net.NetworkPolicy(
            f"{name}-{role}",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=role, namespace=namespace, labels=dict(labels)
            ),
            spec=spec,
            opts=opts,
        )
        for role, spec in specs.items()
    ]
