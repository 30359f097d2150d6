"""An environment request as the Pulumi Kubernetes Operator's ``Stack`` resource.

In operator mode (docs/operator.md) the platform stack declares one ``pulumi.com/v1``
``Stack`` per active request, and the operator in the cnc cluster runs the ``env-<name>``
program of this repository in a workspace pod. An expired request gets no ``Stack``:
the resource is deleted, and the operator's finalizer destroys the environment
(``destroyOnFinalize``). Pure functions over validated requests; the only I/O here is
asking git which commit a checkout is at.

The Stack tracks one **commit**, never a branch: the commit the platform is deployed
from, so what runs is exactly what was reviewed and gated, and a push to a branch
changes nothing until the platform is deployed again. Every name the document uses
(namespace, service account, Secrets) comes from ``components.pulumi_operator.names``,
where the component that declares or expects them reads them too.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from change_mgmt.documents import DocumentError
from change_mgmt.environments.catalog import (
    REQUESTS_DIR,
    EnvironmentState,
    load_request,
    request_files,
    state_of,
)
from change_mgmt.environments.request import EnvironmentRequest, format_expiry
from change_mgmt.errors import SreError
from change_mgmt.gitcmd import run_git
from components.pulumi_operator.names import (
    ACCESS_TOKEN_KEY,
    CREDENTIALS_SECRET,
    GIT_TOKEN_KEY,
    KUBECONFIG_DIR,
    KUBECONFIG_KEY,
    KUBECONFIG_SECRET,
    SHARED_DB_PASSWORD_KEY,
    STACK_API_VERSION,
    STACK_KIND,
    STACKS_NAMESPACE,
    WORKSPACE_CONTAINER,
    WORKSPACE_SERVICE_ACCOUNT,
)
from components.test_environment.metadata import (
    ANNOTATION_EXPIRES_AT,
    ANNOTATION_OWNER,
    LABEL_TEAM,
    label_value,
)
from policies.config import PolicyConfig

STACK_PREFIX = "env-"  # stacks.test_environment.STACK_PREFIX (not imported: no Pulumi SDK)
PROJECT = "sre-platform"
# Pulumi.yaml is at the repository root: the program is the repository itself.
REPO_DIR = "."
LABEL_REQUEST = "sre-platform/request"
# The workspace pod runs Python, the Pulumi CLI and the aws, kubernetes and postgresql
# providers: less memory than this and an update of a full environment is OOM-killed.
WORKSPACE_RESOURCES = {
    "requests": {"cpu": "500m", "memory": "1Gi"},
    "limits": {"cpu": "1", "memory": "2Gi"},
}
KUBECONFIG_VOLUME = "kubeconfig"
_COMMIT = re.compile(r"^[0-9a-f]{40}$")
_REPO_URL = re.compile(r"^https://[A-Za-z0-9.-]+(:[0-9]+)?(/[A-Za-z0-9._~-]+)+$")


class OperatorStackError(SreError):
    """The operator settings cannot pin a Stack (no commit, not a git checkout, bad URL)."""


@dataclass(frozen=True)
class OperatorStackSettings:
    """Where the operator fetches the program: ``repo_url`` (https) at ``commit``."""

    repo_url: str
    commit: str

    def __post_init__(self) -> None:
        if not _REPO_URL.match(self.repo_url):
            raise OperatorStackError(
                f"repository URL {self.repo_url!r} is not an https:// git URL "
                "(sre-platform:operatorRepoUrl)"
            )
        if not _COMMIT.match(self.commit):
            raise OperatorStackError(
                f"commit {self.commit!r} is not a full 40-character commit id: a Stack "
                "tracks one exact commit, never a branch or a short id"
            )


def stack_name(request: EnvironmentRequest) -> str:
    return f"{STACK_PREFIX}{request.name}"


def _secret_ref(key: str) -> dict[str, Any]:
    """A value from the credentials Secret in the Stack's own namespace (the operator
    refuses Secrets of other namespaces)."""
    return {"type": "Secret", "secret": {"name": CREDENTIALS_SECRET, "key": key}}


def _workspace_template() -> dict[str, Any]:
    """Requests and limits, and the test cluster's kubeconfig mounted read-only (the
    environment program reaches its cluster through the kubeconfig context
    ``sre-platform:cluster``)."""
    return {
        "spec": {
            "resources": copy.deepcopy(WORKSPACE_RESOURCES),  # each document its own
            "env": [{"name": "KUBECONFIG", "value": f"{KUBECONFIG_DIR}/{KUBECONFIG_KEY}"}],
            "podTemplate": {
                "spec": {
                    "volumes": [
                        {
                            "name": KUBECONFIG_VOLUME,
                            "secret": {"secretName": KUBECONFIG_SECRET, "defaultMode": 0o440},
                        }
                    ],
                    "containers": [
                        {
                            "name": WORKSPACE_CONTAINER,
                            "volumeMounts": [
                                {
                                    "name": KUBECONFIG_VOLUME,
                                    "mountPath": KUBECONFIG_DIR,
                                    "readOnly": True,
                                }
                            ],
                        }
                    ],
                }
            },
        }
    }


def operator_stack(request: EnvironmentRequest, settings: OperatorStackSettings) -> dict[str, Any]:
    """The ``Stack`` resource that deploys ``request`` (apiVersion, kind, metadata, spec)."""
    name = stack_name(request)
    spec: dict[str, Any] = {
        "stack": name,
        "projectRepo": settings.repo_url,
        "commit": settings.commit,
        "repoDir": REPO_DIR,
        "gitAuth": {"accessToken": _secret_ref(GIT_TOKEN_KEY)},
        "envRefs": {ACCESS_TOKEN_KEY: _secret_ref(ACCESS_TOKEN_KEY)},
        "destroyOnFinalize": True,
        "serviceAccountName": WORKSPACE_SERVICE_ACCOUNT,
        "workspaceTemplate": _workspace_template(),
        "workspaceReclaimPolicy": "Delete",
    }
    if request.database == "aws-multitenant-rds-postgres":
        # The one secret the environment program reads, and only for this database.
        spec["secretsRef"] = {
            f"{PROJECT}:{SHARED_DB_PASSWORD_KEY}": _secret_ref(SHARED_DB_PASSWORD_KEY)
        }
    return {
        "apiVersion": STACK_API_VERSION,
        "kind": STACK_KIND,
        "metadata": {
            "name": name,
            "namespace": STACKS_NAMESPACE,
            "labels": {LABEL_REQUEST: request.name, LABEL_TEAM: label_value(request.team)},
            "annotations": {
                ANNOTATION_OWNER: str(request.owner),
                ANNOTATION_EXPIRES_AT: format_expiry(request.expires_at),
            },
        },
        "spec": spec,
    }


def operator_stacks(
    requests: Iterable[EnvironmentRequest], settings: OperatorStackSettings, now: datetime
) -> dict[str, dict[str, Any]]:
    """The Stack of every request that has not expired at ``now``, by its name."""
    return {
        stack_name(request): operator_stack(request, settings)
        for request in requests
        if state_of(request, now) is not EnvironmentState.EXPIRED
    }


def head_commit(project_dir: Path) -> str:
    """The commit ``project_dir`` is checked out at: what the operator will run."""
    out = run_git(project_dir, "rev-parse", "--verify", "HEAD^{commit}", error=OperatorStackError)
    return out.decode().strip()


def uncommitted_requests(project_dir: Path) -> list[str]:
    """Request files that differ from HEAD (or are untracked): the operator, which
    checks out the commit, would not see them as they are here."""
    out = run_git(
        project_dir,
        "status",
        "--porcelain",
        "--untracked-files=all",
        "--",
        str(REQUESTS_DIR),
        error=OperatorStackError,
    )
    return sorted(line[3:] for line in out.decode("utf-8", "replace").splitlines() if line)


def load_requests(
    project_dir: Path, policy: PolicyConfig | None = None
) -> list[EnvironmentRequest]:
    """Every request of the repository, or ``DocumentError`` with every problem of every
    file: in operator mode an unreadable request must stop the update, since leaving
    its Stack out would destroy the environment."""
    requests, problems = [], []
    for path in request_files(project_dir / REQUESTS_DIR):
        shown = str(REQUESTS_DIR / path.name)
        try:
            requests.append(load_request(path, shown_path=shown, policy=policy).request)
        except DocumentError as exc:
            problems.extend(exc.problems)
    if problems:
        raise DocumentError(problems)
    return requests


REPO_URL_KEY = "operatorRepoUrl"
PLACEHOLDER_MARK = "[placeholder]"


@dataclass(frozen=True)
class RenderedOperatorStack:
    """One request as operator mode would deploy it; ``document`` is ``None`` when the
    request has expired (it gets no Stack, so the operator destroys the environment)."""

    request: EnvironmentRequest
    document: dict[str, Any] | None
    repo_url_is_placeholder: bool


def project_repo_url(project_dir: Path) -> tuple[str, bool]:
    """``operatorRepoUrl`` of Pulumi.yaml, and whether it is still its placeholder."""
    project_file = project_dir / "Pulumi.yaml"
    try:
        project = yaml.safe_load(project_file.read_text("utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise OperatorStackError(f"cannot read {project_file}: {exc}") from None
    spec = (project.get("config") or {}).get(REPO_URL_KEY) if isinstance(project, dict) else None
    if not isinstance(spec, dict) or not isinstance(spec.get("default"), str):
        raise OperatorStackError(f"{project_file} declares no {PROJECT}:{REPO_URL_KEY} default")
    placeholder = str(spec.get("description", "")).startswith(PLACEHOLDER_MARK)
    return spec["default"], placeholder


def render_operator_stack(
    project_dir: Path, name: str, *, now: datetime, policy: PolicyConfig | None = None
) -> RenderedOperatorStack:
    """The Stack of request ``name`` at the checkout's commit (``DocumentError`` when the
    request is invalid)."""
    path = project_dir / REQUESTS_DIR / f"{name}.yaml"
    request = load_request(path, shown_path=str(REQUESTS_DIR / path.name), policy=policy).request
    repo_url, placeholder = project_repo_url(project_dir)
    settings = OperatorStackSettings(repo_url=repo_url, commit=head_commit(project_dir))
    document = operator_stacks([request], settings, now).get(stack_name(request))
    return RenderedOperatorStack(request, document, placeholder)


def to_yaml(document: dict[str, Any]) -> str:
    """The document as a Kubernetes manifest (keys in the order written)."""
    return yaml.safe_dump(document, sort_keys=False, default_flow_style=False)
