"""Values of argoproj's ``argo-cd`` chart: HA by args, SSO, RBAC, metrics, scheduling.

Pure functions (no resources declared), shared by the component and its tests. Keys are
the chart's own (argo-helm ``charts/argo-cd/values.yaml``); ``configs.cm`` becomes
``argocd-cm``, ``configs.rbac`` ``argocd-rbac-cm``, ``configs.params``
``argocd-cmd-params-cm``. Dex is off: Argo CD talks OIDC to the provider itself.
"""

from __future__ import annotations

from typing import Any

import pulumi
import yaml

from components.aws_policies import IRSA_ROLE_ANNOTATION
from components.gitops.args import ArgoCdResources, GitOpsPlatformArgs
from components.gitops.notifications import notifications_values
from components.gitops.rbac import DEFAULT_ROLE, policy_csv
from components.observability.cluster_monitoring import RULE_SELECTOR_LABELS

CHART = "argo-cd"
CHART_VERSION = "8.0.0"
CHART_REPOSITORY = "https://argoproj.github.io/argo-helm"
# With the chart's ``nameOverride: argocd``, this release name gives the upstream
# object names: argocd-server, argocd-repo-server, argocd-application-controller, …
RELEASE_NAME = "argocd"
NAMESPACE = "argocd"
# The Secret holding the OIDC client secret; Argo CD resolves ``$<secret>:<key>``
# references only in Secrets labelled ``app.kubernetes.io/part-of: argocd``.
OIDC_SECRET = "argocd-oidc"
OIDC_SECRET_KEY = "clientSecret"
PART_OF_LABEL = {"app.kubernetes.io/part-of": "argocd"}
# Service accounts that call ``argocd-k8s-auth aws`` for clusters with awsAuthConfig.
AWS_AUTH_SERVICE_ACCOUNTS = ("argocd-application-controller", "argocd-server")
HA_REPLICAS = 2


def oidc_config(args: GitOpsPlatformArgs) -> str:
    """``oidc.config`` of ``argocd-cm``: the client secret only as a Secret reference."""
    return yaml.safe_dump(
        {
            "name": args.oidc.name,
            "issuer": args.oidc.issuer,
            "clientID": args.oidc.client_id,
            "clientSecret": f"${OIDC_SECRET}:{OIDC_SECRET_KEY}",
            "requestedScopes": list(args.oidc.requested_scopes),
        },
        sort_keys=False,
    )


def _metrics() -> dict[str, Any]:
    """A metrics Service and a ServiceMonitor the cluster's Prometheus picks up."""
    return {
        "enabled": True,
        "serviceMonitor": {"enabled": True, "additionalLabels": dict(RULE_SELECTOR_LABELS)},
    }


def _scheduling(args: GitOpsPlatformArgs) -> dict[str, Any]:
    return {
        "nodeSelector": dict(args.node_selector),
        "tolerations": [dict(t) for t in args.tolerations],
    }


def _irsa(role_arn: pulumi.Input[str]) -> dict[str, Any]:
    return {"serviceAccount": {"annotations": {IRSA_ROLE_ANNOTATION: role_arn}}}


def _redis_ha(args: GitOpsPlatformArgs, resources: ArgoCdResources) -> dict[str, Any]:
    """Three Redis pods with Sentinel behind HAProxy (the chart's HA cache)."""
    if not args.high_availability:
        return {"enabled": False}
    return {
        "enabled": True,
        **_scheduling(args),
        "redis": {"resources": resources.redis.values()},
        "sentinel": {"resources": resources.helper.values()},
        "splitBrainDetection": {"resources": resources.helper.values()},
        "haproxy": {**_scheduling(args), "resources": resources.helper.values()},
    }


def chart_values(args: GitOpsPlatformArgs, role_arn: pulumi.Input[str]) -> dict[str, Any]:
    """Every value the release sets; ``role_arn`` is Argo CD's IRSA role."""
    replicas = HA_REPLICAS if args.high_availability else 1
    resources = args.resources
    params: dict[str, Any] = {}
    if args.high_availability:
        # Spread clusters evenly over the controller's shards.
        params["controller.sharding.algorithm"] = "round-robin"
    return {
        "global": _scheduling(args),
        "dex": {"enabled": False},
        "configs": {
            "cm": {
                "url": args.url,
                # SSO only: no local admin password to leak or rotate.
                "admin.enabled": False,
                "exec.enabled": False,
                "oidc.config": oidc_config(args),
            },
            "rbac": {
                "policy.default": DEFAULT_ROLE,
                "policy.csv": policy_csv(args),
                "scopes": "[groups]",
            },
            "params": params,
        },
        "controller": {
            "replicas": replicas,
            "resources": resources.controller.values(),
            "metrics": _metrics(),
            **_irsa(role_arn),
        },
        "repoServer": {
            "replicas": replicas,
            "resources": resources.repo_server.values(),
            "copyutil": {"resources": resources.helper.values()},
            "metrics": _metrics(),
        },
        "server": {
            "replicas": replicas,
            "resources": resources.server.values(),
            "metrics": _metrics(),
            **_irsa(role_arn),
        },
        "applicationSet": {
            "replicas": replicas,
            "resources": resources.application_set.values(),
            "metrics": _metrics(),
        },
        "notifications": {
            **notifications_values(args.url),
            "resources": resources.notifications.values(),
            "metrics": _metrics(),
        },
        # The single Redis of dev; the chart leaves it out when redis-ha is on.
        "redis": {"resources": resources.redis.values()},
        "redisSecretInit": {"resources": resources.helper.values()},
        "redis-ha": _redis_ha(args, resources),
    }
