"""NetworkPolicies of the operator's namespace and of the Stacks' namespace.

Operator: ingress from its own namespace and Prometheus on the metrics port. Workspaces
(one pod per Stack): ingress from their own namespace and the operator on the agent's
gRPC port only. Both: egress anywhere (git, the Pulumi backend, the Kubernetes and AWS
APIs) except the node's instance-metadata endpoint: credentials come from IRSA and the
mounted kubeconfig, never from the node's role.
"""

from __future__ import annotations

import pulumi_kubernetes as k8s

from components.network_policies import (
    allow_ingress,
    block_instance_metadata,
    from_namespace,
    pods,
    same_namespace_only,
)
from components.pulumi_operator.names import OPERATOR_NAMESPACE, WORKSPACE_GRPC_PORT
from components.pulumi_operator.values import METRICS_PORT, OPERATOR_POD_LABELS

Specs = dict[str, k8s.networking.v1.NetworkPolicySpecArgs]


def operator_policies(monitoring_namespace: str) -> Specs:
    return {
        "deny-other-namespaces": same_namespace_only(),
        "allow-metrics": allow_ingress(
            from_namespace(monitoring_namespace),
            to=pods(OPERATOR_POD_LABELS),
            ports=(METRICS_PORT,),
        ),
        "egress-block-metadata": block_instance_metadata(),
    }


def workspace_policies() -> Specs:
    return {
        "deny-other-namespaces": same_namespace_only(),
        "allow-operator": allow_ingress(
            from_namespace(OPERATOR_NAMESPACE), ports=(WORKSPACE_GRPC_PORT,)
        ),
        "egress-block-metadata": block_instance_metadata(),
    }
