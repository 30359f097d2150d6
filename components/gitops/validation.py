"""Validation of ``GitOpsPlatformArgs``: the first bad input raises ``GitOpsPlatformError``.

Checked before anything is declared, so a bad cluster or application never reaches the
API server half-applied.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from components.gitops.args import (
    GitOpsApp,
    GitOpsCluster,
    GitOpsPlatformArgs,
    GitOpsPlatformError,
    RepositoryCredential,
)
from components.gitops.documents import (
    BOOTSTRAP_PROJECT,
    CLUSTER_ID_LABEL,
    CLUSTER_TYPE_LABEL,
    application_name_prefix,
    matching_clusters,
)
from components.gitops.rbac import validate_rbac
from components.label_selectors import LabelSelector, operator_problem
from policies.naming import dns_label_problem, label_key_problem

_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")
_OIDC_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:oidc-provider/(?P<issuer>\S+)$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_BASE64 = re.compile(r"^[A-Za-z0-9+/]+={0,2}$")
# Argo CD labels every resource it deploys ``app.kubernetes.io/instance: <app name>``.
MAX_APPLICATION_NAME = 63
RESERVED_PROJECTS = frozenset({"default", BOOTSTRAP_PROJECT})


def _dns_label(field: str, value: str) -> None:
    if problem := dns_label_problem(value):
        raise GitOpsPlatformError(field, value, problem)


def _url(field: str, url: str, schemes: tuple[str, ...] = ("https",)) -> None:
    parts = urlsplit(url)
    if parts.scheme not in schemes or not parts.hostname:
        raise GitOpsPlatformError(field, url, f"must be a {'/'.join(schemes)} URL with a host")
    if parts.password or parts.query or parts.fragment:
        raise GitOpsPlatformError(field, url, "must not carry a password, query or fragment")


def _unique(field: str, values: Iterable[str]) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise GitOpsPlatformError(field, value, "must be unique")
        seen.add(value)


def validate(name: str, args: GitOpsPlatformArgs) -> None:
    """Raise ``GitOpsPlatformError`` for the first invalid input, else return."""
    _dns_label("name", name)
    _dns_label("environment", args.environment)
    _url("url", args.url)
    _url("oidc.issuer", args.oidc.issuer)
    for field, value in (("oidc.name", args.oidc.name), ("oidc.client_id", args.oidc.client_id)):
        if not value.strip():
            raise GitOpsPlatformError(field, value, "must not be empty")
    match = _OIDC_ARN.match(args.oidc_provider_arn)
    if match is None or match["issuer"] != args.oidc_issuer:
        raise GitOpsPlatformError(
            "oidc_provider_arn",
            args.oidc_provider_arn,
            f"must be the IAM OIDC provider of oidc_issuer {args.oidc_issuer!r}",
        )
    for index, cluster in enumerate(args.clusters):
        _validate_cluster(f"clusters[{index}]", cluster)
    _unique("clusters[].name", (c.name for c in args.clusters))
    _unique("clusters[].cluster_id", (c.cluster_id for c in args.clusters))
    for index, project in enumerate(args.projects):
        _dns_label(f"projects[{index}].name", project.name)
        if project.name in RESERVED_PROJECTS:
            raise GitOpsPlatformError(
                f"projects[{index}].name", project.name, f"{sorted(RESERVED_PROJECTS)} are reserved"
            )
    _unique("projects[].name", (p.name for p in args.projects))
    projects = {p.name for p in args.projects}
    for index, app in enumerate(args.apps):
        _validate_app(f"apps[{index}]", app, args, projects)
    _unique("apps[].name", (a.name for a in args.apps))
    if args.root_app is not None:
        _url("root_app.repo_url", args.root_app.repo_url)
        for field, value in (
            ("root_app.path", args.root_app.path),
            ("root_app.revision", args.root_app.revision),
        ):
            if not value.strip():
                raise GitOpsPlatformError(field, value, "must not be empty")
    for index, credential in enumerate(args.repositories):
        _validate_repository(f"repositories[{index}]", credential)
    _unique("repositories[].name", (r.name for r in args.repositories))
    validate_rbac(args)
    _dns_label("monitoring_namespace", args.monitoring_namespace)
    _dns_label("ingress_namespace", args.ingress_namespace)


def _validate_cluster(where: str, cluster: GitOpsCluster) -> None:
    _dns_label(f"{where}.name", cluster.name)
    _dns_label(f"{where}.cluster_id", cluster.cluster_id)
    if cluster.type not in ("cnc", "customer"):
        raise GitOpsPlatformError(f"{where}.type", cluster.type, "must be cnc or customer")
    _url(f"{where}.server", cluster.server)
    if not _BASE64.match(cluster.ca_data):
        raise GitOpsPlatformError(f"{where}.ca_data", cluster.ca_data[:40], "must be base64 PEM")
    if not _ROLE_ARN.match(cluster.role_arn):
        raise GitOpsPlatformError(
            f"{where}.role_arn", cluster.role_arn, "must be an IAM role ARN (no static token)"
        )
    for key, value in cluster.labels.items():
        if key in (CLUSTER_TYPE_LABEL, CLUSTER_ID_LABEL):
            raise GitOpsPlatformError(
                f"{where}.labels", key, "is set from the cluster's type and cluster_id"
            )
        if problem := label_key_problem(key):
            raise GitOpsPlatformError(f"{where}.labels", key, problem)
        _label_value(f"{where}.labels[{key}]", value)
    for key in cluster.annotations:
        if problem := label_key_problem(key):
            raise GitOpsPlatformError(f"{where}.annotations", key, problem)


def _label_value(field: str, value: str) -> None:
    if len(value) > MAX_APPLICATION_NAME or not _LABEL_VALUE.match(value):
        raise GitOpsPlatformError(field, value, "must be a label value")


def _validate_selector(where: str, selector: LabelSelector) -> None:
    if selector.empty:
        raise GitOpsPlatformError(
            where, {}, "must name at least one label or requirement (empty matches all)"
        )
    for key, value in selector.match_labels.items():
        if problem := label_key_problem(key):
            raise GitOpsPlatformError(f"{where}.match_labels", key, problem)
        _label_value(f"{where}.match_labels[{key}]", value)
    for index, requirement in enumerate(selector.match_expressions):
        at = f"{where}.match_expressions[{index}]"
        if problem := label_key_problem(requirement.key):
            raise GitOpsPlatformError(f"{at}.key", requirement.key, problem)
        if problem := operator_problem(requirement.operator, requirement.values):
            raise GitOpsPlatformError(at, requirement.operator, problem)
        for value in requirement.values:
            _label_value(f"{at}.values", value)


def _validate_app(where: str, app: GitOpsApp, args: GitOpsPlatformArgs, projects: set[str]) -> None:
    _dns_label(f"{where}.name", app.name)
    if app.project not in projects:
        raise GitOpsPlatformError(
            f"{where}.project", app.project, f"must be one of {sorted(projects)}"
        )
    _url(f"{where}.repo_url", app.repo_url)
    if (app.chart is None) == (app.path is None):
        raise GitOpsPlatformError(f"{where}.chart/path", (app.chart, app.path), "set exactly one")
    if not app.revision.strip():
        raise GitOpsPlatformError(f"{where}.revision", app.revision, "must not be empty")
    _dns_label(f"{where}.destination_namespace", app.destination_namespace)
    _validate_selector(f"{where}.cluster_selector", app.cluster_selector)
    if app.values_from is not None:
        _url(f"{where}.values_from.repo_url", app.values_from.repo_url)
        if not app.values_from.revision.strip():
            raise GitOpsPlatformError(
                f"{where}.values_from.revision", app.values_from.revision, "must not be empty"
            )
        if not app.values_files:
            raise GitOpsPlatformError(
                f"{where}.values_from", app.values_from.repo_url, "needs values_files to read"
            )
    if app.release_name is not None:
        _dns_label(f"{where}.release_name", app.release_name)
    for parameter in app.helm_parameters:
        if not parameter.name.strip():
            raise GitOpsPlatformError(
                f"{where}.helm_parameters", parameter.name, "a name must not be empty"
            )
    sync = app.sync_policy
    if (sync.prune or sync.self_heal) and not sync.automated:
        raise GitOpsPlatformError(
            f"{where}.sync_policy", sync, "prune and self_heal need automated"
        )
    prefix = application_name_prefix(app, args.environment)
    for cluster in matching_clusters(app.cluster_selector, args.clusters):
        full = prefix + cluster.cluster_id
        if len(full) > MAX_APPLICATION_NAME:
            raise GitOpsPlatformError(
                f"{where}.name", app.name, f"makes Application {full!r} longer than 63"
            )


def _validate_repository(where: str, credential: RepositoryCredential) -> None:
    _dns_label(f"{where}.name", credential.name)
    schemes = ("https",) if credential.type == "helm" else ("https", "ssh")
    if credential.url.startswith("git@"):
        if credential.type != "git":
            raise GitOpsPlatformError(f"{where}.url", credential.url, "helm needs https")
    else:
        _url(f"{where}.url", credential.url, schemes)
    password = credential.password is not None
    key = credential.ssh_private_key is not None
    if password == key:
        raise GitOpsPlatformError(
            f"{where}", credential.name, "set exactly one of password and ssh_private_key"
        )
    if password and credential.username is None:
        raise GitOpsPlatformError(f"{where}.username", None, "a password needs a username")
