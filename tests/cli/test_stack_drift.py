"""``sre stack drift``: refresh preview expecting no changes, through the policy pack;
drift goes to the SRE channel (a loopback Mattermost webhook) and the ledger."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from change_mgmt.cli.app import app
from change_mgmt.ledger.records import ChangeState
from change_mgmt.ledger.store import Ledger
from tests.change_mgmt.notify.webhook_server import TOKEN, FakeWebhook
from tests.change_mgmt.preview.builders import as_events
from tests.change_mgmt.preview.test_parse import SAMPLES
from tests.fakes.pulumi_cli import calls_of, install_fake_pulumi, with_policy_pack

pytestmark = pytest.mark.slow

DRIFTED = SAMPLES / "digests" / "stratify-preview-update.json"  # 15 same, 1 update


@pytest.fixture
def project(git_project) -> Path:
    return with_policy_pack(git_project())


@pytest.fixture
def pulumi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    def install(stdout: Path = DRIFTED, **kwargs) -> Path:
        events = tmp_path / "events.jsonl"
        events.write_text(as_events(resource_changes={"same": 15, "update": 1}))
        calls = install_fake_pulumi(tmp_path / "bin", stdout=stdout, events=events, **kwargs)
        monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
        monkeypatch.setenv("PULUMI_HOME", str(tmp_path / "pulumi-home"))
        return calls

    return install


def _no_drift(tmp_path: Path) -> Path:
    """The recorded preview with its one update step made ``same``: nothing drifted."""
    document = json.loads(DRIFTED.read_text())
    for step in document["steps"]:
        step["op"] = "same"
    document["changeSummary"] = {"same": len(document["steps"])}
    path = tmp_path / "no-drift.json"
    path.write_text(json.dumps(document))
    return path


def _drift(project: Path, *args: str):
    return CliRunner().invoke(app, ["stack", "drift", "prod", *args, "--project-dir", str(project)])


def test_drift_is_posted_to_the_sre_channel_and_recorded_never_applied(
    project, pulumi, monkeypatch
) -> None:
    calls = pulumi()
    with FakeWebhook() as hook:
        monkeypatch.setenv("SRE_DRIFT_WEBHOOK_URL", hook.url)
        result = _drift(project, "--format", "json")
    assert result.exit_code == 1, result.output
    document = json.loads(result.stdout)
    assert document["schema"] == "sre-platform/stack-drift/v1"
    assert document["status"] == "drift" and document["notified"]
    assert [(d["op"], d["type"]) for d in document["drifted"]] == [
        ("update", "aws:lambda/function:Function")
    ]
    (message,) = hook.messages
    assert "Drift on stack `prod`" in message["text"] and "CHG-" in message["text"]
    record = Ledger.for_repository(project).get(document["change"]["id"])
    assert record.state is ChangeState.proposed and record.change_type == "normal"
    (preview,) = calls_of(calls, "preview")
    assert {"--refresh", "--expect-no-changes", "--json"} <= set(preview["args"])
    assert preview["args"][preview["args"].index("--policy-pack") + 1] == str(project / "policies")
    assert "--save-plan" not in preview["args"]
    assert calls_of(calls, "up") == []  # never applied
    assert TOKEN not in result.output


def test_no_drift_exits_0_and_tells_nobody(project, pulumi, tmp_path, monkeypatch) -> None:
    pulumi(stdout=_no_drift(tmp_path))
    with FakeWebhook() as hook:
        monkeypatch.setenv("SRE_DRIFT_WEBHOOK_URL", hook.url)
        result = _drift(project)
    assert result.exit_code == 0, result.output
    assert "no drift" in result.stdout and hook.requests == []
    assert Ledger.for_repository(project).list() == []


def test_a_failed_or_empty_preview_is_not_no_drift(project, pulumi, tmp_path) -> None:
    pulumi(fail="error: cannot assume role arn:aws:iam::1:role/previewer")
    failed = _drift(project, "--format", "json")
    assert failed.exit_code == 1
    assert json.loads(failed.stdout)["status"] == "failed"
    empty = tmp_path / "empty.json"
    empty.write_text("{}")
    pulumi(stdout=empty)
    silent = _drift(project, "--format", "json")
    assert silent.exit_code == 1
    assert json.loads(silent.stdout)["status"] == "failed"


def test_a_webhook_that_is_down_fails_the_run_without_leaking_its_url(
    project, pulumi, monkeypatch
) -> None:
    pulumi()
    with FakeWebhook() as hook:
        hook.fail_next(503)
        monkeypatch.setenv("SRE_DRIFT_WEBHOOK_URL", hook.url)
        result = _drift(project)
    assert result.exit_code == 1
    assert "not told" in result.stdout and "503" in result.stdout
    assert TOKEN not in result.output


def test_bad_input_exits_2(project, pulumi, monkeypatch) -> None:
    pulumi()
    unknown = CliRunner().invoke(app, ["stack", "drift", "env-demo", "--project-dir", str(project)])
    assert unknown.exit_code == 2 and "not a platform stack" in unknown.output
    monkeypatch.setenv("SRE_DRIFT_WEBHOOK_URL", f"http://chat.example.com/hooks/{TOKEN}")
    insecure = _drift(project)
    assert insecure.exit_code == 2 and TOKEN not in insecure.output
