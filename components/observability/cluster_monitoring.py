"""``ClusterMonitoring``: metrics and logs of one cluster, shipped to the central stack.

Every cluster runs kube-prometheus-stack in namespace ``prometheus`` (Prometheus keeps 7
days of raw samples on its own volume; its Thanos sidecar uploads every block to the
environment's metrics bucket through an IRSA role) and Grafana Alloy, which pushes every
pod's logs to the central Loki. Both charts are Helm releases pinned to exact versions,
except where Argo CD installs them (``argo_cd_charts``, from the GitOps data): there this
component declares everything else and no release, so no chart has two owners.
"""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.aws_policies import access_policy, trust_policy
from components.observability import cluster_alloy, cluster_prometheus
from components.observability.cluster_monitoring_args import (
    UTILITIES_NODE_SELECTOR,
    UTILITIES_TOLERATION,
    ClusterMonitoringArgs,
    ClusterMonitoringError,
    ComputeResources,
)
from components.observability.cluster_monitoring_handover import cluster_annotations
from components.observability.cluster_monitoring_validation import bucket_region, validate
from components.observability.cluster_network_policies import create_network_policies
from components.observability.cluster_prometheus import (
    NAMESPACE,
    OBJSTORE_KEY,
    OBJSTORE_SECRET,
    PROMETHEUS_SERVICE_ACCOUNT,
    RULE_SELECTOR_LABELS,
    objstore_config,
)
from components.tags import platform_tags
from components.test_environment.metadata import LABEL_ENVIRONMENT, LABEL_MANAGED_BY, MANAGED_BY

TYPE_TOKEN = "sre:observability:ClusterMonitoring"
# Node exporter shares the node's network and PID namespaces and Alloy mounts the node's
# /var/log: the namespace admits them, which the baseline Pod Security level would not.
LABEL_POD_SECURITY = "pod-security.kubernetes.io/enforce"
POD_SECURITY_LEVEL = "privileged"
# How long Helm waits for a release to become ready before it rolls it back (seconds).
RELEASE_TIMEOUT = 900
RELEASE_HISTORY = 10

__all__ = [
    "RULE_SELECTOR_LABELS",
    "TYPE_TOKEN",
    "UTILITIES_NODE_SELECTOR",
    "UTILITIES_TOLERATION",
    "ClusterMonitoring",
    "ClusterMonitoringArgs",
    "ClusterMonitoringError",
    "ComputeResources",
]


def aws_tags(args: ClusterMonitoringArgs) -> dict[str, str]:
    """Tags of every AWS resource: who owns it, which team pays, which cluster it serves."""
    return platform_tags(args.owner, args.team, args.environment, cluster_id=args.cluster_id)


def kubernetes_labels(args: ClusterMonitoringArgs) -> dict[str, str]:
    return {LABEL_MANAGED_BY: MANAGED_BY, LABEL_ENVIRONMENT: args.environment}


class ClusterMonitoring(pulumi.ComponentResource):
    """Namespace ``prometheus`` with its NetworkPolicies, the Thanos upload role and its
    object-store secret, and the kube-prometheus-stack and Alloy releases (each unless
    ``argo_cd_charts`` names it).

    Inputs are validated before anything is declared (``ClusterMonitoringError``). The
    kubernetes and aws providers come from ``opts`` and reach every child through
    ``parent=self``. Outputs: ``namespace``; ``thanos_role_arn`` (the IAM role only the
    Prometheus service account of this cluster can assume, limited to the bucket);
    ``argo_cd_annotations`` (what this cluster's Argo CD Secret must carry for Argo CD's
    kube-prometheus-stack: that role and the Prometheus volume size).
    """

    namespace: pulumi.Output[str]
    thanos_role_arn: pulumi.Output[str]
    argo_cd_annotations: dict[str, pulumi.Input[str]]

    def __init__(
        self,
        name: str,
        args: ClusterMonitoringArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        validate(name, args)
        super().__init__(TYPE_TOKEN, name, None, opts)
        labels = kubernetes_labels(args)

        namespace_resource = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=NAMESPACE, labels={**labels, LABEL_POD_SECURITY: POD_SECURITY_LEVEL}
            ),
            opts=self._child(),
        )
        # Read from the namespace's output, so namespaced children depend on it.
        namespace = namespace_resource.metadata.apply(lambda meta: meta.name or NAMESPACE)
        policies = create_network_policies(name, args, namespace, labels, self)
        role, role_policy = self._thanos_role(name, args)
        region = bucket_region(args)
        bucket: pulumi.Output[str] = pulumi.Output.from_input(args.metrics_bucket)
        # No key in it (IRSA), but it names the bucket: kept out of logs all the same.
        objstore_text: pulumi.Output[str] = pulumi.Output.secret(
            bucket.apply(lambda bucket_name: objstore_config(bucket_name, region))
        )
        objstore = k8s.core.v1.Secret(
            f"{name}-thanos-objstore-config",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=OBJSTORE_SECRET, namespace=namespace, labels=labels
            ),
            type="Opaque",
            string_data={OBJSTORE_KEY: objstore_text},
            opts=self._child(),
        )
        prometheus_release = cluster_prometheus.CHART not in args.argo_cd_charts
        alloy_release = cluster_alloy.CHART not in args.argo_cd_charts
        if prometheus_release:
            self._release(
                f"{name}-kube-prometheus-stack",
                chart=cluster_prometheus.CHART,
                version=cluster_prometheus.CHART_VERSION,
                repository=cluster_prometheus.CHART_REPOSITORY,
                release_name=cluster_prometheus.RELEASE_NAME,
                namespace=namespace,
                values=cluster_prometheus.chart_values(args, role.arn),
                depends_on=[objstore, role_policy, *policies],
            )
        if alloy_release:
            alloy_config = pulumi.Output.from_input(args.loki_push_url).apply(
                lambda url: cluster_alloy.alloy_config(
                    url, args.cluster_id, args.critical_log_namespaces
                )
            )
            self._release(
                f"{name}-alloy",
                chart=cluster_alloy.CHART,
                version=cluster_alloy.CHART_VERSION,
                repository=cluster_alloy.CHART_REPOSITORY,
                release_name=cluster_alloy.RELEASE_NAME,
                namespace=namespace,
                values=cluster_alloy.chart_values(args, alloy_config),
                depends_on=policies,
            )

        self.namespace = namespace
        self.thanos_role_arn = role.arn
        self.argo_cd_annotations = cluster_annotations(role.arn, args.prometheus_storage)
        self.register_outputs(
            {"namespace": self.namespace, "thanos_role_arn": self.thanos_role_arn}
        )

    def _child(self, depends_on: list[pulumi.Resource] | None = None) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, depends_on=depends_on)

    def _thanos_role(
        self, name: str, args: ClusterMonitoringArgs
    ) -> tuple[aws.iam.Role, aws.iam.RolePolicy]:
        """The IRSA role of the Thanos sidecar and its bucket-only inline policy."""
        role = aws.iam.Role(
            f"{name}-thanos",
            description=f"Thanos sidecar of cluster {args.cluster_id}: uploads to its bucket",
            assume_role_policy=trust_policy(
                args.oidc_provider_arn, NAMESPACE, PROMETHEUS_SERVICE_ACCOUNT
            ),
            max_session_duration=3600,
            tags=aws_tags(args),
            opts=self._child(),
        )
        policy = aws.iam.RolePolicy(
            f"{name}-thanos",
            role=role.id,
            policy=pulumi.Output.from_input(args.metrics_bucket_arn).apply(
                lambda arn: json.dumps(access_policy(arn, None))
            ),
            opts=self._child(),
        )
        return role, policy

    def _release(
        self,
        resource_name: str,
        *,
        chart: str,
        version: str,
        repository: str,
        release_name: str,
        namespace: pulumi.Output[str],
        values: dict[str, object],
        depends_on: list[pulumi.Resource],
    ) -> k8s.helm.v3.Release:
        """A Helm release at an exact chart version, rolled back when it fails."""
        return k8s.helm.v3.Release(
            resource_name,
            chart=chart,
            version=version,
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=repository),
            name=release_name,
            namespace=namespace,
            values=values,
            atomic=True,
            cleanup_on_fail=True,
            timeout=RELEASE_TIMEOUT,
            max_history=RELEASE_HISTORY,
            opts=self._child(depends_on),
        )
