"""``sre policy check`` end to end: real stack programs under Pulumi mocks, real files."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from change_mgmt.cli.app import app
from tests.conftest import request_yaml

runner = CliRunner()
REPO = Path(__file__).resolve().parents[2]


def sre(project: Path, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(
        app, ["policy", "check", "--project-dir", str(project), *args], env={"COLUMNS": "250"}
    )
    return result.exit_code, result.stdout, result.stderr


def soon(days: int = 3) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    shutil.copy(REPO / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    shutil.copytree(
        REPO / "policies",
        tmp_path / "policies",
        ignore=shutil.ignore_patterns("*.py", "__pycache__"),
    )
    (tmp_path / "stacks" / "environments").mkdir(parents=True)
    return tmp_path


def add_request(project: Path, name: str, **fields: str) -> None:
    text = request_yaml(name, expires_at=fields.pop("expires_at", soon()), **fields)
    (project / "stacks" / "environments" / f"{name}.yaml").write_text(text)


def test_the_repository_passes() -> None:
    code, stdout, _ = sre(REPO, "--all")
    assert code == 0, stdout
    assert "env-pg-migration-1000" in stdout and "5 stack(s) checked: 5 passed" in stdout
    for stack, tier in (("dev", "development"), ("staging", "staging"), ("prod", "production")):
        assert f"✓ {stack} ({tier}, Pulumi.{stack}.yaml)" in stdout


def test_a_compliant_request_passes_with_every_rule_run(project: Path) -> None:
    add_request(project, "ok", size="1000users", database="aws-rds-postgres", filestore="aws-s3")
    code, stdout, _ = sre(project, "--format", "json")
    document = json.loads(stdout)
    assert code == 0 and document["passed"] is True
    (entry,) = document["stacks"]
    assert entry["stack"] == "env-ok" and entry["tier"] == "test" and entry["findings"] == []
    assert entry["rules_run"] >= 20 and entry["source"] == "stacks/environments/ok.yaml"


def test_a_request_over_the_size_cap_fails_naming_file_rule_and_fix(project: Path) -> None:
    add_request(project, "big", size="25000users")
    code, stdout, _ = sre(project, "--stack", "env-big", "--format", "json")
    assert code == 1
    (finding,) = json.loads(stdout)["stacks"][0]["findings"]
    assert finding["rule"] == "test-env-size-cap" and finding["blocking"] is True
    assert (
        "stacks/environments/big.yaml" in finding["message"] and "25000users" in finding["message"]
    )
    assert "test_environment.allowed_sizes" in finding["remediation"]


def test_a_lower_cost_cap_fails_the_cost_rule_on_the_rendered_stack(project: Path) -> None:
    (project / "policies" / "config.yaml").write_text(
        "test_environment:\n  max_monthly_cost_usd: 20\n"
    )
    add_request(project, "pricey", size="1000users", database="aws-rds-postgres")
    code, stdout, _ = sre(project, "--all")
    assert code == 1
    assert "test-env-monthly-cost" in stdout and "MANDATORY" in stdout
    assert "pricey-db" in stdout  # the most expensive line is named


def test_a_waiver_lets_it_pass_until_it_expires(project: Path) -> None:
    (project / "policies" / "config.yaml").write_text(
        "test_environment:\n  max_monthly_cost_usd: 20\n"
    )
    add_request(project, "pricey", size="1000users", database="aws-rds-postgres")
    entry = (
        "waivers:\n  - rule: test-env-monthly-cost\n    resource: pricey-*\n"
        "    reason: capacity test signed off by finance\n    owner: sre@example.com\n"
        "    expires: {expires}\n"
    )
    waivers = project / "policies" / "waivers.yaml"
    waivers.write_text(entry.format(expires=(datetime.now(UTC) + timedelta(days=5)).date()))
    code, stdout, _ = sre(project, "--format", "json")
    (finding,) = json.loads(stdout)["stacks"][0]["findings"]
    assert (
        code == 0
        and finding["status"] == "waived"
        and finding["waiver"]["owner"] == "sre@example.com"
    )

    waivers.write_text(entry.format(expires=(datetime.now(UTC) - timedelta(days=2)).date()))
    code, stdout, _ = sre(project)
    assert code == 1 and "expired waiver" in stdout and "renew or remove it" in stdout


def test_a_bad_waivers_file_is_bad_input_with_file_and_line(project: Path) -> None:
    add_request(project, "ok")
    (project / "policies" / "waivers.yaml").write_text(
        "waivers:\n  - rule: test-env-monthly-cost\n    resource: x\n    owner: me\n    expires: 2027-01-01\n"
    )
    code, stdout, _ = sre(project)
    assert code == 2
    assert (
        "policies/waivers.yaml:2:" in stdout
        and "waivers[0].reason: required field is missing" in stdout
    )


def test_a_stack_that_cannot_be_evaluated_is_bad_input_and_the_others_still_run(
    project: Path,
) -> None:
    add_request(project, "ok")
    code, stdout, _ = sre(project, "--stack", "env-missing")
    assert code == 2 and "cannot evaluate" in stdout and "no request file" in stdout


def test_stack_and_all_together_are_refused(project: Path) -> None:
    code, _, stderr = sre(project, "--stack", "env-x", "--all")
    assert code == 2 and "not both" in stderr
