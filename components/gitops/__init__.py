"""GitOps: Argo CD in the cnc cluster, cluster registration and ApplicationSets.

``GitOpsPlatform`` declares Argo CD and every cluster, project and application it is
given as typed args (``components.gitops.args``); turning the ``gitops/`` data files into
those args is the stack program's job.
"""

from components.gitops.args import (
    ArgoCdResources,
    GitOpsApp,
    GitOpsCluster,
    GitOpsPlatformArgs,
    GitOpsPlatformError,
    GitOpsProject,
    GroupBinding,
    HelmParameter,
    IgnoreDifference,
    OidcSettings,
    Permission,
    RbacRole,
    RepositoryCredential,
    ResourceKind,
    RootApp,
    SyncPolicy,
    ValuesRepository,
)
from components.gitops.platform import TYPE_TOKEN, GitOpsPlatform
from components.label_selectors import LabelRequirement, LabelSelector

__all__ = [
    "TYPE_TOKEN",
    "ArgoCdResources",
    "GitOpsApp",
    "GitOpsCluster",
    "GitOpsPlatform",
    "GitOpsPlatformArgs",
    "GitOpsPlatformError",
    "GitOpsProject",
    "GroupBinding",
    "HelmParameter",
    "IgnoreDifference",
    "LabelRequirement",
    "LabelSelector",
    "OidcSettings",
    "Permission",
    "RbacRole",
    "RepositoryCredential",
    "ResourceKind",
    "RootApp",
    "SyncPolicy",
    "ValuesRepository",
]
