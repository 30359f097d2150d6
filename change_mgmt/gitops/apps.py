"""``gitops/apps/<env>.yaml``: the applications and the clusters they go to, by label.

Each entry becomes an ``ApplicationSet`` whose cluster generator selects by
``clusterSelector``: one Application per matching cluster. A Helm chart from a chart
repository reads its ``valueFiles`` from this GitOps repository (``valuesRepo``) through
Argo CD's ``$values`` source reference; a ``path`` source reads them from its own
checkout, as Argo CD's ``helm.valueFiles`` does. ``projects`` lists, per AppProject, the
cluster-scoped kinds its applications may create; a project not listed may create none.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from change_mgmt.gitops.clusters import DnsLabel, HttpsUrl
from change_mgmt.gitops.labels import LabelSelector


def _relative_path(value: str) -> str:
    if not value or value.startswith("/") or ".." in value.split("/"):
        raise ValueError(
            f"{value[:80]!r} must be a relative path inside the repository, without '..'"
        )
    return value


RelativePath = Annotated[str, AfterValidator(_relative_path)]
# An API group: "" (the core group), a DNS subdomain, or "*" (every group).
_API_GROUP = re.compile(r"^(\*|[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*)?$")
_KIND = re.compile(r"^(\*|[A-Z][A-Za-z0-9]{0,62})$")
WILDCARD = "*"


def _api_group(value: str) -> str:
    if len(value) > 253 or not _API_GROUP.match(value):
        raise ValueError(
            f'{value[:80]!r} is not an API group: "" (core), a DNS subdomain such as '
            'rbac.authorization.k8s.io, or "*"'
        )
    return value


def _kind(value: str) -> str:
    if not _KIND.match(value):
        raise ValueError(f'{value[:80]!r} is not a kind (UpperCamelCase: ClusterRole) or "*"')
    return value


class ClusterResource(BaseModel):
    """One ``clusterResourceWhitelist`` entry of an AppProject (Argo CD's field names)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    group: Annotated[str, AfterValidator(_api_group)]
    kind: Annotated[str, AfterValidator(_kind)]

    @property
    def wildcard(self) -> bool:
        return WILDCARD in (self.group, self.kind)


class Project(BaseModel):
    """What an AppProject allows beyond its applications' sources and destinations."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: DnsLabel
    description: str | None = Field(None, min_length=1, max_length=255)
    clusterResources: list[ClusterResource] = Field(default_factory=list)
    """Cluster-scoped kinds its applications may create (CRDs, ClusterRoles, webhooks);
    none when empty. ``*`` only where written."""


class SyncPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    automated: bool = False
    prune: bool = False
    """Delete what is no longer in git (only with ``automated``)."""
    selfHeal: bool = False
    """Undo changes made in the cluster (only with ``automated``)."""

    @model_validator(mode="after")
    def _needs_automated(self) -> SyncPolicy:
        if (self.prune or self.selfHeal) and not self.automated:
            raise ValueError("prune and selfHeal act only on automated sync: set automated: true")
        return self


class IgnoreDifference(BaseModel):
    """One Argo CD ``ignoreDifferences`` entry (its field names)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    group: str = ""
    kind: str = Field(min_length=1)
    name: str | None = None
    namespace: str | None = None
    jsonPointers: list[str] = Field(default_factory=list)
    jqPathExpressions: list[str] = Field(default_factory=list)
    managedFieldsManagers: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _says_what(self) -> IgnoreDifference:
        if not (self.jsonPointers or self.jqPathExpressions or self.managedFieldsManagers):
            raise ValueError(
                "say what to ignore: jsonPointers, jqPathExpressions or managedFieldsManagers"
            )
        return self

    def as_argocd(self) -> dict[str, object]:
        return self.model_dump(exclude_defaults=True)


class Application(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: DnsLabel
    project: DnsLabel
    """The team's AppProject, which limits the sources and destinations it may use."""
    repoURL: HttpsUrl
    chart: str | None = Field(None, min_length=1)
    path: RelativePath | None = None
    revision: str = Field(min_length=1)
    """Chart version or git revision (Argo CD's ``targetRevision``)."""
    valueFiles: list[RelativePath] = Field(default_factory=list)
    namespace: DnsLabel
    clusterSelector: LabelSelector
    syncPolicy: SyncPolicy = Field(default_factory=SyncPolicy)
    ignoreDifferences: list[IgnoreDifference] = Field(default_factory=list)

    @model_validator(mode="after")
    def _chart_or_path(self) -> Application:
        if (self.chart is None) == (self.path is None):
            raise ValueError("give exactly one of chart (a Helm repository) or path (a git path)")
        return self


class ValuesRepo(BaseModel):
    """The git repository the charts' value files are read from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    repoURL: HttpsUrl
    revision: str = Field(min_length=1)


class AppsFile(BaseModel):
    """The whole document."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    valuesRepo: ValuesRepo | None = Field(None)
    projects: list[Project] = Field(default_factory=list)
    applications: list[Application] = Field(min_length=1)
