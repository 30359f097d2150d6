"""``sre up`` end to end against a stand-in ``pulumi`` that replays recorded output."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from change_mgmt.cli.app import app
from change_mgmt.ledger.records import ChangeState
from change_mgmt.ledger.store import Ledger
from change_mgmt.receipts import verify_receipt
from tests.conftest import REPO_ROOT
from tests.fakes.pulumi_cli import calls_of, install_fake_pulumi

pytestmark = pytest.mark.slow
EXAMPLES = REPO_ROOT / "examples" / "previews"


@pytest.fixture
def setup(tmp_path: Path, git_project, ssh_keys, monkeypatch: pytest.MonkeyPatch):
    project = git_project()
    # Assess regardless of the hour the suite runs at.
    (project / "risk-policy.yaml").write_text("rules:\n  outside-change-window: {enabled: false}\n")
    key, public = ssh_keys("gate")
    events = tmp_path / "events.jsonl"
    events.write_text(  # a preview's event log ends with the engine's cancel event
        json.dumps({"sequence": 1, "timestamp": 1, "summaryEvent": {"resourceChanges": {}}})
        + "\n"
        + json.dumps({"sequence": 2, "timestamp": 2, "cancelEvent": {}})
        + "\n"
    )
    monkeypatch.setenv("SRE_GATE_KEY", str(key))
    monkeypatch.setenv("PULUMI_HOME", str(tmp_path / "pulumi-home"))
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")

    def install(preview: str, **kwargs) -> Path:
        return install_fake_pulumi(
            tmp_path / "bin", stdout=EXAMPLES / preview, events=events, **kwargs
        )

    return project, install, [f"sre-gate {public}"]


def _up(project: Path, *args: str):
    return CliRunner().invoke(
        app, ["up", "--project-dir", str(project), "--stack", "prod", "--json", *args]
    )


def test_an_open_gate_applies_exactly_the_gated_plan_with_a_receipt(setup) -> None:
    project, install, signers = setup
    calls = install("routine-rollout.json")
    result = _up(project)
    assert result.exit_code == 0, result.output
    assert "hunter2-leak" not in result.output + result.stderr  # engine output is scrubbed
    document = json.loads(result.stdout)
    assert document["update"] == {
        "applied": True,
        "state": "applied",
        "changes": {"update": 1, "same": 15},
        "error": None,
    }
    (up,) = calls_of(calls, "up")
    args = up["args"]
    assert args[args.index("--plan") + 1] == document["change"]["plan"]
    assert args[args.index("--stack") + 1] == "prod"
    receipt = verify_receipt(
        str(up["receipt"]), stack="prod", signers=signers, now=datetime.now(UTC)
    )
    assert (receipt.digest, receipt.change_id) == (document["digest"], document["change"]["id"])
    record = Ledger.for_repository(project).get(document["change"]["id"])
    assert record.state == ChangeState.applied
    assert {ChangeState.approved, ChangeState.applying, ChangeState.applied} <= set(
        record.state_times
    )


def test_a_closed_gate_applies_nothing(setup) -> None:
    project, install, _ = setup
    calls = install("ssh-open-to-world.json")
    result = _up(project)
    assert result.exit_code == 3
    assert json.loads(result.stdout)["update"]["applied"] is False
    assert calls_of(calls, "up") == []


def test_a_failed_update_is_recorded_and_explained(setup) -> None:
    project, install, _ = setup
    install(
        "routine-rollout.json",
        up_fail='error: update failed: deployments.apps "mattermost-app" is invalid',
    )
    result = CliRunner().invoke(app, ["up", "--project-dir", str(project), "--stack", "prod"])
    assert result.exit_code == 1
    assert "The update of prod failed" in result.stdout and "What to do" in result.stdout
    (record,) = Ledger.for_repository(project).list()
    assert record.state == ChangeState.failed


def test_without_the_gate_key_nothing_runs(setup, monkeypatch: pytest.MonkeyPatch) -> None:
    project, install, _ = setup
    calls = install("routine-rollout.json")
    monkeypatch.delenv("SRE_GATE_KEY")
    result = _up(project)
    assert result.exit_code == 2
    assert "no gate key" in result.output
    assert not calls.exists() or calls_of(calls, "preview") == []
