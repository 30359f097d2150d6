"""The front door: README commands, CI script and code-quality gates agree with the code."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from typer.testing import CliRunner

from change_mgmt.cli.app import app
from change_mgmt.environments.request import EnvironmentRequest
from change_mgmt.risk.policy import RULES, RiskPolicy
from tests.conftest import REPO_ROOT

README = (REPO_ROOT / "README.md").read_text()
DOCS = REPO_ROOT / "docs"


def _quick_start_commands() -> list[str]:
    section = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.+?)\n```", section)


def test_readme_has_exactly_two_setup_commands_and_ci_runs_the_test_one() -> None:
    commands = _quick_start_commands()
    assert len(commands) == 2
    demo, tests = commands
    # Debian and Ubuntu refuse pip installs into the system Python: both use a venv.
    venv = "python3 -m venv .venv && .venv/bin/pip install -q -c constraints.txt -e "
    assert demo.startswith(venv + ". && .venv/bin/sre env validate")
    tools = "bash scripts/install-test-tools.sh && "
    assert tests.startswith(tools + venv + "'.[test]' && .venv/bin/python -m pytest")
    assert "python3 -m pip" not in README
    ci_script = (REPO_ROOT / ".ci" / "run").read_text().splitlines()
    assert tests in ci_script


def _requirements(lines: list[str]) -> list[Requirement]:
    return [Requirement(line) for line in lines if line.strip() and not line.startswith("#")]


def test_constraints_pin_every_dependency_inside_the_supported_range() -> None:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    wanted = _requirements([*project["dependencies"], *project["optional-dependencies"]["test"]])
    pins = {
        canonicalize_name(r.name): r.specifier
        for r in _requirements((REPO_ROOT / "constraints.txt").read_text().splitlines())
    }
    for requirement in wanted:
        pin = pins.get(canonicalize_name(requirement.name))
        assert pin is not None, f"constraints.txt does not pin {requirement.name}"
        (exact,) = list(pin)
        assert exact.operator == "==", requirement.name
        assert requirement.specifier.contains(exact.version), (requirement, exact.version)


def test_policy_pack_requires_the_pulumi_policy_api_it_uses() -> None:
    # Severity, remediation_steps and not_applicable arrived in pulumi-policy 1.18.
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    pack = (REPO_ROOT / "policies" / "requirements.txt").read_text().splitlines()
    for source in (project["dependencies"], pack):
        (policy,) = [r for r in _requirements(source) if r.name == "pulumi-policy"]
        assert not policy.specifier.contains("1.17.0")
        assert policy.specifier.contains("1.18.0")


def test_the_environments_page_documents_every_request_field() -> None:
    page = (DOCS / "environments.md").read_text()
    for field in EnvironmentRequest.model_fields:
        assert f"| `{field}` |" in page, field


def test_the_risk_policy_page_documents_every_risk_rule_and_policy_field() -> None:
    page = (DOCS / "risk-policy.md").read_text()
    for rule in RULES:
        assert f"| `{rule}` |" in page, rule
    for field in RiskPolicy.model_fields:
        assert f"| `{field}` |" in page, field


def test_the_gate_json_page_documents_every_key_of_the_gate_document(git_project) -> None:
    preview = REPO_ROOT / "examples" / "previews" / "routine-rollout.json"
    result = CliRunner().invoke(
        app,
        [
            "gate",
            "--project-dir",
            str(git_project()),
            "--stack",
            "prod",
            "--preview",
            str(preview),
            "--format",
            "json",
            "--exit-zero",
        ],
    )
    document = json.loads(result.stdout)
    page = (DOCS / "gate-json.md").read_text()
    table = page.split("\n## Keys\n", 1)[1].split("\n## ", 1)[0]
    for key in document:
        assert f"`{key}`" in table, key


@pytest.mark.slow
@pytest.mark.parametrize(
    "command",
    [["ruff", "check", "."], ["ruff", "format", "--check", "."], ["mypy"]],
    ids=["ruff-check", "ruff-format", "mypy"],
)
def test_code_quality_gate(command: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", *command], cwd=REPO_ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
