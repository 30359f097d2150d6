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

from components.network_policies import (
    allow_ingress,
    block_instance_metadata,
    declare_policies,
    from_namespace,
    same_namespace_only,
)


def policy_specs(
    ingress_namespace: str, prometheus_namespace: str
) -> dict[str, k8s.networking.v1.NetworkPolicySpecArgs]:
    """Role -> spec of each policy (policies are additive)."""
    return {
        "allow-same-namespace": same_namespace_only(),
        "allow-ingress-controller": allow_ingress(from_namespace(ingress_namespace)),
        "allow-prometheus": allow_ingress(from_namespace(prometheus_namespace)),
        "egress-block-metadata": block_instance_metadata(),
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
    return declare_policies(
        name,
        policy_specs(ingress_namespace, prometheus_namespace),
        namespace,
        labels,
        pulumi.ResourceOptions(parent=parent),
    )
