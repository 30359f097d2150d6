"""``sre env render NAME --as operator-stack`` through typer's runner, in real git
checkouts: the manifest on stdout, notes on stderr, exit codes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from change_mgmt.cli.app import app
from tests.components.crd_schema import crd_problems
from tests.conftest import git, request_yaml

runner = CliRunner()


def sre(project: Path, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), env={"SRE_PROJECT_DIR": str(project), "COLUMNS": "80"})
    return result.exit_code, result.stdout, result.stderr


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def project(git_project: Callable[..., Path]) -> Path:
    now = datetime.now(UTC)
    return git_project(
        demo=request_yaml("demo", expires_at=_stamp(now + timedelta(days=2))),
        old=request_yaml("old", expires_at=_stamp(now - timedelta(days=1))),
    )


def test_prints_the_stack_manifest_pinned_to_head(project: Path) -> None:
    code, stdout, stderr = sre(project, "env", "render", "demo", "--as", "operator-stack")
    assert code == 0, stderr
    document = yaml.safe_load(stdout)
    assert crd_problems(document, "pulumi.com_stacks.yaml") == []
    assert document["spec"]["commit"] == git(project, "rev-parse", "HEAD").strip()
    assert "[placeholder] operatorRepoUrl" in stderr  # the shipped Pulumi.yaml's URL


def test_an_expired_request_has_no_stack(project: Path) -> None:
    code, stdout, stderr = sre(project, "env", "render", "old", "--as", "operator-stack")
    assert (code, stdout) == (0, "")
    assert "old has expired" in stderr and "destroys the environment" in stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--as", "operator"), "is not one of operator-stack"),
        (("--as", "operator-stack", "--format", "json"), "prints a YAML manifest"),
    ],
)
def test_bad_options_are_invalid_input(project: Path, args: tuple[str, ...], message: str) -> None:
    code, stdout, stderr = sre(project, "env", "render", "demo", *args)
    assert code == 2
    assert message in stdout + stderr


def test_an_invalid_request_is_reported_at_its_line(project: Path) -> None:
    (project / "stacks" / "environments" / "demo.yaml").write_text(
        request_yaml("demo", size="huge")
    )
    code, stdout, stderr = sre(project, "env", "render", "demo", "--as", "operator-stack")
    assert code == 2
    assert "stacks/environments/demo.yaml:" in stdout + stderr
    assert "Traceback" not in stdout + stderr


def test_an_unknown_name_is_invalid_input_with_the_option_too(project: Path) -> None:
    code, _, stderr = sre(project, "env", "render", "nope", "--as", "operator-stack")
    assert code == 2
    assert "no request named 'nope'" in stderr
