"""Environment requests as the Pulumi Kubernetes Operator's Stack resources.

Every rendered Stack is checked against the operator's own CRD (tests/data/crds,
strict: an unknown field is an error), for the shipped requests and for every shape a
request can take.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from change_mgmt.documents import DocumentError
from change_mgmt.environments.catalog import REQUESTS_DIR, load_request, request_files
from change_mgmt.environments.operator_stack import (
    OperatorStackError,
    OperatorStackSettings,
    head_commit,
    load_requests,
    operator_stack,
    operator_stacks,
    render_operator_stack,
    to_yaml,
    uncommitted_requests,
)
from change_mgmt.environments.request import EnvironmentRequest
from components.pulumi_operator import stack_document_problems
from components.pulumi_operator.names import CREDENTIALS_SECRET, STACKS_NAMESPACE
from components.test_environment.args import DATABASE_TYPES, FILESTORE_TYPES
from policies.config import DEFAULT_CONFIG
from tests.components.crd_schema import crd_problems
from tests.conftest import NOW, REPO_ROOT, git, request_yaml

CRD = "pulumi.com_stacks.yaml"
COMMIT = "3f1c2a9b8e7d6c5b4a39281706f5e4d3c2b1a098"
SETTINGS = OperatorStackSettings("https://git.example.com/sre/sre-platform.git", COMMIT)


def request(**fields: Any) -> EnvironmentRequest:
    document = {
        "name": "shape-test",
        "owner": "dev@example.com",
        "team": "backend",
        "purpose": "testing",
        "version": "10.11.2",
        "expires_at": NOW + timedelta(days=3),
        **fields,
    }
    return EnvironmentRequest.model_validate(document, context={"now": NOW})


def shipped() -> list[EnvironmentRequest]:
    return [load_request(p).request for p in request_files(REPO_ROOT / REQUESTS_DIR)]


def test_the_crd_check_refuses_a_misspelt_field() -> None:
    """The check below can fail: an unknown field and a wrong type are both reported."""
    document = operator_stack(request(), SETTINGS)
    document["spec"]["destroyOnFinalise"] = True
    document["spec"]["workspaceTemplate"]["spec"]["resources"]["requests"]["cpu"] = []
    problems = crd_problems(document, CRD)
    assert any("destroyOnFinalise" in p for p in problems)
    assert any("workspaceTemplate.spec.resources.requests.cpu" in p for p in problems)


def test_documents_share_nothing_mutable() -> None:
    """The platform hands each document to Pulumi; a change to one must not reach another."""
    first, second = operator_stack(request(), SETTINGS), operator_stack(request(), SETTINGS)
    first["spec"]["workspaceTemplate"]["spec"]["resources"]["limits"]["memory"] = "1Ti"
    assert second["spec"]["workspaceTemplate"]["spec"]["resources"]["limits"]["memory"] == "2Gi"


@pytest.mark.parametrize("loaded", shipped(), ids=lambda r: r.name)
def test_every_shipped_request_renders_a_stack_the_crd_accepts(loaded: EnvironmentRequest) -> None:
    document = operator_stack(loaded, SETTINGS)
    assert crd_problems(document, CRD) == []
    assert document["metadata"]["name"] == f"env-{loaded.name}"
    assert stack_document_problems(document["metadata"]["name"], document) == []


SHAPES = [
    *(
        {"database": database, "filestore": filestore}
        for database, filestore in itertools.product(DATABASE_TYPES, FILESTORE_TYPES)
    ),
    *({"size": size} for size in DEFAULT_CONFIG.test_environment.allowed_sizes),
    {"name": "a" * 40},
    {"name": "x1"},
    {"labels": {"app.kubernetes.io/part-of": "chat", "cost-centre": "r-and-d"}},
    {"env": {"MM_FEATUREFLAGS_X": "true", "MM_LICENSE": {"secret": "license", "key": "l"}}},
    {"image": "registry.example.com/team/mattermost", "team": "platform-team"},
]


@pytest.mark.parametrize("fields", SHAPES, ids=lambda f: ",".join(f"{k}" for k in f))
def test_every_request_shape_renders_a_stack_the_crd_accepts(fields: dict[str, Any]) -> None:
    shaped = request(**fields)
    document = operator_stack(shaped, SETTINGS)
    assert crd_problems(document, CRD) == []
    spec = document["spec"]
    assert spec["stack"] == f"env-{shaped.name}"
    assert (spec["projectRepo"], spec["commit"]) == (SETTINGS.repo_url, COMMIT)
    assert "branch" not in spec  # one exact commit, never a branch
    assert spec["destroyOnFinalize"] is True
    assert document["metadata"]["namespace"] == STACKS_NAMESPACE
    # A label value may not hold "@" or spaces: owner goes to an annotation.
    labels = document["metadata"]["labels"]
    assert all(" " not in value and "@" not in value for value in labels.values())
    assert document["metadata"]["annotations"]["sre-platform/owner"] == "dev@example.com"


def test_only_the_multitenant_database_gets_the_shared_database_password() -> None:
    for database in DATABASE_TYPES:
        spec = operator_stack(request(database=database), SETTINGS)["spec"]
        secrets = spec.get("secretsRef", {})
        expected = (
            {"sre-platform:sharedDbAdminPassword"}
            if database == "aws-multitenant-rds-postgres"
            else set()
        )
        assert set(secrets) == expected, database


def _references(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, dict):
        found = [value] if "type" in value and "secret" in value else []
        return found + [ref for item in value.values() for ref in _references(item)]
    if isinstance(value, list):
        return [ref for item in value for ref in _references(item)]
    return []


def test_credentials_are_only_ever_references_to_the_stacks_own_secret() -> None:
    spec = operator_stack(request(database="aws-multitenant-rds-postgres"), SETTINGS)["spec"]
    refs = _references({k: spec[k] for k in ("gitAuth", "envRefs", "secretsRef")})
    assert len(refs) == 3
    for ref in refs:
        assert ref["type"] == "Secret"
        # No namespace: the operator refuses Secrets of other namespaces.
        assert set(ref["secret"]) == {"name", "key"}
        assert ref["secret"]["name"] == CREDENTIALS_SECRET
    assert "secrets" not in spec and "accessTokenSecret" not in spec  # deprecated inline forms


def test_expired_requests_get_no_stack_and_expiring_ones_keep_theirs() -> None:
    requests = [
        request(name="live", expires_at=NOW + timedelta(days=2)),
        request(name="soon", expires_at=NOW + timedelta(hours=2)),
        request(name="gone", expires_at=NOW + timedelta(hours=1)),
    ]
    later = NOW + timedelta(hours=1)  # "gone" expires exactly now
    assert sorted(operator_stacks(requests, SETTINGS, later)) == ["env-live", "env-soon"]
    assert sorted(operator_stacks(requests, SETTINGS, NOW)) == ["env-gone", "env-live", "env-soon"]


@pytest.mark.parametrize(
    ("url", "commit", "message"),
    [
        ("https://git.example.com/sre/sre-platform.git", "main", "full 40-character"),
        ("https://git.example.com/sre/sre-platform.git", COMMIT[:12], "full 40-character"),
        ("https://git.example.com/sre/sre-platform.git", COMMIT.upper(), "full 40-character"),
        ("http://git.example.com/sre/sre-platform.git", COMMIT, "https://"),
        ("https://git.example.com", COMMIT, "https://"),
        ("https://git.example.com/sre/x y.git", COMMIT, "https://"),
    ],
)
def test_settings_refuse_anything_but_an_https_url_and_a_full_commit(
    url: str, commit: str, message: str
) -> None:
    with pytest.raises(OperatorStackError, match=message):
        OperatorStackSettings(url, commit)


def test_the_commit_is_the_checkouts_head_and_uncommitted_requests_are_named(
    git_project: Callable[..., Path],
) -> None:
    root = git_project(a=request_yaml("a"), b=request_yaml("b"))
    assert head_commit(root) == git(root, "rev-parse", "HEAD").strip()
    assert uncommitted_requests(root) == []
    (root / "stacks" / "environments" / "a.yaml").write_text(request_yaml("a", team="web"))
    (root / "stacks" / "environments" / "c.yaml").write_text(request_yaml("c"))
    (root / "README.md").write_text("not a request\n")
    assert uncommitted_requests(root) == [
        "stacks/environments/a.yaml",
        "stacks/environments/c.yaml",
    ]


def test_a_directory_without_git_cannot_pin_a_commit(tmp_path: Path) -> None:
    with pytest.raises(OperatorStackError, match="rev-parse"):
        head_commit(tmp_path)


def test_load_requests_reports_every_problem_of_every_file(
    git_project: Callable[..., Path],
) -> None:
    root = git_project(
        good=request_yaml("good"),
        bad=request_yaml("bad", size="huge"),
        worse=request_yaml("other-name"),
    )
    with pytest.raises(DocumentError) as caught:
        load_requests(root)
    paths = {problem.path for problem in caught.value.problems}
    assert paths == {"stacks/environments/bad.yaml", "stacks/environments/worse.yaml"}


def test_render_reads_the_projects_repository_url_and_pins_head(
    git_project: Callable[..., Path],
) -> None:
    future = (datetime.now(UTC) + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    root = git_project(demo=request_yaml("demo", expires_at=future))
    rendered = render_operator_stack(root, "demo", now=datetime.now(UTC))
    assert rendered.document is not None
    assert rendered.repo_url_is_placeholder  # Pulumi.yaml ships a placeholder URL
    assert rendered.document["spec"]["commit"] == git(root, "rev-parse", "HEAD").strip()
    assert yaml.safe_load(to_yaml(rendered.document)) == rendered.document
    expired = render_operator_stack(root, "demo", now=datetime.now(UTC) + timedelta(days=4))
    assert expired.document is None
