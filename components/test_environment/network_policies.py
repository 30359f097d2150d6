"""The four NetworkPolicies that isolate an environment's namespace."""

from __future__ import annotations

import pulumi_kubernetes as k8s

from components.test_environment.context import EnvironmentContext
from components.test_environment.metadata import managed_labels

APP_PORT = 8065
METRICS_PORT = 8067
PROMETHEUS_NAMESPACE = "prometheus"
INGRESS_NAMESPACE = "ingress-nginx"
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
ANYWHERE_CIDR = "0.0.0.0/0"
INSTANCE_METADATA_CIDR = "169.254.169.254/32"

_ALL_PODS = k8s.meta.v1.LabelSelectorArgs()


def _from_namespace(namespace: str) -> k8s.networking.v1.NetworkPolicyPeerArgs:
    return k8s.networking.v1.NetworkPolicyPeerArgs(
        namespace_selector=k8s.meta.v1.LabelSelectorArgs(
            match_labels={NAMESPACE_NAME_LABEL: namespace}
        )
    )


def _tcp(*ports: int) -> list[k8s.networking.v1.NetworkPolicyPortArgs]:
    return [k8s.networking.v1.NetworkPolicyPortArgs(protocol="TCP", port=port) for port in ports]


def create_network_policies(ctx: EnvironmentContext) -> list[k8s.networking.v1.NetworkPolicy]:
    """Deny other namespaces, admit Prometheus and ingress-nginx, block instance metadata.

    Policies are additive: once any policy selects a pod for ingress, only what some
    policy allows gets in. The egress policy keeps the internet reachable but not the
    node's instance-metadata endpoint (its credentials are the node's, not the app's).
    """
    specs: dict[str, k8s.networking.v1.NetworkPolicySpecArgs] = {
        "deny-other-namespaces": k8s.networking.v1.NetworkPolicySpecArgs(
            pod_selector=_ALL_PODS,
            policy_types=["Ingress"],
            ingress=[
                k8s.networking.v1.NetworkPolicyIngressRuleArgs(
                    from_=[k8s.networking.v1.NetworkPolicyPeerArgs(pod_selector=_ALL_PODS)]
                )
            ],
        ),
        "allow-prometheus": k8s.networking.v1.NetworkPolicySpecArgs(
            pod_selector=_ALL_PODS,
            policy_types=["Ingress"],
            ingress=[
                k8s.networking.v1.NetworkPolicyIngressRuleArgs(
                    from_=[_from_namespace(PROMETHEUS_NAMESPACE)],
                    ports=_tcp(APP_PORT, METRICS_PORT),
                )
            ],
        ),
        "allow-ingress-nginx": k8s.networking.v1.NetworkPolicySpecArgs(
            pod_selector=_ALL_PODS,
            policy_types=["Ingress"],
            ingress=[
                k8s.networking.v1.NetworkPolicyIngressRuleArgs(
                    from_=[_from_namespace(INGRESS_NAMESPACE)], ports=_tcp(APP_PORT)
                )
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
                        # Pod IPs are not matched by ipBlock on every CNI (Cilium): name
                        # the cluster's namespaces too, so DNS and in-cluster calls work.
                        k8s.networking.v1.NetworkPolicyPeerArgs(namespace_selector=_ALL_PODS),
                    ]
                )
            ],
        ),
    }
    labels = managed_labels(ctx.args.team)
    return [
        k8s.networking.v1.NetworkPolicy(
            f"{ctx.name}-{role}",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=role, namespace=ctx.namespace, labels=labels),
            spec=spec,
            opts=ctx.child_opts(),
        )
        for role, spec in specs.items()
    ]
