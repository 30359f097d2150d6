"""The four NetworkPolicies that isolate an environment's namespace."""

from __future__ import annotations

import pulumi_kubernetes as k8s

from components.network_policies import (
    allow_ingress,
    block_instance_metadata,
    declare_policies,
    from_namespace,
    same_namespace_only,
)
from components.test_environment.context import EnvironmentContext
from components.test_environment.metadata import managed_labels

APP_PORT = 8065
METRICS_PORT = 8067
PROMETHEUS_NAMESPACE = "prometheus"
INGRESS_NAMESPACE = "ingress-nginx"


def create_network_policies(ctx: EnvironmentContext) -> list[k8s.networking.v1.NetworkPolicy]:
    """Deny other namespaces, admit Prometheus and ingress-nginx, block instance metadata
    (its credentials are the node's, not the app's)."""
    specs = {
        "deny-other-namespaces": same_namespace_only(),
        "allow-prometheus": allow_ingress(
            from_namespace(PROMETHEUS_NAMESPACE), ports=(APP_PORT, METRICS_PORT)
        ),
        "allow-ingress-nginx": allow_ingress(from_namespace(INGRESS_NAMESPACE), ports=(APP_PORT,)),
        "egress-block-metadata": block_instance_metadata(),
    }
    return declare_policies(
        ctx.name, specs, ctx.namespace, managed_labels(ctx.args.team), ctx.child_opts()
    )
