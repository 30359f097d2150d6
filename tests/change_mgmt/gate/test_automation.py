"""The Automation API adapter against a stand-in ``pulumi`` that replays real output."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from change_mgmt.cli.app import app
from change_mgmt.gate.automation import PulumiUnavailable, run_preview
from change_mgmt.gate.decision import TicketRef, decide
from change_mgmt.risk.assess import AssessmentContext, assess
from change_mgmt.risk.policy import default_policy
from tests.change_mgmt.preview.builders import as_events
from tests.change_mgmt.preview.test_parse import SAMPLES
from tests.fakes.pulumi_cli import calls_of, install_fake_pulumi, with_policy_pack

RECORDED_PREVIEW = SAMPLES / "digests" / "stratify-preview-update.json"
RECORDED_EVENTS = (
    SAMPLES / "event-streams" / "pulumi-lifecycle-TestSimpleAnalyzeResourceMultipleViolations.jsonl"
)
NOW = datetime(2026, 11, 27, 10, tzinfo=UTC)


ADVISORY_EVENT = {
    "sequence": 5,
    "timestamp": 1,
    "policyEvent": {
        "resourceUrn": "urn:pulumi:dev::stratify::aws:s3/bucket:Bucket::b",
        "message": "buckets should be versioned",
        "policyName": "s3-versioning",
        "policyPackName": "sre-platform",
        "enforcementLevel": "advisory",
    },
}


def _advisory_only_events(tmp_path: Path) -> Path:
    """A preview's events whose only finding is advisory: the engine lets it pass."""
    path = tmp_path / "advisory-events.jsonl"
    path.write_text(as_events(extra=[ADVISORY_EVENT], resource_changes={"update": 1}))
    return path


@pytest.fixture
def with_fake_pulumi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    def install(events: Path = RECORDED_EVENTS, **kwargs) -> Path:
        calls = install_fake_pulumi(
            tmp_path / "bin", stdout=RECORDED_PREVIEW, events=events, **kwargs
        )
        monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
        monkeypatch.setenv("PULUMI_HOME", str(tmp_path / "pulumi-home"))
        return calls

    return install


def _decision(changeset):
    assessment = assess(changeset, default_policy(), AssessmentContext(now=NOW))
    return decide(changeset, assessment, [], TicketRef("CHG-1", "local ledger", "proposed"))


@pytest.mark.slow
def test_the_preview_runs_the_policy_pack_with_a_saved_plan_and_keeps_policy_events(
    with_fake_pulumi, tmp_path: Path
) -> None:
    calls = with_fake_pulumi(events=_advisory_only_events(tmp_path))
    project = with_policy_pack(tmp_path / "project")
    plan = tmp_path / "plans" / "plan.json"
    changeset = run_preview(project, "dev", plan)
    assert changeset.summary == {"same": 15, "update": 1}
    assert [(v.policy, v.enforcement) for v in changeset.policy_violations] == [
        ("s3-versioning", "advisory")
    ]
    assert (changeset.failure, changeset.failures) == (None, ())
    assert plan.is_file()
    (preview,) = calls_of(calls, "preview")
    preview_call = preview["args"]
    assert "--json" in preview_call
    assert "--event-log" in preview_call  # engine events are watched for policy violations
    assert preview_call[preview_call.index("--save-plan") + 1] == str(plan)
    assert preview_call[preview_call.index("--stack") + 1] == "dev"
    assert preview_call[preview_call.index("--policy-pack") + 1] == str(project / "policies")


@pytest.mark.slow
def test_a_preview_the_engine_fails_on_mandatory_policies_keeps_the_violations(
    with_fake_pulumi, tmp_path: Path
) -> None:
    with_fake_pulumi()  # the recorded events: 10 violations, some mandatory; result failed
    project = with_policy_pack(tmp_path / "project")
    plan = tmp_path / "plans" / "plan.json"
    changeset = run_preview(project, "dev", plan)
    assert len(changeset.policy_violations) == 10
    assert {v.enforcement for v in changeset.policy_violations} == {"advisory", "mandatory"}
    assert changeset.failure is not None and "mandatory policy violations" in changeset.failure
    assert not plan.exists()  # Pulumi saves no plan for a failed preview
    codes = {reason.code for reason in _decision(changeset).reasons}
    assert {"blocked:mandatory-policy-violation", "preview-failed"} <= codes


@pytest.mark.slow
def test_a_failed_preview_closes_the_gate_and_says_why_without_secrets(
    with_fake_pulumi, tmp_path: Path
) -> None:
    with_fake_pulumi(fail="error: cannot connect to postgres://admin:hunter2hunter2@db:5432/app")
    project = with_policy_pack(tmp_path / "project")
    changeset = run_preview(project, "prod", tmp_path / "plan.json")
    assert changeset.changes == ()
    decision = _decision(changeset)
    (failed,) = [r for r in decision.reasons if r.code == "preview-failed"]
    assert not decision.open
    assert "postgres://admin:[secret]@db" in failed.message
    assert "hunter2hunter2" not in repr(changeset) + repr(decision)


@pytest.mark.slow
def test_a_preview_without_the_policy_pack_fails_closed(with_fake_pulumi, tmp_path: Path) -> None:
    with_fake_pulumi(events=_advisory_only_events(tmp_path))
    changeset = run_preview(tmp_path, "prod", tmp_path / "plan.json")  # no policies/ here
    assert changeset.failure is not None and "could not load policy pack" in changeset.failure
    assert not _decision(changeset).open


@pytest.mark.slow
def test_the_gate_runs_the_preview_itself_and_keeps_the_plan(
    with_fake_pulumi, git_project, tmp_path: Path
) -> None:
    with_fake_pulumi(events=_advisory_only_events(tmp_path))
    project = with_policy_pack(git_project())
    result = CliRunner().invoke(
        app, ["gate", "--project-dir", str(project), "--stack", "dev", "--format", "json"]
    )
    document = json.loads(result.stdout)
    assert result.exit_code in {0, 3}, result.output
    assert document["change"]["plan"] == str(
        project / ".sre" / "plans" / "dev" / f"{document['digest']}.json"
    )
    assert Path(document["change"]["plan"]).is_file()
    assert [v["policy"] for v in document["policy_violations"]] == ["s3-versioning"]
    assert "advisory-policy-violation" in {f["rule"] for f in document["risk"]["factors"]}


@pytest.mark.slow
def test_the_gate_names_the_violations_of_a_preview_the_engine_fails(
    with_fake_pulumi, git_project
) -> None:
    """``sre gate`` runs the preview itself; the engine refuses it (mandatory violations,
    exit 255, no plan): the gate closes, names the violations, and keeps no plan."""
    with_fake_pulumi()  # the recorded events: 10 violations, some mandatory; result failed
    project = with_policy_pack(git_project())
    gate = ["gate", "--project-dir", str(project), "--stack", "prod", "--format"]
    as_json = CliRunner().invoke(app, [*gate, "json"])
    assert as_json.exit_code == 3, as_json.output
    document = json.loads(as_json.stdout)
    codes = {reason["code"] for reason in document["decision"]["reasons"]}
    assert {"blocked:mandatory-policy-violation", "preview-failed"} <= codes
    mandatory = {
        v["policy"] for v in document["policy_violations"] if v["enforcement"] == "mandatory"
    }
    assert "always-fails-critical" in mandatory
    assert document["change"]["plan"] is None
    as_text = CliRunner().invoke(app, [*gate, "text"])
    assert as_text.exit_code == 3, as_text.output
    assert "always-fails-critical" in as_text.stdout and "Gate CLOSED" in as_text.stdout
    assert not [path for path in (project / ".sre" / "plans").rglob("*") if path.is_file()]


def test_without_the_cli_it_says_how_to_pass_a_preview(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(PulumiUnavailable, match="--preview preview.json"):
        run_preview(tmp_path, "prod", tmp_path / "plan.json")


def test_the_stand_in_ends_every_event_log_with_a_cancel_event_like_the_engine(
    tmp_path: Path,
) -> None:
    """The Automation API stops watching the log at the engine's closing cancel event; a
    log without one leaves it waiting (5 s) for more."""
    events = _advisory_only_events(tmp_path)
    assert "cancelEvent" not in events.read_text()
    install_fake_pulumi(tmp_path / "bin", stdout=RECORDED_PREVIEW, events=events)
    log = tmp_path / "engine-events.jsonl"
    subprocess.run(
        [str(tmp_path / "bin" / "pulumi"), "preview", "--json", "--event-log", str(log)],
        cwd=tmp_path,
        capture_output=True,
        check=True,
    )
    written = [json.loads(line) for line in log.read_text().splitlines()]
    assert written[:-1] == [json.loads(line) for line in events.read_text().splitlines()]
    assert written[-1] == {"sequence": 99, "timestamp": 2, "cancelEvent": {}}
