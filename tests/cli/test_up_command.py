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
from change_mgmt.receipts import ReceiptError, verify_receipt
from tests.change_mgmt.ledger_dynamodb.moto import LEDGER_KINDS, select_ledger
from tests.conftest import REPO_ROOT
from tests.fakes.pulumi_cli import SECRET_OUTPUT, calls_of, install_fake_pulumi, with_policy_pack

pytestmark = pytest.mark.slow
EXAMPLES = REPO_ROOT / "examples" / "previews"
# org/stack: qualified with the project of Pulumi.yaml, no question to Pulumi needed.
STACK = "acme/prod"
FULL_NAME = "acme/sre-platform/prod"


# The whole flow (gate, ticket, approvals, up, outbox) on SQLite and on DynamoDB.
@pytest.fixture(autouse=True, params=LEDGER_KINDS)
def ledger_kind(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    return select_ledger(request.param, monkeypatch)


@pytest.fixture
def setup(tmp_path: Path, git_project, ssh_keys, monkeypatch: pytest.MonkeyPatch):
    project = with_policy_pack(git_project())
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


def _up(project: Path, *args: str, stack: str = STACK):
    return CliRunner().invoke(
        app, ["up", "--project-dir", str(project), "--stack", stack, "--json", *args]
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
    plan = Path(args[args.index("--plan") + 1])
    assert str(plan) == document["change"]["plan"]
    assert args[args.index("--stack") + 1] == FULL_NAME  # the stack the receipt names
    receipt = verify_receipt(
        str(up["receipt"]), stack=FULL_NAME, plan=plan, signers=signers, now=datetime.now(UTC)
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
    result = CliRunner().invoke(app, ["up", "--project-dir", str(project), "--stack", STACK])
    assert result.exit_code == 1
    assert f"The update of {STACK} failed" in result.stdout and "What to do" in result.stdout
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


def test_stack_outputs_are_never_fetched_with_their_secrets(setup) -> None:
    """``Stack.up()`` asks for ``stack output --show-secrets``; ``sre up`` never lets it."""
    project, install, _ = setup
    calls = install("routine-rollout.json")
    result = _up(project)
    assert result.exit_code == 0, result.output
    logged = [call["args"] for call in calls_of(calls, "stack")]
    assert any(args[:2] == ["stack", "history"] for args in logged)  # the summary was read
    assert not [args for args in logged if "--show-secrets" in args]


def test_a_bare_stack_name_is_named_in_full_by_pulumi_and_so_is_the_receipt(setup) -> None:
    project, install, signers = setup
    calls = install("routine-rollout.json")
    result = _up(project, stack="prod")
    assert result.exit_code == 0, result.output
    (named,) = [call["args"] for call in calls_of(calls, "stack") if "--show-name" in call["args"]]
    assert "--fully-qualify-stack-names" in named and named[named.index("--stack") + 1] == "prod"
    full_name = "organization/sre-platform/prod"  # the backend's default organization
    (up,) = calls_of(calls, "up")
    args = up["args"]
    assert args[args.index("--stack") + 1] == full_name
    plan, now = Path(args[args.index("--plan") + 1]), datetime.now(UTC)
    verify_receipt(str(up["receipt"]), stack=full_name, plan=plan, signers=signers, now=now)
    for other in ("prod", "acme/sre-platform/prod"):  # bound to that one name, no other
        with pytest.raises(ReceiptError):
            verify_receipt(str(up["receipt"]), stack=other, plan=plan, signers=signers, now=now)


@pytest.mark.parametrize("output", [["--json"], []], ids=["json", "text"])
def test_a_secret_output_never_reaches_what_sre_up_prints_or_the_ledger(
    setup, output: list[str], ledger_kind: str
) -> None:
    project, install, _ = setup
    calls = install("routine-rollout.json")
    result = CliRunner().invoke(
        app, ["up", "--project-dir", str(project), "--stack", STACK, *output]
    )
    assert result.exit_code == 0, result.output
    assert "dbPassword: [secret]" in result.stderr  # the engine's output is shown, masked
    assert SECRET_OUTPUT not in result.stdout + result.stderr
    kept = [path for path in (project / ".sre").rglob("*") if path.is_file()]
    assert not [path for path in kept if SECRET_OUTPUT.encode() in path.read_bytes()]
    if ledger_kind == "sqlite":
        assert Ledger.path_in(project) in kept
    else:  # every item of the shared table, as DynamoDB stores it
        ledger = Ledger.for_repository(project)
        items = ledger.table.client.scan(TableName=ledger.table.name)["Items"]  # type: ignore[attr-defined]
        assert items and SECRET_OUTPUT not in json.dumps(items)
        assert not Ledger.path_in(project).exists()
    assert not [call for call in calls.read_text().splitlines() if "--show-secrets" in call]


@pytest.mark.parametrize(
    ("stack", "message"),
    [
        ("acme/other-project/prod", "is not a stack of project 'sre-platform'"),
        ("a/b/c/prod", "is not a stack of project 'sre-platform'"),
        ("/prod", "is not a stack of project 'sre-platform'"),
    ],
)
def test_a_stack_that_cannot_be_named_in_full_runs_nothing(setup, stack, message) -> None:
    project, install, _ = setup
    calls = install("routine-rollout.json")
    result = _up(project, stack=stack)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert calls_of(calls, "preview") == [] and calls_of(calls, "up") == []
