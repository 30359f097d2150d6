"""The ApplicationSet cluster generator, computed offline: which app lands where.

For each application, every cluster whose labels match its ``clusterSelector`` gets one
Application named ``<app>-sre-<env>-<clusterID>`` with the application's revision,
namespace and project. These are pure functions of the checked data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from change_mgmt.gitops.apps import Application, ValuesRepo
from change_mgmt.gitops.clusters import Cluster
from change_mgmt.gitops.load import GitOpsEnvironment
from change_mgmt.gitops.naming import application_name

ARGOCD_NAMESPACE = "argocd"
APPLICATION_API_VERSION = "argoproj.io/v1alpha1"
VALUES_REF = "values"


@dataclass(frozen=True, order=True)
class Placement:
    """One generated Application: one app on one cluster."""

    app: str
    cluster: str
    name: str
    revision: str
    namespace: str
    project: str


def _pairs(environment: GitOpsEnvironment) -> list[tuple[Application, Cluster]]:
    return [
        (app, cluster)
        for app in environment.applications
        for cluster in environment.clusters
        if app.clusterSelector.matches(cluster.labels)
    ]


def placements(environment: GitOpsEnvironment) -> list[Placement]:
    """The app × cluster matrix, sorted by app then cluster."""
    return sorted(
        Placement(
            app=app.name,
            cluster=cluster.name,
            name=application_name(app.name, environment.name, cluster.name),
            revision=app.revision,
            namespace=app.namespace,
            project=app.project,
        )
        for app, cluster in _pairs(environment)
    )


def _sources(app: Application, valuesRepo: ValuesRepo | None) -> dict[str, Any]:
    source: dict[str, Any] = {"repoURL": app.repoURL, "targetRevision": app.revision}
    if app.chart is not None:
        source["chart"] = app.chart
    else:
        source["path"] = app.path
    if not app.valueFiles:
        return {"source": source}
    if app.chart is None:
        return {"source": source | {"helm": {"valueFiles": list(app.valueFiles)}}}
    assert valuesRepo is not None  # load refuses chart valueFiles without valuesRepo
    valueFiles = [f"${VALUES_REF}/{name}" for name in app.valueFiles]
    values = {
        "repoURL": valuesRepo.repoURL,
        "targetRevision": valuesRepo.revision,
        "ref": VALUES_REF,
    }
    return {"sources": [source | {"helm": {"valueFiles": valueFiles}}, values]}


def _sync_policy(app: Application) -> dict[str, Any]:
    if not app.syncPolicy.automated:
        return {}
    automated = {"prune": app.syncPolicy.prune, "selfHeal": app.syncPolicy.selfHeal}
    return {"syncPolicy": {"automated": automated}}


def applications(environment: GitOpsEnvironment) -> list[dict[str, Any]]:
    """The generated Applications' key fields, as ``argocd appset generate`` prints them:
    name and namespace, project, source(s), destination, sync policy, ignored differences.
    (Argo CD adds what it owns at creation: owner references, finalizers, status.)"""
    found = []
    for app, cluster in _pairs(environment):
        spec: dict[str, Any] = {
            "project": app.project,
            **_sources(app, environment.valuesRepo),
            "destination": {"server": cluster.server, "namespace": app.namespace},
            **_sync_policy(app),
        }
        if app.ignoreDifferences:
            spec["ignoreDifferences"] = [d.as_argocd() for d in app.ignoreDifferences]
        name = application_name(app.name, environment.name, cluster.name)
        found.append(
            {
                "apiVersion": APPLICATION_API_VERSION,
                "kind": "Application",
                "metadata": {"name": name, "namespace": ARGOCD_NAMESPACE},
                "spec": spec,
            }
        )
    return sorted(found, key=lambda a: str(a["metadata"]["name"]))


@dataclass(frozen=True)
class MatrixDiff:
    """How the matrix changes from a base to a head: pairs added and removed, and the
    pairs on both sides whose revision, namespace or project moved."""

    added: tuple[Placement, ...]
    removed: tuple[Placement, ...]
    changed: tuple[tuple[Placement, Placement], ...]

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)


def diff(base: list[Placement], head: list[Placement]) -> MatrixDiff:
    before = {(p.app, p.cluster): p for p in base}
    after = {(p.app, p.cluster): p for p in head}
    return MatrixDiff(
        added=tuple(after[k] for k in sorted(after.keys() - before.keys())),
        removed=tuple(before[k] for k in sorted(before.keys() - after.keys())),
        changed=tuple(
            (before[k], after[k])
            for k in sorted(before.keys() & after.keys())
            if before[k] != after[k]
        ),
    )
