"""The whole flow with the change ledger on DynamoDB (moto server), as on SQLite:
``sre up`` gates a change that needs an approval (closed, its Jira ticket opened),
``sre changes approve`` approves it, and ``sre up`` then applies exactly the gated plan;
the record, its history, the approval and the ticket all live in the shared table."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from change_mgmt.cli.app import app
from change_mgmt.ledger.dynamodb import DynamoLedger
from change_mgmt.ledger.records import ChangeState
from change_mgmt.ledger.store import Ledger
from tests.change_mgmt.ledger_dynamodb.moto import LEDGER_KINDS, select_ledger
from tests.conftest import REPO_ROOT, git
from tests.fakes.jira import FakeJira
from tests.fakes.pulumi_cli import install_fake_pulumi, with_policy_pack

pytestmark = pytest.mark.slow
# Medium risk (a mandatory policy violation aside): one approval needed.
PREVIEW = REPO_ROOT / "examples" / "previews" / "gitops-prune-enabled.json"
STACK = "acme/prod"
AUTHOR, REVIEWER = "author@example.com", "reviewer@example.com"
runner = CliRunner()


@pytest.fixture
def jira() -> Iterator[FakeJira]:
    with FakeJira.cloud() as fake:
        yield fake


@pytest.fixture(params=LEDGER_KINDS)
def ledger_kind(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    return select_ledger(request.param, monkeypatch)


@pytest.fixture
def project(git_project, ssh_keys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = with_policy_pack(git_project())
    (root / "risk-policy.yaml").write_text("rules:\n  outside-change-window: {enabled: false}\n")
    git(root, "config", "user.email", REVIEWER)
    key, _ = ssh_keys("gate")
    events = tmp_path / "events.jsonl"
    events.write_text(
        json.dumps({"sequence": 1, "timestamp": 1, "summaryEvent": {"resourceChanges": {}}})
        + "\n"
        + json.dumps({"sequence": 2, "timestamp": 2, "cancelEvent": {}})
        + "\n"
    )
    monkeypatch.setenv("SRE_GATE_KEY", str(key))
    monkeypatch.setenv("PULUMI_HOME", str(tmp_path / "pulumi-home"))
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    install_fake_pulumi(tmp_path / "bin", stdout=PREVIEW, events=events)
    return root


def _sre(project: Path, jira: FakeJira, *args: str) -> tuple[int, str, str]:
    home = project.parent / "home"
    home.mkdir(exist_ok=True)
    env = {
        **jira.sre_env(),
        "HOME": str(home),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": str(home / "gitconfig"),
    }
    result = runner.invoke(app, [*args, "--project-dir", str(project)], env=env)
    return result.exit_code, result.stdout, result.stderr


def test_gate_approve_ticket_up_on_either_ledger(
    project: Path, jira: FakeJira, ledger_kind: str
) -> None:
    up = ("up", "--stack", STACK, "--author", AUTHOR, "--json")
    code, stdout, stderr = _sre(project, jira, *up)
    assert code == 3, stdout + stderr  # closed: one approval is missing
    closed = json.loads(stdout)
    change = closed["change"]["id"]
    key = closed["ticket"]["key"]
    assert key.startswith("OPS-") and jira.issue(key).status == "Awaiting approval"

    code, _, stderr = _sre(project, jira, "changes", "approve", str(change), "--reason", "read it")
    assert code == 0, stderr

    code, stdout, stderr = _sre(project, jira, *up)
    assert code == 0, stdout + stderr
    applied = json.loads(stdout)
    assert applied["change"]["id"] == change and applied["update"]["applied"] is True
    ledger = Ledger.for_repository(project)
    assert isinstance(ledger, DynamoLedger) == (ledger_kind == "dynamodb")
    record = ledger.get(change)
    assert record.state == ChangeState.applied and record.ticket_key == key
    assert [t.to_state for t in ledger.history(change)] == [
        ChangeState.proposed,
        ChangeState.approved,
        ChangeState.applying,
        ChangeState.applied,
    ]
    assert [a.approver for a in ledger.approvals(record.stack, record.digest)] == [REVIEWER]
    assert len(jira.requests_to("POST", r"/rest/api/2/issue$")) == 1
    assert jira.issue(key).status == "Done"  # approved, implementing, done: delivered
    assert (project / ".sre" / "ledger.sqlite3").exists() == (ledger_kind == "sqlite")
