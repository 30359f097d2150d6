"""The gate with Jira configured: one ticket per change, fail closed, nothing lost."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from change_mgmt.cli.app import app
from change_mgmt.ledger.records import ChangeState
from change_mgmt.ledger.store import Ledger
from tests.change_mgmt.ledger_dynamodb.moto import LEDGER_KINDS, select_ledger
from tests.change_mgmt.preview.builders import preview_json, step
from tests.conftest import REPO_ROOT, open_change_window
from tests.fakes.jira import DEFAULT_API_TOKEN, FakeJira, Fault

runner = CliRunner()
ROLLOUT = REPO_ROOT / "examples" / "previews" / "routine-rollout.json"


# The whole flow (gate, ticket, approvals, up, outbox) on SQLite and on DynamoDB.
@pytest.fixture(autouse=True, params=LEDGER_KINDS)
def ledger_kind(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    return select_ledger(request.param, monkeypatch)


@pytest.fixture
def jira() -> Iterator[FakeJira]:
    with FakeJira.cloud() as fake:
        yield fake


def _gate(project: Path, jira: FakeJira, preview: Path = ROLLOUT) -> tuple[int, dict]:
    result = runner.invoke(
        app,
        [
            "gate",
            "--project-dir",
            str(project),
            "--stack",
            "prod",
            "--preview",
            str(preview),
            "--format",
            "json",
        ],
        env=jira.sre_env(),
    )
    return result.exit_code, json.loads(result.stdout)


def test_the_gate_opens_a_ticket_once_and_moves_it_when_open(git_project, jira: FakeJira) -> None:
    project = git_project()
    open_change_window(project)
    code, first = _gate(project, jira)
    assert code == 0, first["decision"]
    ticket = first["ticket"]
    assert ticket["source"] == "jira" and ticket["key"].startswith("OPS-")
    issue = jira.issue(ticket["key"])
    assert issue.status == "Approved"  # the open gate's transition was delivered
    assert "sre-gate" in issue.values["labels"]
    assert DEFAULT_API_TOKEN not in json.dumps(first)
    code, second = _gate(project, jira)
    assert second["ticket"]["key"] == ticket["key"]
    assert len(jira.requests_to("POST", r"/rest/api/2/issue")) == 1


@pytest.mark.slow  # the client's real backoff on 503
def test_no_ticket_no_production_change(git_project, jira: FakeJira) -> None:
    # Retry-After: 0 lets the client's real retries run without waiting out its back-off
    jira.inject(Fault.unavailable("0", times=50))
    project = git_project()
    open_change_window(project)
    code, document = _gate(project, jira)
    assert code == 3
    assert "no-ticket" in {r["code"] for r in document["decision"]["reasons"]}
    assert document["ticket"]["key"] is None and "no Jira ticket" in document["ticket"]["problem"]


def test_ticket_updates_wait_in_the_outbox_until_jira_is_back(git_project, jira: FakeJira) -> None:
    project = git_project()
    open_change_window(project)
    jira.inject(Fault.unavailable("0", times=20, method="POST", path=r"/transitions$"))
    code, document = _gate(project, jira)
    key = document["ticket"]["key"]
    assert code == 0 and jira.issue(key).status == "Awaiting approval"
    down = runner.invoke(
        app, ["changes", "sync", "--project-dir", str(project)], env=jira.sre_env()
    )
    assert down.exit_code == 1 and "still queued 1" in down.stdout, down.output
    jira.faults.clear()
    synced = runner.invoke(
        app, ["changes", "sync", "--project-dir", str(project)], env=jira.sre_env()
    )
    assert synced.exit_code == 0, synced.output
    assert jira.issue(key).status == "Approved"


def test_jira_service_management_approvals_count_when_the_policy_says_so(
    git_project, jira: FakeJira, tmp_path: Path
) -> None:
    project = git_project()
    (project / "risk-policy.yaml").write_text("approvals:\n  count_jira_service_management: true\n")
    bucket = tmp_path / "bucket.json"
    bucket.write_text(
        preview_json(step("create", "aws:s3/bucket:Bucket", "audit-logs", new={"bucket": "x"}))
    )
    saturday = ["--at", "2026-11-28T10:00:00+00:00"]  # outside the window: medium, one approval
    args = [
        "gate",
        "--project-dir",
        str(project),
        "--stack",
        "prod",
        "--preview",
        str(bucket),
        "--format",
        "json",
    ]
    first = json.loads(runner.invoke(app, [*args, *saturday], env=jira.sre_env()).stdout)
    key = first["ticket"]["key"]
    assert first["risk"]["level"] == "medium" and first["decision"]["open"] is False
    jira.decide_approval(key, "approved")  # the Change workflow's own approval step
    jira.issue(key).approvals[0].completed = datetime.now(UTC) + timedelta(minutes=1)
    second = runner.invoke(app, [*args, *saturday], env=jira.sre_env())
    document = json.loads(second.stdout)
    assert second.exit_code == 0, document["decision"]["reasons"]
    (approval,) = document["approvals"]["present"]
    assert (approval["source"], approval["counts"]) == ("jira service management", True)


def test_emergencies_are_flagged_and_the_pull_request_is_linked(
    git_project, jira: FakeJira
) -> None:
    env = {**jira.sre_env(), "SRE_PR_URL": "https://git.example.com/infra/pull/42"}
    result = runner.invoke(
        app,
        [
            "gate",
            "--project-dir",
            str(git_project()),
            "--stack",
            "prod",
            "--preview",
            str(ROLLOUT),
            "--format",
            "json",
            "--emergency",
            "--reason",
            "pager: chat is down",
        ],
        env=env,
    )
    issue = jira.issue(json.loads(result.stdout)["ticket"]["key"])
    assert "sre-emergency" in issue.values["labels"]
    assert [link.object["url"] for link in issue.remote_links] == [
        "https://git.example.com/infra/pull/42"
    ]


def test_a_rollback_reaches_the_ticket(git_project, jira: FakeJira) -> None:
    project = git_project()
    open_change_window(project)
    code, document = _gate(project, jira)
    assert code == 0
    change_id, key = document["change"]["id"], document["ticket"]["key"]
    ledger = Ledger.for_repository(project)
    now = datetime.now(UTC)
    ledger.transition(change_id, ChangeState.applying, now=now)
    ledger.transition(change_id, ChangeState.applied, now=now)
    result = runner.invoke(
        app,
        ["changes", "rolled-back", str(change_id), "--project-dir", str(project)],
        env=jira.sre_env(),
    )
    assert result.exit_code == 0, result.output
    assert jira.issue(key).status == "Rolled back"
    assert ledger.get(change_id).state == ChangeState.rolled_back


def test_the_lifecycle_on_data_center_with_the_repository_settings_and_pr_plans(
    git_project, ssh_keys
) -> None:
    project = git_project()
    open_change_window(project)
    (project / "jira.yaml").write_text("fields:\n  test_plan: null\n")
    body = "## Implementation plan\nRoll the deployments one by one.\n## Backout plan\nRedeploy 10.2.1.\n"
    with FakeJira.data_center() as jira:
        env = {**jira.sre_env(), "SRE_PR_BODY": body}
        args = [
            "gate",
            "--project-dir",
            str(project),
            "--stack",
            "prod",
            "--preview",
            str(ROLLOUT),
            "--format",
            "json",
        ]
        first = json.loads(runner.invoke(app, args, env=env).stdout)
        key = first["ticket"]["key"]
        assert first["decision"]["open"] is True and jira.issue(key).status == "Approved"
        again = json.loads(runner.invoke(app, args, env=env).stdout)
        assert again["ticket"]["key"] == key
        assert len(jira.requests_to("POST", r"/rest/api/2/issue")) == 1
        described = json.dumps(jira.issue(key).values)
        assert "Roll the deployments one by one." in described and "Redeploy 10.2.1." in described
        ledger = Ledger.for_repository(project)
        now = datetime.now(UTC)
        ledger.transition(first["change"]["id"], ChangeState.applying, now=now)
        moved = ledger.transition(first["change"]["id"], ChangeState.applied, now=now)
        result = runner.invoke(
            app, ["changes", "rolled-back", str(moved.id), "--project-dir", str(project)], env=env
        )
        assert result.exit_code == 0
        synced = runner.invoke(app, ["changes", "sync", "--project-dir", str(project)], env=env)
        assert synced.exit_code == 0
        assert jira.issue(key).status == "Rolled back"
