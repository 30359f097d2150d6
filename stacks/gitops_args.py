"""The GitOps inventory a platform stack hands ``GitOpsPlatform``: ``gitops/`` of its
environment through ``change_mgmt.gitops`` into the component's plain dataclasses (the
component may not import change_mgmt).

The component's ApplicationSets select clusters by ``matchLabels`` only and read Helm
value files from the chart's own source. An application needing more (``matchExpressions``,
or value files of a chart read from ``valuesRepo`` through Argo CD's ``$values``) cannot be
declared faithfully: it is left out and listed in ``left_out`` with the reason, never
declared with a wider selector or without its values.
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
    IgnoreDifference,
    SyncPolicy,
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
    if app.clusterSelector.matchExpressions:
        return "its clusterSelector uses matchExpressions (the component takes matchLabels only)"
    if app.chart is not None and app.valueFiles and environment.valuesRepo is not None:
        return (
            "its chart reads valueFiles from valuesRepo through $values "
            "(the component has no multi-source Applications)"
        )
    return None


def gitops_app(app: Application) -> GitOpsApp:
    sync = app.syncPolicy
    return GitOpsApp(
        name=app.name,
        project=app.project,
        repo_url=app.repoURL,
        revision=app.revision,
        destination_namespace=app.namespace,
        cluster_selector=dict(app.clusterSelector.matchLabels),
        chart=app.chart,
        path=app.path,
        values_files=tuple(app.valueFiles),
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


def inventory_of(environment: GitOpsEnvironment) -> GitOpsInventory:
    """The component's view of a checked environment; one AppProject per team project."""
    apps: list[GitOpsApp] = []
    left_out: dict[str, str] = {}
    for app in environment.applications:
        reason = unsupported_reason(app, environment)
        if reason is None:
            apps.append(gitops_app(app))
        else:
            left_out[app.name] = reason
    project_names = sorted({app.project for app in apps})
    projects = tuple(
        GitOpsProject(
            name=name,
            description=f"Applications of project {name} in {environment.name} (gitops/apps)",
        )
        for name in project_names
    )
    clusters = tuple(gitops_cluster(cluster) for cluster in environment.clusters)
    return GitOpsInventory(clusters, projects, tuple(apps), left_out)


def gitops_inventory(project_dir: Path, environment: str) -> GitOpsInventory:
    """``gitops/{clusters,apps}/<environment>.yaml`` of the working tree, checked."""
    try:
        loaded = environment_from(TrustedFiles(project_dir), environment)
    except (DocumentError, GitOpsError) as exc:
        raise GitOpsDataError(f"invalid GitOps files of {environment!r}:\n{exc}") from None
    return inventory_of(loaded)
