"""The Automation API adapter against a stand-in ``pulumi`` that replays real output."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from change_mgmt.cli.app import app
from change_mgmt.gate.automation import PreviewFailed, PulumiUnavailable, run_preview
from tests.change_mgmt.preview.test_parse import SAMPLES
from tests.fakes.pulumi_cli import calls_of, install_fake_pulumi

RECORDED_PREVIEW = SAMPLES / "digests" / "stratify-preview-update.json"
RECORDED_EVENTS = (
    SAMPLES / "event-streams" / "pulumi-lifecycle-TestSimpleAnalyzeResourceMultipleViolations.jsonl"
)


@pytest.fixture
def with_fake_pulumi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    def install(**kwargs) -> Path:
        calls = install_fake_pulumi(
            tmp_path / "bin", stdout=RECORDED_PREVIEW, events=RECORDED_EVENTS, **kwargs
        )
        monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
        monkeypatch.setenv("PULUMI_HOME", str(tmp_path / "pulumi-home"))
        return calls

    return install


@pytest.mark.slow
def test_the_preview_runs_with_a_saved_plan_and_keeps_policy_events(
    with_fake_pulumi, tmp_path: Path
) -> None:
    calls = with_fake_pulumi()
    plan = tmp_path / "plans" / "plan.json"
    changeset = run_preview(tmp_path, "dev", plan)
    assert changeset.summary == {"same": 15, "update": 1}
    assert len(changeset.policy_violations) == 10
    assert {v.enforcement for v in changeset.policy_violations} == {"advisory", "mandatory"}
    assert plan.is_file()
    (preview,) = calls_of(calls, "preview")
    preview_call = preview["args"]
    assert "--json" in preview_call
    assert "--event-log" in preview_call  # engine events are watched for policy violations
    assert preview_call[preview_call.index("--save-plan") + 1] == str(plan)
    assert preview_call[preview_call.index("--stack") + 1] == "dev"


@pytest.mark.slow
def test_a_failed_preview_is_reported_without_secrets(with_fake_pulumi, tmp_path: Path) -> None:
    with_fake_pulumi(fail="error: cannot connect to postgres://admin:hunter2hunter2@db:5432/app")
    with pytest.raises(PreviewFailed) as caught:
        run_preview(tmp_path, "prod", tmp_path / "plan.json")
    assert "pulumi preview of stack 'prod' failed" in str(caught.value)
    assert "hunter2hunter2" not in str(caught.value)
    assert "postgres://admin:[secret]@db" in str(caught.value)


@pytest.mark.slow
def test_the_gate_runs_the_preview_itself_and_keeps_the_plan(with_fake_pulumi, git_project) -> None:
    with_fake_pulumi()
    project = git_project()
    result = CliRunner().invoke(
        app, ["gate", "--project-dir", str(project), "--stack", "dev", "--format", "json"]
    )
    document = json.loads(result.stdout)
    assert result.exit_code == 3  # the recorded events carry mandatory violations
    assert document["change"]["plan"] == str(
        project / ".sre" / "plans" / "dev" / f"{document['digest']}.json"
    )
    assert Path(document["change"]["plan"]).is_file()
    assert "blocked:mandatory-policy-violation" in {
        r["code"] for r in document["decision"]["reasons"]
    }


def test_without_the_cli_it_says_how_to_pass_a_preview(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(PulumiUnavailable, match="--preview preview.json"):
        run_preview(tmp_path, "prod", tmp_path / "plan.json")
