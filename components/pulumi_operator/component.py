"""``PulumiOperator``: the Pulumi Kubernetes Operator in the cnc cluster, and the Stack
resources it reconciles (one per active environment request).

The operator comes from pulumi's chart at an exact version (``values.py``) in a
namespace of its own. The Stacks live in a second namespace that outlives them, with
the one service account their workspace pods run as. Removing a Stack resource makes
the operator destroy its stack (``destroyOnFinalize``) before the resource goes away.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.aws_policies import IRSA_ROLE_ANNOTATION
from components.network_policies import declare_policies
from components.pulumi_operator import network, values
from components.pulumi_operator.args import PulumiOperatorArgs, validate
from components.pulumi_operator.names import (
    OPERATOR_NAMESPACE,
    STACK_API_VERSION,
    STACK_KIND,
    STACKS_NAMESPACE,
    WORKSPACE_SERVICE_ACCOUNT,
)
from components.test_environment.metadata import LABEL_ENVIRONMENT, LABEL_MANAGED_BY, MANAGED_BY

TYPE_TOKEN = "sre:environments:PulumiOperator"
RELEASE_TIMEOUT = 600
RELEASE_HISTORY = 10
# The workspace agent authenticates the operator's calls (TokenReview, SubjectAccessReview).
AUTH_DELEGATOR = "system:auth-delegator"
# Deleting a Stack waits for the operator's destroy of the environment (an RDS instance
# alone takes minutes); creating one waits for nothing (the operator reports progress).
STACK_TIMEOUTS = pulumi.CustomTimeouts(create="5m", update="5m", delete="60m")


class PulumiOperator(pulumi.ComponentResource):
    """Namespaces ``pulumi-kubernetes-operator`` and ``environment-stacks`` with their
    NetworkPolicies, the workspaces' service account and its one binding, the Helm
    release, and one ``pulumi.com/v1`` Stack per entry of ``args.stacks``.

    Inputs are validated before anything is declared (``PulumiOperatorError``). The
    kubernetes provider comes from ``opts``. Outputs: ``namespace`` (the operator's),
    ``stacks_namespace``, ``stacks`` (the Stack resources' names, sorted).
    """

    namespace: pulumi.Output[str]
    stacks_namespace: pulumi.Output[str]
    stacks: list[str]

    def __init__(
        self, name: str, args: PulumiOperatorArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        validate(name, args)
        super().__init__(TYPE_TOKEN, name, None, opts)
        self._name = name
        labels = {LABEL_MANAGED_BY: MANAGED_BY, LABEL_ENVIRONMENT: args.environment}
        self._labels = labels
        operator_ns = self._namespace("namespace", OPERATOR_NAMESPACE)
        stacks_ns = self._namespace("stacks-namespace", STACKS_NAMESPACE)
        policies = [
            *declare_policies(
                f"{name}-operator",
                network.operator_policies(args.monitoring_namespace),
                operator_ns,
                labels,
                pulumi.ResourceOptions(parent=self),
            ),
            *declare_policies(
                f"{name}-stacks",
                network.workspace_policies(),
                stacks_ns,
                labels,
                pulumi.ResourceOptions(parent=self),
            ),
        ]
        account, binding = self._workspace_identity(stacks_ns, args.workspace_role_arn)
        release = k8s.helm.v3.Release(
            f"{name}-operator",
            chart=values.CHART,
            version=values.CHART_VERSION,
            name=values.RELEASE_NAME,
            namespace=operator_ns,
            values=values.chart_values(args),
            atomic=True,
            cleanup_on_fail=True,
            timeout=RELEASE_TIMEOUT,
            max_history=RELEASE_HISTORY,
            opts=pulumi.ResourceOptions(parent=self, depends_on=policies),
        )
        after = [release, account, binding, *policies]
        self.stacks = sorted(args.stacks)
        for key in self.stacks:
            self._stack(key, args.stacks[key], stacks_ns, after)

        self.namespace = operator_ns
        self.stacks_namespace = stacks_ns
        self.register_outputs(
            {
                "namespace": self.namespace,
                "stacks_namespace": self.stacks_namespace,
                "stacks": self.stacks,
            }
        )

    def _namespace(self, role: str, namespace_name: str) -> pulumi.Output[str]:
        namespace = k8s.core.v1.Namespace(
            f"{self._name}-{role}",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=namespace_name, labels=self._labels),
            opts=pulumi.ResourceOptions(parent=self),
        )
        named: pulumi.Output[str] = namespace.metadata.apply(
            lambda meta: str(meta.name or namespace_name)
        )
        return named

    def _workspace_identity(
        self, namespace: pulumi.Output[str], role_arn: str | None
    ) -> tuple[k8s.core.v1.ServiceAccount, k8s.rbac.v1.ClusterRoleBinding]:
        """The workspaces' service account (IRSA role when given) and its one binding:
        no Kubernetes rights in the cnc cluster beyond checking who calls it."""
        account = k8s.core.v1.ServiceAccount(
            f"{self._name}-workspace",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=WORKSPACE_SERVICE_ACCOUNT,
                namespace=namespace,
                labels=self._labels,
                annotations={IRSA_ROLE_ANNOTATION: role_arn} if role_arn else None,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        binding = k8s.rbac.v1.ClusterRoleBinding(
            f"{self._name}-workspace-auth-delegator",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=f"{STACKS_NAMESPACE}:{WORKSPACE_SERVICE_ACCOUNT}:{AUTH_DELEGATOR}",
                labels=self._labels,
            ),
            role_ref=k8s.rbac.v1.RoleRefArgs(
                api_group="rbac.authorization.k8s.io", kind="ClusterRole", name=AUTH_DELEGATOR
            ),
            subjects=[
                k8s.rbac.v1.SubjectArgs(
                    kind="ServiceAccount", name=WORKSPACE_SERVICE_ACCOUNT, namespace=namespace
                )
            ],
            opts=pulumi.ResourceOptions(parent=self),
        )
        return account, binding

    def _stack(
        self,
        key: str,
        document: Mapping[str, Any],
        namespace: pulumi.Output[str],
        after: list[pulumi.Resource],
    ) -> k8s.apiextensions.CustomResource:
        """One Stack, after the chart (which installs its CRD) and the workspace identity."""
        metadata = document["metadata"]
        return k8s.apiextensions.CustomResource(
            f"{self._name}-{key}",
            api_version=STACK_API_VERSION,
            kind=STACK_KIND,
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=key,
                namespace=namespace,
                labels={**(metadata.get("labels") or {}), **self._labels},
                annotations=dict(metadata.get("annotations") or {}) or None,
            ),
            spec=document["spec"],
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=after, custom_timeouts=STACK_TIMEOUTS
            ),
        )
