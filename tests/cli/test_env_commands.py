"""``sre env`` through typer's runner: output, exit codes, files written."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from change_mgmt.cli.app import app
from tests.conftest import git, request_yaml

runner = CliRunner()


def sre(project: Path, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), env={"SRE_PROJECT_DIR": str(project), "COLUMNS": "200"})
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "stacks" / "environments").mkdir(parents=True)
    return tmp_path


def test_new_writes_a_file_that_validates(project: Path) -> None:
    code, _, stderr = sre(
        project,
        "env",
        "new",
        "demo-1",
        "--owner",
        "me@example.com",
        "--team",
        "backend",
        "--size",
        "1000users",
        "--ttl",
        "5d",
        "--database",
        "aws-rds-postgres",
    )
    assert code == 0, stderr
    path = project / "stacks" / "environments" / "demo-1.yaml"
    text = path.read_text()
    assert "size: 1000users" in text and "database: aws-rds-postgres" in text
    assert "wrote stacks/environments/demo-1.yaml" in stderr
    assert sre(project, "env", "validate")[0] == 0


def test_new_defaults_to_postgresql_on_the_shared_cluster(project: Path) -> None:
    # The operator-managed database is MySQL, which Mattermost is deprecating.
    code, _, stderr = sre(
        project, "env", "new", "demo", "--owner", "me@example.com", "--team", "qa"
    )
    assert code == 0, stderr
    written = (project / "stacks" / "environments" / "demo.yaml").read_text()
    assert "database: aws-multitenant-rds-postgres" in written


def test_new_that_cannot_write_its_file_says_so(project: Path) -> None:
    requests = project / "stacks" / "environments"
    shutil.rmtree(requests)
    requests.write_text("not a folder\n")  # so the request file cannot be written
    code, _, stderr = sre(
        project, "env", "new", "demo", "--owner", "me@example.com", "--team", "qa"
    )
    assert code == 1  # not bad input: the checkout cannot be written
    assert "cannot write" in stderr and "Traceback" not in stderr


def test_new_refuses_to_overwrite_without_force(project: Path) -> None:
    args = ("env", "new", "demo", "--owner", "me@example.com", "--team", "backend")
    assert sre(project, *args)[0] == 0
    code, _, stderr = sre(project, *args)
    assert code == 2  # bad input: the name is taken
    assert "already exists" in stderr and "--force" in stderr
    assert sre(project, *args, "--force")[0] == 0


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--ttl", "15d"), "longer than the 14-day maximum"),
        (("--ttl", "30d"), "longer than the 14-day maximum"),
        (("--ttl", "soon"), "not a duration"),
        (("--owner", "not-an-email"), "--owner"),
        (("--team", "Back End"), "--team"),
    ],
)
def test_new_rejects_bad_options_with_a_message(
    project: Path, extra: tuple[str, ...], message: str
) -> None:
    options = {
        "--owner": "me@example.com",
        "--team": "backend",
        **dict(zip(extra[::2], extra[1::2], strict=True)),
    }
    code, _, stderr = sre(
        project, "env", "new", "demo", *[item for pair in options.items() for item in pair]
    )
    assert code == 2  # every invalid input exits 2
    assert message in stderr
    assert "Traceback" not in stderr
    assert not (project / "stacks" / "environments" / "demo.yaml").exists()


def test_new_rejects_unknown_size_as_usage_error(project: Path) -> None:
    code, _, stderr = sre(
        project, "env", "new", "demo", "--owner", "a@example.com", "--team", "t", "--size", "huge"
    )
    assert code == 2
    assert "huge" in stderr


def test_schema_is_json_schema_of_the_request(project: Path) -> None:
    code, stdout, _ = sre(project, "env", "schema")
    assert code == 0
    schema = json.loads(stdout)
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == {"name", "owner", "team", "purpose", "version", "expires_at"}
    assert "description" in schema["properties"]["expires_at"]


def test_validate_exit_codes_and_problem_lines(project: Path) -> None:
    envs = project / "stacks" / "environments"
    (envs / "good.yaml").write_text(request_yaml("good", expires_at="2030-01-01T00:00:00Z"))
    (envs / "bad.yaml").write_text("name: bad\nsise: 100users\n")
    code, stdout, stderr = sre(project, "env", "validate", str(envs / "bad.yaml"))
    assert code == 2
    lines = stdout.splitlines()
    assert "stacks/environments/bad.yaml:2:1: sise: unknown field; did you mean 'size'?" in lines
    assert all(line.startswith("stacks/environments/bad.yaml:") for line in lines)
    assert "1 of 1 request file(s) have problems" in stderr


def test_validate_json_output(project: Path) -> None:
    envs = project / "stacks" / "environments"
    (envs / "bad.yaml").write_text("- not a mapping\n")
    code, stdout, _ = sre(project, "env", "validate", "--format", "json")
    assert code == 2
    report = json.loads(stdout)
    assert report["valid"] is False
    assert report["problems"] == [
        {
            "path": "stacks/environments/bad.yaml",
            "line": 1,
            "column": 1,
            "field": "(document)",
            "message": "expected a mapping of fields, found a list",
        }
    ]


def test_validate_changed_since_checks_only_the_pull_requests_files(
    git_project: Callable[..., Path],
) -> None:
    root = git_project(old=request_yaml("old", expires_at="2026-01-01T00:00:00Z"))
    git(root, "checkout", "-q", "-b", "feature")
    (root / "stacks" / "environments" / "fresh.yaml").write_text(
        request_yaml("fresh", expires_at="2030-01-01T00:00:00Z")
    )
    code, stdout, stderr = sre(
        root, "env", "validate", "--changed-since", "main", "--format", "json"
    )
    report = json.loads(stdout)
    assert report["checked"] == ["stacks/environments/fresh.yaml"]
    assert code == 2  # 2030 is more than 14 days away for a new request
    assert report["problems"][0]["field"] == "expires_at"
    code, stdout, stderr = sre(root, "env", "validate")
    assert "stacks/environments/old.yaml: expired at 2026-01-01T00:00:00Z" in stderr


def test_validate_bad_ref_is_an_error_not_a_traceback(git_project: Callable[..., Path]) -> None:
    root = git_project()
    code, _, stderr = sre(root, "env", "validate", "--changed-since", "nope")
    assert code == 2
    assert "unknown git ref 'nope'" in stderr


def test_list_reports_state_of_every_request(project: Path) -> None:
    envs = project / "stacks" / "environments"
    (envs / "later.yaml").write_text(request_yaml("later", expires_at="2099-01-01T00:00:00Z"))
    (envs / "gone.yaml").write_text(request_yaml("gone", expires_at="2020-01-01T00:00:00Z"))
    (envs / "broken.yaml").write_text("name: [\n")
    code, stdout, _ = sre(project, "env", "list", "--format", "json")
    assert code == 0
    states = {row["name"]: row["state"] for row in json.loads(stdout)["environments"]}
    assert states == {"later": "active", "gone": "expired", "broken": "invalid"}
    code, stdout, _ = sre(project, "env", "list")
    assert code == 0
    assert "later" in stdout and "expired" in stdout and "invalid" in stdout


def test_help_teaches_the_flow(project: Path) -> None:
    code, stdout, _ = sre(project, "env", "--help")
    assert code == 0
    for command in ("new", "validate", "render", "list", "schema"):
        assert command in stdout


def test_validate_reports_files_that_would_never_be_deployed(
    git_project: Callable[..., Path],
) -> None:
    """A pull request adding a .json or .YAML request gets an error, not "ok"."""
    root = git_project(good=request_yaml("good", expires_at="2026-11-29T12:00:00Z"))
    git(root, "checkout", "-q", "-b", "feature")
    envs = root / "stacks" / "environments"
    (envs / "extra.json").write_text('{"name": "extra"}')
    (envs / "shout.YAML").write_text(request_yaml("shout"))
    for args in ((), ("--changed-since", "main")):
        code, stdout, stderr = sre(root, "env", "validate", *args)
        assert code == 2, stderr
        assert stdout.splitlines() == [
            "stacks/environments/extra.json:1:1: (document): not a request file: only "
            "<name>.yaml request files belong in stacks/environments/ (this one would never "
            "be deployed); move it elsewhere or write it as extra.yaml",
            "stacks/environments/shout.YAML:1:1: (document): request files end in .yaml "
            "(lower case); rename to shout.yaml",
        ]
    _, stdout, _ = sre(root, "env", "list", "--format", "json")
    states = {row["path"]: row["state"] for row in json.loads(stdout)["environments"]}
    assert states["stacks/environments/extra.json"] == "invalid"


def test_validate_uses_the_repositorys_policy_settings_for_sizes(project: Path) -> None:
    envs = project / "stacks" / "environments"
    (envs / "big.yaml").write_text(
        request_yaml("big", size="25000users", expires_at="2026-11-29T12:00:00Z")
    )
    at = ("--at", "2026-11-27T00:00:00+00:00")
    code, stdout, _ = sre(project, "env", "validate", *at)
    assert code == 2
    assert "size: 25000users is not an allowed test environment size (policy rule " in stdout
    (project / "policies").mkdir()
    (project / "policies" / "config.yaml").write_text(
        "test_environment:\n  allowed_sizes: [miniSingleton, 25000users]\n"
    )
    assert sre(project, "env", "validate", *at)[0] == 0
    (project / "policies" / "config.yaml").write_text("test_environment:\n  allowed_size: []\n")
    code, stdout, _ = sre(project, "env", "validate", *at)
    assert code == 2
    assert stdout.startswith("policies/config.yaml:2:3: test_environment.allowed_size:")


def test_validate_at_needs_a_time_zone(project: Path) -> None:
    code, _, stderr = sre(project, "env", "validate", "--at", "2026-11-27T00:00:00")
    assert code == 2
    assert "Invalid value for '--at'" in stderr


def test_render_of_an_unknown_environment_is_invalid_input(project: Path) -> None:
    code, _, stderr = sre(project, "env", "render", "nope")
    assert code == 2
    assert "no request named 'nope' in stacks/environments/" in stderr


def test_render_refuses_a_credential_in_purpose_without_printing_it(project: Path) -> None:
    token = "ghp_Q7rT2xW9kL4mN8pZ3vB6cY1dF5gH0jK2sA4e"
    (project / "stacks" / "environments" / "leak.yaml").write_text(
        request_yaml("leak", purpose=f"debugging with {token}")
    )
    code, stdout, stderr = sre(project, "env", "render", "leak")
    assert code == 2
    assert "stacks/environments/leak.yaml:4:10: purpose: value looks like a GitHub token" in stdout
    assert token not in stdout + stderr
