"""Typed inputs of ``GitOpsPlatform`` and the one error it raises for bad ones.

Plain frozen dataclasses: the stack program builds them (clusters and applications from
the ``gitops/`` data files, secrets from ``pulumi config --secret``); the component never
reads ``pulumi.Config`` nor the data files. Every default is the behaviour documented on
the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import pulumi

from components.label_selectors import LabelSelector
from components.observability.cluster_monitoring_args import (
    UTILITIES_NODE_SELECTOR,
    UTILITIES_TOLERATION,
    ComputeResources,
)

ClusterType = Literal["cnc", "customer"]
RepositoryType = Literal["git", "helm"]


@dataclass(frozen=True)
class GitOpsCluster:
    """A cluster Argo CD deploys to, reached with an IAM role (never a static token)."""

    # Argo CD's name of the cluster (Application destinations and AppProjects use it).
    name: str
    # Becomes the ``cluster-id`` label: the ``<clusterID>`` in every Application's name.
    cluster_id: str
    type: ClusterType
    # The API server URL (``https://…``) and its CA bundle, base64 PEM (as EKS gives it).
    server: str
    ca_data: str
    # The role Argo CD assumes (``awsAuthConfig.roleARN``); it must be mapped in the cluster.
    role_arn: str
    # Free labels for application selectors; ``cluster-type``/``cluster-id`` are added.
    labels: Mapping[str, str] = field(default_factory=dict)
    # The EKS cluster name for ``aws eks get-token``; None means ``name``.
    eks_cluster_name: str | None = None
    # Annotations of the cluster Secret: per-cluster values an ApplicationSet template
    # reads (``{{index .metadata.annotations "<key>"}}``), e.g. a role ARN made by Pulumi.
    annotations: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class SyncPolicy:
    """How Argo CD syncs an Application. The default is manual sync (nothing automated)."""

    automated: bool = False
    # Delete live resources no longer in git (only with ``automated``).
    prune: bool = False
    # Revert changes made to live resources (only with ``automated``).
    self_heal: bool = False
    # Argo CD sync options such as ``CreateNamespace=true`` or ``ServerSideApply=true``.
    sync_options: tuple[str, ...] = ()


@dataclass(frozen=True)
class IgnoreDifference:
    """Fields Argo CD leaves out of the diff (``spec.ignoreDifferences`` of an Application)."""

    kind: str
    group: str = ""
    name: str | None = None
    namespace: str | None = None
    json_pointers: tuple[str, ...] = ()
    jq_path_expressions: tuple[str, ...] = ()


@dataclass(frozen=True)
class ValuesRepository:
    """A git repository a chart's value files are read from: the Application gets it as a
    second source (``ref: values``) and the files as ``$values/<file>``."""

    repo_url: str
    revision: str


@dataclass(frozen=True)
class HelmParameter:
    """One ``helm.parameters`` entry (``--set name=value``); ``value`` may be a Go template
    over the cluster generator's parameters, e.g. ``{{index .metadata.labels "cluster-id"}}``."""

    name: str
    value: str
    force_string: bool = False


@dataclass(frozen=True)
class GitOpsApp:
    """One application, delivered to every registered cluster its selector matches."""

    name: str
    project: str
    repo_url: str
    # An exact revision: a tag, a commit or a chart version (validated by the data files).
    revision: str
    destination_namespace: str
    # A Kubernetes LabelSelector over the cluster labels (``cluster-type``, ``cluster-id``,
    # free labels); it may not be empty (that would match every cluster, now and later).
    cluster_selector: LabelSelector
    # Exactly one: a chart of the Helm repository ``repo_url``, or a path in the git repo.
    chart: str | None = None
    path: str | None = None
    # Helm value files: relative to the chart (or to ``path``), or with ``values_from``
    # relative to that repository (Argo CD's multi-source ``$values`` reference).
    values_files: tuple[str, ...] = ()
    values_from: ValuesRepository | None = None
    helm_parameters: tuple[HelmParameter, ...] = ()
    # Helm's release name; None lets Argo CD use the Application's name.
    release_name: str | None = None
    sync_policy: SyncPolicy = SyncPolicy()
    ignore_differences: tuple[IgnoreDifference, ...] = ()


@dataclass(frozen=True)
class ResourceKind:
    """A Kubernetes API group and kind (``""`` is the core group)."""

    group: str
    kind: str


@dataclass(frozen=True)
class GitOpsProject:
    """An AppProject: its applications' repositories and destinations, nothing else.

    Sources and destinations come from the applications that name the project; cluster-
    scoped resources are refused unless listed (CRDs, ClusterRoles, … of a utility)."""

    name: str
    description: str
    cluster_resources: tuple[ResourceKind, ...] = ()


@dataclass(frozen=True)
class RootApp:
    """The app-of-apps: a git path of Argo CD Applications, synced into ``argocd``."""

    repo_url: str
    path: str
    revision: str


@dataclass(frozen=True)
class Permission:
    """One ``p`` line of Argo CD's RBAC: ``p, role:<name>, resource, action, object, effect``."""

    resource: str
    action: str
    object: str = "*/*"
    effect: Literal["allow", "deny"] = "allow"


@dataclass(frozen=True)
class RbacRole:
    """A custom Argo CD role (``role:<name>``) made of permissions."""

    name: str
    permissions: tuple[Permission, ...]


@dataclass(frozen=True)
class GroupBinding:
    """An SSO group and the role it gets: ``admin``, ``readonly`` or a custom role's name."""

    group: str
    role: str


@dataclass(frozen=True)
class OidcSettings:
    """SSO through an OIDC provider; the client secret lives in a Kubernetes Secret."""

    name: str
    issuer: str
    client_id: str
    client_secret: pulumi.Input[str]
    requested_scopes: tuple[str, ...] = ("openid", "profile", "email", "groups")


@dataclass(frozen=True)
class RepositoryCredential:
    """Credentials for repositories under ``url``: a ``repo-creds`` template (every
    repository whose URL starts with it) or, with ``template=False``, one ``repository``."""

    name: str
    url: str
    type: RepositoryType = "git"
    username: pulumi.Input[str] | None = None
    password: pulumi.Input[str] | None = None
    ssh_private_key: pulumi.Input[str] | None = None
    template: bool = True


_CONTROLLER = ComputeResources("250m", "1Gi", "2", "2Gi")
_REPO_SERVER = ComputeResources("100m", "256Mi", "1", "1Gi")
_SERVER = ComputeResources("50m", "128Mi", "500m", "512Mi")
_APPLICATION_SET = ComputeResources("50m", "128Mi", "500m", "512Mi")
_NOTIFICATIONS = ComputeResources("20m", "64Mi", "200m", "256Mi")
_REDIS = ComputeResources("50m", "64Mi", "500m", "256Mi")
_HELPER = ComputeResources("10m", "32Mi", "100m", "128Mi")


@dataclass(frozen=True)
class ArgoCdResources:
    """Requests and limits of every Argo CD workload (containers of the chart)."""

    controller: ComputeResources = _CONTROLLER
    repo_server: ComputeResources = _REPO_SERVER
    server: ComputeResources = _SERVER
    application_set: ComputeResources = _APPLICATION_SET
    notifications: ComputeResources = _NOTIFICATIONS
    redis: ComputeResources = _REDIS
    # Small helpers: init containers, the redis secret job, exporters, HAProxy.
    helper: ComputeResources = _HELPER


@dataclass(frozen=True)
class GitOpsPlatformArgs:
    """What Argo CD in the cnc cluster needs. Defaults are the cheap, safe choice."""

    environment: str
    # The Argo CD server's external URL (``https://argocd.example.com``): SSO redirects.
    url: str
    oidc: OidcSettings
    # IRSA of the cnc cluster: Argo CD's own role, which may assume the clusters' roles.
    oidc_provider_arn: str
    oidc_issuer: str
    # Mattermost incoming webhook URL of the team's channel (a secret).
    mattermost_webhook_url: pulumi.Input[str]
    clusters: tuple[GitOpsCluster, ...] = ()
    apps: tuple[GitOpsApp, ...] = ()
    projects: tuple[GitOpsProject, ...] = ()
    root_app: RootApp | None = None
    repositories: tuple[RepositoryCredential, ...] = ()
    group_bindings: tuple[GroupBinding, ...] = ()
    roles: tuple[RbacRole, ...] = ()
    # Several replicas of the controller, repo server, server and ApplicationSet
    # controller, and Redis HA (three Redis pods behind HAProxy): staging and prod.
    high_availability: bool = False
    # The Prometheus namespace allowed to scrape Argo CD's metrics ports.
    monitoring_namespace: str = "prometheus"
    # The ingress controller's namespace allowed to reach the Argo CD server.
    ingress_namespace: str = "ingress-nginx"
    node_selector: Mapping[str, str] = field(default_factory=lambda: dict(UTILITIES_NODE_SELECTOR))
    tolerations: tuple[Mapping[str, str], ...] = (UTILITIES_TOLERATION,)
    resources: ArgoCdResources = ArgoCdResources()
    # Declare the namespace (and with it every Application) protect=True: production.
    protect: bool = False
    owner: str = "platform-sre"
    team: str = "Platform SRE"


class GitOpsPlatformError(ValueError):
    """An argument of ``GitOpsPlatform`` is invalid; the message says which and why.

    Raised at construction, before anything is declared."""

    def __init__(self, field: str, value: object, allowed: str) -> None:
        self.field = field
        self.value = value
        self.allowed = allowed
        super().__init__(f"invalid {field} {value!r}: {allowed}")

    def __reduce__(self) -> tuple[type[GitOpsPlatformError], tuple[Any, ...]]:
        return (type(self), (self.field, self.value, self.allowed))
