"""``sre env up`` on the command line: exit codes, the JSON document, no secrets."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from change_mgmt.cli.app import app
from tests.change_mgmt.lifecycle.helpers import (
    PLATFORM_FILE,
    SHARED_DB_PASSWORD,
    hours,
    make_backend,
    make_checkout,
    request_text,
)

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def platform(tmp_path, monkeypatch):
    path = tmp_path / "env-platform.yaml"
    path.write_text(PLATFORM_FILE)
    monkeypatch.setenv("SRE_ENV_PLATFORM_CONFIG", str(path))
    monkeypatch.setenv("SRE_SHARED_DB_ADMIN_PASSWORD", SHARED_DB_PASSWORD)


def _up(root, *args: str):
    return CliRunner().invoke(app, ["env", "up", *args, "--project-dir", str(root)])


def test_up_deploys_and_prints_the_document(tmp_path, monkeypatch) -> None:
    repo = make_checkout(
        tmp_path, demo=request_text("demo", hours(30), database="aws-multitenant-rds-postgres")
    )
    make_backend(tmp_path, monkeypatch)()
    result = _up(repo.root, "demo", "--format", "json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["schema"] == "sre-platform/env-up/v1"
    assert (document["stack"], document["applied"], document["change"]["state"]) == (
        "env-demo",
        True,
        "applied",
    )
    assert document["outputs"]["url"] == "https://demo.test.example.com"
    assert SHARED_DB_PASSWORD not in result.output
    again = _up(repo.root, "demo")
    assert again.exit_code == 0 and "Already deployed" in again.stdout


def test_up_refuses_an_expired_request_with_exit_2(tmp_path, monkeypatch) -> None:
    repo = make_checkout(tmp_path, old=request_text("old", hours(-2)))
    fake = make_backend(tmp_path, monkeypatch)()
    result = _up(repo.root, "old")
    assert result.exit_code == 2
    assert "expired at" in result.output and "Traceback" not in result.output
    assert fake.called("up") == []


def test_a_failed_update_exits_1_and_says_what_to_do(tmp_path, monkeypatch) -> None:
    repo = make_checkout(tmp_path, demo=request_text("demo", hours(30)))
    make_backend(tmp_path, monkeypatch)({"env-demo": {"resources": 1, "up_fail": "error: quota"}})
    result = _up(repo.root, "demo")
    assert result.exit_code == 1
    assert "failed" in result.stdout and "sre env up" in result.stdout


def test_up_without_the_pulumi_cli_is_a_usage_error(tmp_path, monkeypatch) -> None:
    repo = make_checkout(tmp_path, demo=request_text("demo", hours(30)))
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    result = _up(repo.root, "demo")
    assert result.exit_code == 2 and "Pulumi CLI is not on PATH" in result.output
