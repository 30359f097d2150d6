"""The GitOps inventory a platform stack hands ``GitOpsPlatform``: ``gitops/`` of its
environment through ``change_mgmt.gitops`` into the component's plain dataclasses (the
component may not import change_mgmt).

Every application becomes an ApplicationSet: its full label selector, and a chart's value
files read from ``valuesRepo`` through Argo CD's ``$values`` (a second source). An
application that installs a chart ``ClusterMonitoring`` would otherwise install (same
repository and chart) also gets the fixed release name and the per-cluster Helm
parameters of ``components.observability.cluster_monitoring_handover``;
:func:`argo_cd_charts` tells the stack on which clusters Argo CD owns those charts.
``left_out`` stays for what cannot be declared as written; the shipped data has none.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pulumi

from change_mgmt.documents import DocumentError
from change_mgmt.gate.trusted_files import TrustedFiles
from change_mgmt.gitops.apps import Application
from change_mgmt.gitops.clusters import CLUSTER_ID_LABEL, CLUSTER_TYPE_LABEL, Cluster
from change_mgmt.gitops.errors import GitOpsError
from change_mgmt.gitops.load import GitOpsEnvironment
from change_mgmt.gitops.sources import environment_from
from components.gitops.args import (
    GitOpsApp,
    GitOpsCluster,
    GitOpsProject,
    HelmParameter,
    IgnoreDifference,
    ResourceKind,
    SyncPolicy,
    ValuesRepository,
)
from components.gitops.documents import cluster_labels
from components.observability.cluster_monitoring_handover import (
    argo_cd_parameters,
    monitoring_chart,
    release_name,
)

# Set by the component from the cluster's type and id; the data files repeat them.
_DERIVED_LABELS = (CLUSTER_TYPE_LABEL, CLUSTER_ID_LABEL)


class GitOpsDataError(pulumi.RunError):
    """The environment's GitOps files cannot be read (shown without a traceback)."""


@dataclass(frozen=True)
class GitOpsInventory:
    """Clusters, projects and applications of one environment, as the component takes them."""

    clusters: tuple[GitOpsCluster, ...]
    projects: tuple[GitOpsProject, ...]
    apps: tuple[GitOpsApp, ...]
    # Application name → why the component cannot declare it.
    left_out: dict[str, str]


def gitops_cluster(cluster: Cluster) -> GitOpsCluster:
    return GitOpsCluster(
        name=cluster.name,
        cluster_id=cluster.name,
        type=cluster.type.value,
        server=cluster.server,
        ca_data=cluster.caData,
        role_arn=cluster.roleArn,
        labels={k: v for k, v in cluster.labels.items() if k not in _DERIVED_LABELS},
        eks_cluster_name=cluster.eksClusterName,
    )


def unsupported_reason(app: Application, environment: GitOpsEnvironment) -> str | None:
    """Why ``GitOpsPlatform`` cannot declare ``app`` as written, else ``None``."""
    if app.chart is not None and app.valueFiles and environment.valuesRepo is None:
        # The loader refuses this; kept so a caller that builds environments itself
        # cannot get a chart declared without its values.
        return "its chart reads valueFiles from valuesRepo, and there is no valuesRepo"
    return None


def gitops_app(app: Application, environment: GitOpsEnvironment) -> GitOpsApp:
    sync = app.syncPolicy
    values_repo = environment.valuesRepo
    values_from = (
        ValuesRepository(values_repo.repoURL, values_repo.revision)
        if app.chart is not None and app.valueFiles and values_repo is not None
        else None
    )
    chart = monitoring_chart(app.repoURL, app.chart)
    return GitOpsApp(
        name=app.name,
        project=app.project,
        repo_url=app.repoURL,
        revision=app.revision,
        destination_namespace=app.namespace,
        cluster_selector=app.clusterSelector.as_spec(),
        chart=app.chart,
        path=app.path,
        values_files=tuple(app.valueFiles),
        values_from=values_from,
        helm_parameters=tuple(
            HelmParameter(name, value) for name, value in argo_cd_parameters(chart)
        )
        if chart
        else (),
        release_name=release_name(chart) if chart else None,
        sync_policy=SyncPolicy(automated=sync.automated, prune=sync.prune, self_heal=sync.selfHeal),
        ignore_differences=tuple(
            IgnoreDifference(
                kind=d.kind,
                group=d.group,
                name=d.name,
                namespace=d.namespace,
                json_pointers=tuple(d.jsonPointers),
                jq_path_expressions=tuple(d.jqPathExpressions),
            )
            for d in app.ignoreDifferences
        ),
    )


def _projects(environment: GitOpsEnvironment, apps: list[GitOpsApp]) -> tuple[GitOpsProject, ...]:
    declared = {project.name: project for project in environment.projects}
    found = []
    for name in sorted({app.project for app in apps}):
        project = declared.get(name)
        found.append(
            GitOpsProject(
                name=name,
                description=(project.description if project and project.description else None)
                or f"Applications of project {name} in {environment.name} (gitops/apps)",
                cluster_resources=tuple(
                    ResourceKind(kind.group, kind.kind) for kind in project.clusterResources
                )
                if project
                else (),
            )
        )
    return tuple(found)


def inventory_of(environment: GitOpsEnvironment) -> GitOpsInventory:
    """The component's view of a checked environment; one AppProject per team project,
    with the cluster-scoped kinds ``projects:`` allows it."""
    apps: list[GitOpsApp] = []
    left_out: dict[str, str] = {}
    for app in environment.applications:
        reason = unsupported_reason(app, environment)
        if reason is None:
            apps.append(gitops_app(app, environment))
        else:
            left_out[app.name] = reason
    clusters = tuple(gitops_cluster(cluster) for cluster in environment.clusters)
    return GitOpsInventory(clusters, _projects(environment, apps), tuple(apps), left_out)


def argo_cd_charts(inventory: GitOpsInventory) -> dict[str, frozenset[str]]:
    """Cluster name → the ClusterMonitoring charts an ApplicationSet delivers there."""
    found: dict[str, set[str]] = {}
    for app in inventory.apps:
        chart = monitoring_chart(app.repo_url, app.chart)
        if chart is None:
            continue
        for cluster in inventory.clusters:
            if app.cluster_selector.matches(cluster_labels(cluster)):
                found.setdefault(cluster.name, set()).add(chart)
    return {name: frozenset(charts) for name, charts in found.items()}


def gitops_inventory(project_dir: Path, environment: str) -> GitOpsInventory:
    """``gitops/{clusters,apps}/<environment>.yaml`` of the working tree, checked."""
    try:
        loaded = environment_from(TrustedFiles(project_dir), environment)
    except (DocumentError, GitOpsError) as exc:
        raise GitOpsDataError(f"invalid GitOps files of {environment!r}:\n{exc}") from None
    return inventory_of(loaded)
