"""The env-<name> stack program, run under mocks for every shipped request file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pulumi
import pytest

from change_mgmt.environments.catalog import request_files
from change_mgmt.environments.render import project_config
from components.test_environment import TYPE_TOKEN
from stacks.mock_engine import MockRun, SecretValue, run_under_mocks
from stacks.platform_config import StackConfigError
from stacks.program import run_stack
from stacks.test_environment import RequestFileError
from tests.conftest import REPO_ROOT, request_yaml

SHIPPED = request_files(REPO_ROOT / "stacks" / "environments")


def _run(
    project: Path, stack: str, config: dict[str, str] | None = None, *, preview: bool = True
) -> MockRun:
    return run_under_mocks(
        lambda: run_stack(project),
        project="sre-platform",
        stack=stack,
        config=project_config(REPO_ROOT, stack) if config is None else config,
        preview=preview,
    )


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_every_shipped_request_builds(path: Path) -> None:
    run = _run(REPO_ROOT, f"env-{path.stem}")
    component = run.one(TYPE_TOKEN, path.stem)
    namespace = run.one("kubernetes:core/v1:Namespace")
    assert namespace.inputs["metadata"]["name"] == path.stem
    assert namespace.parent == component.urn
    assert run.one("pulumi:providers:kubernetes").inputs["context"] == "cloud-test"
    assert run.exports["url"] == f"https://{path.stem}.test.chat.example.com"
    assert run.exports["namespace"] == path.stem
    assert run.exports["databaseEndpoint"] is None or isinstance(
        run.exports["databaseEndpoint"], SecretValue
    )


def test_multitenant_database_uses_a_postgres_provider_with_secret_password() -> None:
    run = _run(REPO_ROOT, "env-plugin-demo")
    provider = run.one("pulumi:providers:postgresql")
    assert (
        provider.inputs["host"]
        == "cloud-test-multitenant-db.cluster-mock.us-east-1.rds.amazonaws.com"
    )
    assert isinstance(provider.inputs["password"], SecretValue)
    assert run.one("postgresql:index/database:Database").provider.startswith(provider.urn)


def test_stack_without_request_file_fails_with_a_pointer() -> None:
    with pytest.raises(RequestFileError, match="no request file .*nope.yaml.*sre env new"):
        _run(REPO_ROOT, "env-nope")


def test_unknown_stack_family_is_refused() -> None:
    with pytest.raises(pulumi.RunError, match="no program for stack 'prod-db'"):
        _run(REPO_ROOT, "prod-db")


def test_bad_platform_config_names_the_key() -> None:
    config = project_config(REPO_ROOT, "env-pg-migration-1000")
    config["sre-platform:testDomain"] = "not a domain"
    del config["sre-platform:cluster"]
    with pytest.raises(StackConfigError) as raised:
        _run(REPO_ROOT, "env-pg-migration-1000", config)
    message = str(raised.value)
    assert "sre-platform:testDomain" in message and "sre-platform:cluster" in message
    assert "pulumi config set" in message


def test_multitenant_database_needs_the_admin_secret() -> None:
    config = project_config(REPO_ROOT, "env-plugin-demo")
    del config["sre-platform:sharedDbAdminPassword"]
    with pytest.raises(StackConfigError, match="sharedDbAdminPassword is not set"):
        _run(REPO_ROOT, "env-plugin-demo", config)


def _project_with(tmp_path: Path, name: str, text: str) -> Path:
    shutil.copy(REPO_ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    (tmp_path / "stacks" / "environments").mkdir(parents=True)
    (tmp_path / "stacks" / "environments" / f"{name}.yaml").write_text(text)
    return tmp_path


def test_expired_request_previews_but_does_not_deploy(tmp_path: Path) -> None:
    project = _project_with(tmp_path, "old", request_yaml("old", expires_at="2020-01-01T00:00:00Z"))
    assert _run(project, "env-old", preview=True).one(TYPE_TOKEN, "old")
    with pytest.raises(RequestFileError, match="expired at 2020-01-01T00:00:00Z"):
        _run(project, "env-old", preview=False)


def test_invalid_request_file_stops_the_program_with_its_problems(tmp_path: Path) -> None:
    project = _project_with(tmp_path, "broken", "name: broken\nsise: 1\n")
    with pytest.raises(RequestFileError, match="sise: unknown field; did you mean 'size'"):
        _run(project, "env-broken")


def test_stack_config_file_overrides_project_defaults(tmp_path: Path) -> None:
    project = _project_with(tmp_path, "x", request_yaml("x", expires_at="2099-01-01T00:00:00Z"))
    (project / "Pulumi.env-x.yaml").write_text(
        "config:\n  sre-platform:testDomain: other.example.org\n"
        "  sre-platform:sharedDbAdminPassword:\n    secure: v1:abc\n"
    )
    config = project_config(project, "env-x")
    assert config["sre-platform:testDomain"] == "other.example.org"
    assert config["sre-platform:sharedDbAdminPassword"] == "render-placeholder"
    assert _run(project, "env-x", config).exports["url"] == "https://x.other.example.org"
