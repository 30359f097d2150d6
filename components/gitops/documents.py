"""The Argo CD objects the component declares, as plain documents (pure functions).

Cluster Secrets carry the cluster's labels (what ApplicationSet selectors match) and an
``awsAuthConfig``: Argo CD gets a token from ``aws eks get-token`` under an assumed role,
never from a static bearer token. Each application becomes one ``ApplicationSet`` whose
``clusters`` generator yields one Application per matching cluster, named
``<app>-sre-<env>-<cluster-id>`` (Go templates: a label with a dash needs ``index``).
A chart whose value files live in another git repository gets two sources: the chart,
reading ``$values/<file>``, and that repository with ``ref: values`` (Argo CD's
multi-source Applications).
"""

from __future__ import annotations

import json
from typing import Any

from components.gitops.args import GitOpsApp, GitOpsCluster, GitOpsPlatformArgs, GitOpsProject
from components.label_selectors import LabelSelector

API_VERSION = "argoproj.io/v1alpha1"
SECRET_TYPE_LABEL = "argocd.argoproj.io/secret-type"
CLUSTER_TYPE_LABEL = "cluster-type"
CLUSTER_ID_LABEL = "cluster-id"
IN_CLUSTER = "https://kubernetes.default.svc"
ROOT_APP = "root"
BOOTSTRAP_PROJECT = "bootstrap"
APP_NAME_SEPARATOR = "-sre-"
# The name of the values source in a multi-source Application (``$values/<file>``).
VALUES_REF = "values"


def cluster_labels(cluster: GitOpsCluster) -> dict[str, str]:
    """What an application selector can match: the free labels plus type and id."""
    return {
        **cluster.labels,
        CLUSTER_TYPE_LABEL: cluster.type,
        CLUSTER_ID_LABEL: cluster.cluster_id,
    }


def cluster_config(cluster: GitOpsCluster) -> str:
    """The ``config`` key of a cluster Secret: IAM authentication and the CA, no token."""
    return json.dumps(
        {
            "awsAuthConfig": {
                "clusterName": cluster.eks_cluster_name or cluster.name,
                "roleARN": cluster.role_arn,
            },
            "tlsClientConfig": {"insecure": False, "caData": cluster.ca_data},
        },
        sort_keys=True,
    )


def cluster_secret_data(cluster: GitOpsCluster) -> dict[str, str]:
    return {"name": cluster.name, "server": cluster.server, "config": cluster_config(cluster)}


def matching_clusters(
    selector: LabelSelector, clusters: tuple[GitOpsCluster, ...]
) -> list[GitOpsCluster]:
    """The clusters Argo CD's cluster generator selects: their labels match ``selector``."""
    return [c for c in clusters if selector.matches(cluster_labels(c))]


def application_name_prefix(app: GitOpsApp, environment: str) -> str:
    return f"{app.name}{APP_NAME_SEPARATOR}{environment}-"


def _helm(app: GitOpsApp) -> dict[str, Any]:
    helm: dict[str, Any] = {}
    if app.release_name is not None:
        helm["releaseName"] = app.release_name
    if app.values_files:
        prefix = f"${VALUES_REF}/" if app.values_from is not None else ""
        helm["valueFiles"] = [prefix + name for name in app.values_files]
    if app.helm_parameters:
        helm["parameters"] = [
            {"name": p.name, "value": p.value, **({"forceString": True} if p.force_string else {})}
            for p in app.helm_parameters
        ]
    return helm


def sources(app: GitOpsApp) -> dict[str, Any]:
    """``source``, or ``sources`` (the chart, then its values repository) with
    ``values_from``."""
    source: dict[str, Any] = {"repoURL": app.repo_url, "targetRevision": app.revision}
    if app.chart is not None:
        source["chart"] = app.chart
    if app.path is not None:
        source["path"] = app.path
    if helm := _helm(app):
        source["helm"] = helm
    if app.values_from is None:
        return {"source": source}
    values = {
        "repoURL": app.values_from.repo_url,
        "targetRevision": app.values_from.revision,
        "ref": VALUES_REF,
    }
    return {"sources": [source, values]}


def source_repositories(app: GitOpsApp) -> set[str]:
    """Every repository the app's Application reads (what its AppProject must allow)."""
    repos = {app.repo_url}
    if app.values_from is not None:
        repos.add(app.values_from.repo_url)
    return repos


def _sync_policy(app: GitOpsApp) -> dict[str, Any]:
    policy: dict[str, Any] = {}
    if app.sync_policy.automated:
        policy["automated"] = {
            "prune": app.sync_policy.prune,
            "selfHeal": app.sync_policy.self_heal,
        }
    if app.sync_policy.sync_options:
        policy["syncOptions"] = list(app.sync_policy.sync_options)
    return policy


def _ignore_differences(app: GitOpsApp) -> list[dict[str, Any]]:
    found = []
    for ignored in app.ignore_differences:
        entry: dict[str, Any] = {"group": ignored.group, "kind": ignored.kind}
        if ignored.name is not None:
            entry["name"] = ignored.name
        if ignored.namespace is not None:
            entry["namespace"] = ignored.namespace
        if ignored.json_pointers:
            entry["jsonPointers"] = list(ignored.json_pointers)
        if ignored.jq_path_expressions:
            entry["jqPathExpressions"] = list(ignored.jq_path_expressions)
        found.append(entry)
    return found


def application_set_spec(app: GitOpsApp, environment: str) -> dict[str, Any]:
    """One Application per registered cluster matching the app's selector."""
    name = application_name_prefix(app, environment) + '{{index .metadata.labels "cluster-id"}}'
    spec: dict[str, Any] = {
        "project": app.project,
        **sources(app),
        "destination": {"name": "{{.name}}", "namespace": app.destination_namespace},
    }
    if sync_policy := _sync_policy(app):
        spec["syncPolicy"] = sync_policy
    if ignored := _ignore_differences(app):
        spec["ignoreDifferences"] = ignored
    return {
        "goTemplate": True,
        # A cluster without a cluster-id label is an error, not an app named "<no value>".
        "goTemplateOptions": ["missingkey=error"],
        "generators": [{"clusters": {"selector": app.cluster_selector.document()}}],
        "template": {"metadata": {"name": name}, "spec": spec},
    }


def app_project_spec(project: GitOpsProject, args: GitOpsPlatformArgs) -> dict[str, Any]:
    """Only its applications' repositories, and only their namespaces on their clusters."""
    apps = [app for app in args.apps if app.project == project.name]
    destinations = sorted(
        {
            (cluster.name, app.destination_namespace)
            for app in apps
            for cluster in matching_clusters(app.cluster_selector, args.clusters)
        }
    )
    return {
        "description": project.description,
        "sourceRepos": sorted({repo for app in apps for repo in source_repositories(app)}),
        "destinations": [{"name": name, "namespace": ns} for name, ns in destinations],
        "clusterResourceWhitelist": [
            {"group": kind.group, "kind": kind.kind} for kind in project.cluster_resources
        ],
    }


def bootstrap_project_spec(args: GitOpsPlatformArgs) -> dict[str, Any]:
    """The root app's project: its repository, Applications in ``argocd`` and nothing else."""
    assert args.root_app is not None
    return {
        "description": "The app-of-apps: Argo CD Applications from git, nothing else",
        "sourceRepos": [args.root_app.repo_url],
        "destinations": [{"server": IN_CLUSTER, "namespace": "argocd"}],
        "clusterResourceWhitelist": [],
        "namespaceResourceWhitelist": [{"group": "argoproj.io", "kind": "Application"}],
    }


def root_application_spec(args: GitOpsPlatformArgs) -> dict[str, Any]:
    """The app-of-apps; self-healing, never pruning (a bad commit cannot delete apps)."""
    root = args.root_app
    assert root is not None
    return {
        "project": BOOTSTRAP_PROJECT,
        "source": {"repoURL": root.repo_url, "path": root.path, "targetRevision": root.revision},
        "destination": {"server": IN_CLUSTER, "namespace": "argocd"},
        "syncPolicy": {"automated": {"prune": False, "selfHeal": True}},
    }
