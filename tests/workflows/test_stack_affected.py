"""``sre stack affected`` over real git repositories: which platform stacks a change touches."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from change_mgmt.cli.app import app
from change_mgmt.stacks_affected import stacks_of_path
from tests.conftest import git, request_yaml

runner = CliRunner()
EVERY = ["dev", "staging", "prod"]


def affected(project: Path, since: str = "HEAD~1") -> dict[str, object]:
    result = runner.invoke(
        app,
        ["stack", "affected", "--since", since, "--format", "json"],
        env={"SRE_PROJECT_DIR": str(project)},
    )
    assert result.exit_code == 0, result.stderr
    document: dict[str, object] = json.loads(result.stdout)
    return document


@pytest.fixture
def project(git_project: Callable[..., Path]) -> Path:
    root = git_project(a=request_yaml("a"))
    for stack, environment in (("dev", "dev"), ("staging", "stage"), ("prod", "production")):
        (root / f"Pulumi.{stack}.yaml").write_text(
            f"config:\n  sre-platform:githubDeployEnvironment: {environment}\n"
        )
    (root / "gitops" / "apps").mkdir(parents=True)
    (root / "gitops" / "apps" / "staging.yaml").write_text("apps: []\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "stacks")
    return root


def change(project: Path, *paths: str) -> None:
    for path in paths:
        (project / path).parent.mkdir(parents=True, exist_ok=True)
        (project / path).write_text(f"changed {path}\n")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "change")


def test_a_stack_file_touches_its_stack_only(project: Path) -> None:
    change(project, "Pulumi.prod.yaml")
    document = affected(project)
    assert document["schema"] == "sre-platform/stack-affected/v1"
    assert document["stacks"] == ["prod"]
    targets = document["targets"]
    assert isinstance(targets, list)
    assert targets == [
        {
            "stack": "prod",
            "github_environment": "production",
            "previewer_role_variable": "AWS_PREVIEWER_ROLE_ARN_PROD",
            "deployer_role_variable": "AWS_DEPLOYER_ROLE_ARN_PROD",
            "ledger_url_variable": "SRE_LEDGER_URL_PROD",
            "evidence_url_variable": "SRE_EVIDENCE_URL_PROD",
            "paths": ["Pulumi.prod.yaml"],
        }
    ]


def test_the_github_environment_comes_from_the_stack_file(project: Path) -> None:
    change(project, "gitops/apps/staging.yaml")
    document = affected(project)
    assert document["stacks"] == ["staging"]
    assert document["targets"][0]["github_environment"] == "stage"  # type: ignore[index]


def test_shared_code_touches_every_stack(project: Path) -> None:
    change(project, "components/observability/new.py")
    assert affected(project)["stacks"] == EVERY


def test_docs_tests_and_requests_touch_none(project: Path) -> None:
    change(project, "docs/x.md", "tests/test_x.py", "stacks/environments/b.yaml", "NOTES.md")
    document = affected(project)
    assert document["stacks"] == []
    assert document["targets"] == []
    assert document["ignored"] == [
        "NOTES.md",
        "docs/x.md",
        "stacks/environments/b.yaml",
        "tests/test_x.py",
    ]


def test_an_unclassified_path_touches_every_stack(project: Path) -> None:
    change(project, "docs/x.md", "mystery.toml")
    document = affected(project)
    assert document["stacks"] == EVERY
    assert document["unclassified"] == ["mystery.toml"]


def test_a_deleted_stack_file_touches_its_stack(project: Path) -> None:
    git(project, "rm", "-q", "Pulumi.dev.yaml")
    git(project, "commit", "-q", "-m", "drop dev")
    document = affected(project)
    assert document["stacks"] == ["dev"]
    assert document["targets"][0]["paths"] == ["Pulumi.dev.yaml"]  # type: ignore[index]


def test_a_renamed_file_counts_at_both_paths(project: Path) -> None:
    git(project, "mv", "gitops/apps/staging.yaml", "gitops/apps/prod.yaml")
    git(project, "commit", "-q", "-m", "move")
    assert affected(project)["stacks"] == ["staging", "prod"]


def test_an_ambiguous_ref_is_refused(project: Path) -> None:
    git(project, "tag", "main", "HEAD~1")
    result = runner.invoke(
        app, ["stack", "affected", "--since", "main"], env={"SRE_PROJECT_DIR": str(project)}
    )
    assert result.exit_code == 2
    assert "ambiguous" in result.stderr


@pytest.mark.parametrize(
    ("path", "stacks", "why"),
    [
        ("Pulumi.staging.yaml", {"staging"}, "stack"),
        ("gitops/clusters/dev.yaml", {"dev"}, "stack"),
        ("gitops/clusters/README.md", set(EVERY), "shared"),
        ("change_mgmt/risk/rules.py", set(EVERY), "shared"),
        ("stacks/platform.py", set(EVERY), "shared"),
        ("stacks/environments/x.yaml", set(), "none"),
        ("Pulumi.yaml", set(EVERY), "shared"),
        (".github/workflows/deploy.yml", set(), "none"),
        ("Pulumi.qa.yaml", set(EVERY), "unclassified"),
    ],
)
def test_path_rules(path: str, stacks: set[str], why: str) -> None:
    assert stacks_of_path(path) == (frozenset(stacks), why)
