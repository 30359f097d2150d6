"""ResourceQuota and LimitRange of an environment, derived from its size.

The numbers come from one pure function, ``quota_for``, so tests and the cost report can
check them against ``SIZES`` without running Pulumi.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi_kubernetes as k8s

from components.test_environment.args import SIZES, SizeSpec
from components.test_environment.context import EnvironmentContext
from components.test_environment.metadata import managed_labels

# A rolling update starts the new pods before the old ones stop: room for twice the app.
SURGE_FACTOR = 2
# Limits are twice the requests: bursts are allowed, runaway pods are not.
LIMIT_FACTOR = 2
# Pods beyond the app's surge: the operator's update job and one debugging pod.
EXTRA_PODS = 2


@dataclass(frozen=True)
class Quota:
    """Hard caps of the environment's namespace."""

    requests_cpu_millicores: int
    requests_memory_mib: int
    limits_cpu_millicores: int
    limits_memory_mib: int
    pods: int

    def hard(self) -> dict[str, str]:
        """The ``spec.hard`` map of a ResourceQuota."""
        return {
            "requests.cpu": f"{self.requests_cpu_millicores}m",
            "requests.memory": f"{self.requests_memory_mib}Mi",
            "limits.cpu": f"{self.limits_cpu_millicores}m",
            "limits.memory": f"{self.limits_memory_mib}Mi",
            "pods": str(self.pods),
        }


def quota_for(size: SizeSpec, *, in_namespace_services: int = 0) -> Quota:
    """Caps for an app of ``size`` plus ``in_namespace_services`` operator-managed services.

    Each operator-managed backing service (database, MinIO) runs one replica sized like one
    app replica (see ``mattermost._operator_managed``), so it counts as one more replica.
    """
    replicas = size.replicas + in_namespace_services
    requests_cpu = SURGE_FACTOR * replicas * size.cpu_millicores
    requests_memory = SURGE_FACTOR * replicas * size.memory_mib
    return Quota(
        requests_cpu_millicores=requests_cpu,
        requests_memory_mib=requests_memory,
        limits_cpu_millicores=LIMIT_FACTOR * requests_cpu,
        limits_memory_mib=LIMIT_FACTOR * requests_memory,
        pods=SURGE_FACTOR * replicas + EXTRA_PODS,
    )


def container_requests(size: SizeSpec) -> dict[str, str]:
    """One replica's resource request, as a Kubernetes resource list."""
    return {"cpu": f"{size.cpu_millicores}m", "memory": f"{size.memory_mib}Mi"}


def container_limits(size: SizeSpec) -> dict[str, str]:
    """One replica's resource limit: ``LIMIT_FACTOR`` times its request."""
    return {
        "cpu": f"{LIMIT_FACTOR * size.cpu_millicores}m",
        "memory": f"{LIMIT_FACTOR * size.memory_mib}Mi",
    }


def in_namespace_services(database: str, filestore: str) -> int:
    """How many backing services the operator runs inside the namespace."""
    return (database == "operator-managed") + (filestore == "operator-managed")


def create_quota_and_limits(
    ctx: EnvironmentContext,
) -> tuple[k8s.core.v1.ResourceQuota, k8s.core.v1.LimitRange]:
    """A quota so one environment cannot starve the cluster, and container defaults.

    The LimitRange gives every container that declares nothing (init containers,
    sidecars) a request and limit, which a quota on ``limits.*`` requires.
    """
    size = SIZES[ctx.args.size]
    quota = quota_for(
        size, in_namespace_services=in_namespace_services(ctx.args.database, ctx.args.filestore)
    )
    labels = managed_labels(ctx.args.team)
    resource_quota = k8s.core.v1.ResourceQuota(
        f"{ctx.name}-quota",
        metadata=k8s.meta.v1.ObjectMetaArgs(
            name=f"{ctx.name}-quota", namespace=ctx.namespace, labels=labels
        ),
        spec=k8s.core.v1.ResourceQuotaSpecArgs(hard=quota.hard()),
        opts=ctx.child_opts(),
    )
    limit_range = k8s.core.v1.LimitRange(
        f"{ctx.name}-limits",
        metadata=k8s.meta.v1.ObjectMetaArgs(
            name=f"{ctx.name}-limits", namespace=ctx.namespace, labels=labels
        ),
        spec=k8s.core.v1.LimitRangeSpecArgs(
            limits=[
                k8s.core.v1.LimitRangeItemArgs(
                    type="Container",
                    default_request=container_requests(size),
                    default=container_limits(size),
                )
            ]
        ),
        opts=ctx.child_opts(),
    )
    return resource_quota, limit_range
