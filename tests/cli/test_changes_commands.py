"""``sre changes`` through typer's runner on a throwaway git checkout: output, exit codes."""

from __future__ import annotations

import json
import re
import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from change_mgmt.cli import changes
from change_mgmt.cli.app import app as sre_app
from change_mgmt.ledger import ApprovalDecision, ChangeRecord, ChangeState, Ledger
from change_mgmt.tickets.outbox import Outbox
from tests.change_mgmt.preview.builders import preview_json, step
from tests.conftest import NOW, git

runner = CliRunner()

root = typer.Typer()
root.add_typer(changes.app, name="changes")


@root.callback()
def _root() -> None:
    """Stands in for the ``sre`` root app."""


REVIEWER = "reviewer@example.com"
AUTHOR = "author@example.com"
RECORD_KEYS = [
    "id",
    "stack",
    "digest",
    "state",
    "risk_level",
    "risk_score",
    "change_type",
    "author",
    "commit",
    "emergency_reason",
    "ticket_key",
    "ticket",
    "what_if_only",
    "summary",
    "state_times",
    "created_at",
    "updated_at",
    "review_due_at",
    "reviewed_at",
    "reviewer",
    "review_notes",
    "evidence",
]


def make_project(directory: Path) -> Path:
    directory.mkdir()
    (directory / "Pulumi.yaml").write_text("name: sre-platform\nruntime: python\n")
    git(directory, "init", "-q", "-b", "main")
    git(directory, "config", "user.email", REVIEWER)
    return directory


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A git checkout made once per module; each test works on a copy."""
    return make_project(tmp_path_factory.mktemp("template") / "project")


@pytest.fixture
def project(tmp_path: Path, template: Path) -> Path:
    return Path(shutil.copytree(template, tmp_path / "project"))


def _env(project: Path) -> dict[str, str]:
    home = project.parent / "home"
    home.mkdir(exist_ok=True)
    return {
        "SRE_PROJECT_DIR": str(project),
        "COLUMNS": "200",
        # Only the repository's own git config counts, not the machine's.
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": str(home / "gitconfig"),
    }


def sre(project: Path, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(root, ["changes", *args], env=_env(project))
    return result.exit_code, result.stdout, result.stderr


def gate(project: Path, *args: str) -> tuple[int, str, str]:
    """The real ``sre gate`` (the whole app) on ``project``, authored by AUTHOR."""
    result = runner.invoke(
        sre_app, ["gate", "--stack", "prod", "--author", AUTHOR, *args], env=_env(project)
    )
    return result.exit_code, result.stdout, result.stderr


def propose(project: Path, n: int, **overrides: Any) -> ChangeRecord:
    values: dict[str, Any] = {
        "risk_level": "high",
        "risk_score": 72,
        "change_type": "normal",
        "author": AUTHOR,
        "commit": "0123abcd",
        "summary": {"update": 2, "replace": 1},
        "now": NOW + timedelta(hours=n),
        **overrides,
    }
    stack = values.pop("stack", "prod-observability")
    return Ledger.for_repository(project).propose(stack, f"{n:x}" * 64, **values)


@pytest.fixture(scope="module")
def seeded_ledger(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[ChangeRecord]]:
    """Three changes: #1 applied with Jira ticket OPS-7, #2 proposed on staging, #3 proposed."""
    project = tmp_path_factory.mktemp("seeded")
    ledger = Ledger.for_repository(project)
    first = propose(project, 1)
    ledger.set_ticket(first.id, "OPS-7", now=NOW + timedelta(hours=1))
    for i, state in enumerate((ChangeState.approved, ChangeState.applying, ChangeState.applied)):
        ledger.transition(first.id, state, now=NOW + timedelta(hours=2, minutes=i))
    second = propose(project, 2, stack="staging-observability", risk_level="low", risk_score=5)
    third = propose(project, 3, author=None)
    return project / ".sre", [ledger.get(first.id), second, third]


@pytest.fixture
def seeded(project: Path, seeded_ledger: tuple[Path, list[ChangeRecord]]) -> list[ChangeRecord]:
    """The seeded ledger, copied into the test's project."""
    directory, records = seeded_ledger
    shutil.copytree(directory, project / ".sre")
    return records


def test_help_documents_the_exit_codes(project: Path) -> None:
    code, stdout, _ = sre(project, "--help")
    assert code == 0
    assert "Exit codes: 0 success; 1" in stdout and "2 bad input" in stdout


def test_list_shows_a_table_newest_first(project: Path, seeded: list[ChangeRecord]) -> None:
    code, stdout, stderr = sre(project, "list")
    assert code == 0, stderr
    rows = [
        [cell.strip() for cell in line.strip("│").split("│")]
        for line in stdout.splitlines()
        if line.startswith("│")
    ]
    assert [row[0] for row in rows] == ["3", "2", "1"]
    applied = rows[2]
    assert applied == [
        "1",
        "prod-observability",
        "applied",
        "high (72)",
        "normal",
        "1" * 12,
        AUTHOR,
        "OPS-7",
        "-",
        "2026-11-27 02:02 UTC",
    ]
    assert rows[0][6:8] == ["-", "CHG-3"]  # no author; without Jira the ledger id is the ticket
    assert "3 change record(s)" in stderr


def test_list_as_json_has_stable_keys_and_full_digests(
    project: Path, seeded: list[ChangeRecord]
) -> None:
    code, stdout, _ = sre(project, "list", "--format", "json")
    assert code == 0
    records = json.loads(stdout)
    assert [r["id"] for r in records] == [3, 2, 1]
    assert all(list(r) == RECORD_KEYS for r in records)
    applied = records[2]
    assert applied["digest"] == "1" * 64
    assert applied["state"] == "applied" and applied["ticket_key"] == applied["ticket"] == "OPS-7"
    assert (records[0]["ticket_key"], records[0]["ticket"]) == (None, "CHG-3")
    assert applied["state_times"] == {
        "proposed": "2026-11-27T01:00:00Z",
        "approved": "2026-11-27T02:00:00Z",
        "applying": "2026-11-27T02:01:00Z",
        "applied": "2026-11-27T02:02:00Z",
    }
    assert applied["summary"] == {"replace": 1, "update": 2}
    assert records[0]["author"] is None


@pytest.mark.parametrize(
    ("args", "ids"),
    [
        (("--stack", "staging-observability"), [2]),
        (("--state", "proposed"), [3, 2]),
        (("--state", "applied", "--state", "proposed"), [3, 2, 1]),
        (("--since", "2026-11-27T02:00:00Z"), [3, 2]),
        (("--since", "2026-11-28"), []),
        (("--stack", "prod-observability", "--state", "proposed"), [3]),
    ],
)
def test_list_filters(
    project: Path, seeded: list[ChangeRecord], args: tuple[str, ...], ids: list[int]
) -> None:
    code, stdout, _ = sre(project, "list", *args, "-f", "json")
    assert code == 0
    assert [r["id"] for r in json.loads(stdout)] == ids


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--since", "last week"), "not a date; use YYYY-MM-DD"),
        (("--state", "done"), "'done' is not one of"),
        (("--format", "yaml"), "'yaml' is not one of"),
    ],
)
def test_list_rejects_bad_option_values_with_exit_2(
    project: Path, seeded: list[ChangeRecord], args: tuple[str, ...], message: str
) -> None:
    code, _, stderr = sre(project, "list", *args)
    assert code == 2
    assert message in stderr


def test_list_without_a_ledger_creates_nothing(project: Path) -> None:
    code, stdout, stderr = sre(project, "list")
    assert (code, stdout) == (0, "")
    assert "no change records yet" in stderr
    code, stdout, _ = sre(project, "list", "--format", "json")
    assert (code, json.loads(stdout)) == (0, [])
    assert not (project / ".sre").exists()


def test_show_prints_every_state_time(project: Path, seeded: list[ChangeRecord]) -> None:
    code, stdout, stderr = sre(project, "show", "1")
    assert code == 0, stderr
    assert "change 1" in stdout and "1" * 64 in stdout
    assert "ticket:     OPS-7" in stdout and "operations: replace 1, update 2" in stdout
    for state, time in [
        ("proposed", "01:00"),
        ("approved", "02:00"),
        ("applying", "02:01"),
        ("applied", "02:02"),
    ]:
        assert f"{state + ':':<12}2026-11-27 {time} UTC" in stdout
    assert "failed:" not in stdout
    assert "local approvals (unsigned)\n  none" in stdout


def test_show_as_json(project: Path, seeded: list[ChangeRecord]) -> None:
    code, stdout, _ = sre(project, "show", "1", "--format", "json")
    assert code == 0
    shown = json.loads(stdout)
    assert list(shown) == [*RECORD_KEYS, "history", "approvals"]
    assert shown["id"] == 1 and shown["state"] == "applied"
    assert [(h["from"], h["to"]) for h in shown["history"]] == [
        (None, "proposed"),
        ("proposed", "approved"),
        ("approved", "applying"),
        ("applying", "applied"),
    ]
    assert shown["approvals"] == []


@pytest.mark.parametrize("command", ["show", "approve"])
def test_an_unknown_id_fails_with_exit_1(
    project: Path, seeded: list[ChangeRecord], command: str
) -> None:
    extra = ("--reason", "ok") if command == "approve" else ()
    code, stdout, stderr = sre(project, command, "99", *extra)
    assert code == 1
    assert "no change record 99; see `sre changes list`" in stderr
    assert stdout == ""


def test_show_without_a_ledger_is_an_unknown_id(project: Path) -> None:
    code, _, stderr = sre(project, "show", "1")
    assert code == 1 and "no change record 1" in stderr


def test_approve_records_a_local_approval_with_a_warning(
    project: Path, seeded: list[ChangeRecord]
) -> None:
    code, stdout, stderr = sre(project, "approve", "3", "--reason", "checked the diff")
    assert code == 0, stderr
    assert "local approvals are unsigned" in stderr and "no approvers.yaml" in stderr
    assert (
        f"approved change 3 (CHG-3, stack prod-observability, digest {'3' * 12}) as {REVIEWER}"
        in stdout
    )
    (approval,) = Ledger.for_repository(project).approvals("prod-observability", "3" * 64)
    assert (approval.approver, approval.decision) == (REVIEWER, ApprovalDecision.approve)
    assert approval.reason == "checked the diff"
    shown = json.loads(sre(project, "show", "3", "-f", "json")[1])
    assert [(a["approver"], a["decision"]) for a in shown["approvals"]] == [(REVIEWER, "approve")]
    assert shown["state"] == "proposed"  # approving does not move the change
    code, stdout, _ = sre(project, "approve", "3", "--reject", "--reason", "wrong window")
    assert code == 0 and "rejected change 3" in stdout
    (approval,) = Ledger.for_repository(project).approvals("prod-observability", "3" * 64)
    assert approval.decision is ApprovalDecision.reject


def test_the_author_cannot_approve_their_own_change(
    project: Path, seeded: list[ChangeRecord]
) -> None:
    git(project, "config", "user.email", AUTHOR.upper())
    code, stdout, stderr = sre(project, "approve", "2", "--reason", "lgtm")
    assert code == 1
    assert "four eyes: the author of a change cannot approve it" in stderr
    assert stdout == ""
    assert Ledger.for_repository(project).approvals("staging-observability", "2" * 64) == []


def test_approve_needs_a_git_identity(project: Path, seeded: list[ChangeRecord]) -> None:
    git(project, "config", "--unset", "user.email")
    code, _, stderr = sre(project, "approve", "2", "--reason", "lgtm")
    assert code == 1
    assert "no approver identity: `git config user.email` is not set" in stderr


def test_an_applied_change_cannot_be_approved(project: Path, seeded: list[ChangeRecord]) -> None:
    code, _, stderr = sre(project, "approve", "1", "--reason", "late")
    assert code == 1 and "change 1 (OPS-7) is applied" in stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("2", "--reason", "  "), "must not be empty"),
        (("2",), "Missing option '--reason'"),
        (("zero", "--reason", "x"), "'zero' is not a change: give its id (4), its ledger"),
        (("0", "--reason", "x"), "'0' is not a change"),
    ],
)
def test_approve_rejects_bad_input_with_exit_2(
    project: Path, seeded: list[ChangeRecord], args: tuple[str, ...], message: str
) -> None:
    code, _, stderr = sre(project, "approve", *args)
    assert code == 2
    assert message in stderr


def test_a_corrupt_ledger_is_one_readable_error(project: Path) -> None:
    (project / ".sre").mkdir()
    (project / ".sre" / "ledger.sqlite3").write_text("garbage " * 200)
    code, stdout, stderr = sre(project, "list")
    assert code == 1 and stdout == ""
    assert "not a readable sre ledger" in stderr and "Traceback" not in stderr


def test_overdue_reviews_are_listed_and_can_be_recorded(project: Path) -> None:
    long_ago = NOW - timedelta(days=10)
    late = propose(
        project,
        1,
        change_type="emergency",
        emergency_reason="outage",
        now=long_ago,
        review_due_at=long_ago + timedelta(hours=48),
    )
    propose(project, 2)
    code, stdout, stderr = sre(project, "list")
    assert code == 0 and "OVERDUE" in stdout and "1 review(s) overdue" in stderr
    code, stdout, _ = sre(project, "list", "--overdue", "--format", "json")
    assert [r["id"] for r in json.loads(stdout)] == [late.id]
    code, stdout, _ = sre(project, "review", str(late.id), "--notes", "log rotation was off")
    assert code == 0 and f"reviewed emergency change {late.id} (CHG-1) as {REVIEWER}" in stdout
    code, stdout, _ = sre(project, "list", "--overdue", "--format", "json")
    assert json.loads(stdout) == []
    code, stdout, _ = sre(project, "show", str(late.id))
    assert "done by reviewer@example.com" in stdout and "log rotation was off" in stdout


def test_the_author_cannot_review_their_own_emergency_change(project: Path) -> None:
    record = propose(
        project,
        1,
        author=REVIEWER,
        change_type="emergency",
        emergency_reason="outage",
        review_due_at=NOW,
    )
    code, _, stderr = sre(project, "review", str(record.id), "--notes", "self")
    assert code == 1 and "four eyes" in stderr


# -- one identity per change, accepted wherever it is printed ------------------------------


@pytest.mark.parametrize(
    ("name", "change_id"), [("3", 3), ("CHG-3", 3), ("chg-3", 3), ("OPS-7", 1), ("CHG-1", 1)]
)
def test_show_accepts_every_printed_name(
    project: Path, seeded: list[ChangeRecord], name: str, change_id: int
) -> None:
    code, stdout, stderr = sre(project, "show", name, "--format", "json")
    assert code == 0, stderr
    assert json.loads(stdout)["id"] == change_id


def test_approve_review_and_rolled_back_accept_the_ticket(project: Path) -> None:
    emergency = propose(
        project, 1, change_type="emergency", emergency_reason="outage", review_due_at=NOW
    )
    Ledger.for_repository(project).set_ticket(emergency.id, "OPS-9", now=NOW)
    propose(project, 2)
    assert sre(project, "approve", "CHG-2", "--reason", "checked")[0] == 0
    code, stdout, _ = sre(project, "review", "OPS-9", "--notes", "disk alarms added")
    assert code == 0 and "reviewed emergency change 1 (OPS-9)" in stdout
    ledger = Ledger.for_repository(project)
    for state in (ChangeState.applying, ChangeState.applied):
        ledger.transition(emergency.id, state, now=NOW)
    code, stdout, _ = sre(project, "rolled-back", "ops-9")
    assert code == 0 and "change 1 (OPS-9) marked rolled back" in stdout
    assert [a.approver for a in ledger.approvals("prod-observability", "2" * 64)] == [REVIEWER]


BAD_NAMES = ["CHG-x", "0", "-1", "1; rm -rf", "9" * 5000]
COMMAND_ARGS = {
    "show": (),
    "approve": ("--reason", "ok"),
    "review": ("--notes", "ok"),
    "rolled-back": (),
}


@pytest.mark.parametrize("command", sorted(COMMAND_ARGS))
@pytest.mark.parametrize("name", BAD_NAMES, ids=lambda n: n[:10])
def test_a_name_that_is_no_change_is_a_clear_exit_2(
    project: Path, seeded: list[ChangeRecord], command: str, name: str
) -> None:
    code, stdout, stderr = sre(project, command, *COMMAND_ARGS[command], "--", name)
    assert (code, stdout) == (2, ""), stderr
    assert "is not a change: give its id (4), its ledger ticket (CHG-4)" in stderr
    assert "validation error" not in stderr and "Traceback" not in stderr
    assert len(stderr) < 400


def test_a_name_that_fits_two_changes_is_an_exit_2(project: Path) -> None:
    propose(project, 1)
    propose(project, 2)
    Ledger.for_repository(project).set_ticket(2, "CHG-1", now=NOW)  # a Jira project "CHG"
    code, _, stderr = sre(project, "show", "CHG-1")
    assert code == 2 and "CHG-1 names changes 1 and 2; give the plain id instead" in stderr


def _preview(project: Path) -> str:
    path = project.parent / "preview.json"
    path.write_text(preview_json(step("update", "aws:s3/bucket:Bucket", "logs", new={"a": 1})))
    return str(path)


def test_the_ticket_the_gate_prints_is_the_one_sre_changes_shows_and_accepts(
    project: Path,
) -> None:
    code, stdout, stderr = gate(project, "--preview", _preview(project))
    assert code in {0, 3}, stderr
    (ticket,) = re.findall(r"^Changes: .* · ticket (\S+)$", stdout, re.MULTILINE)
    assert ticket == "CHG-1"
    code, stdout, stderr = sre(project, "show", ticket)
    assert code == 0, stderr
    assert "change 1 (CHG-1)" in stdout and "ticket:     CHG-1" in stdout
    rows = [line for line in sre(project, "list")[1].splitlines() if line.startswith("│")]
    assert "│ CHG-1 " in rows[0]


def test_an_emergency_regated_as_normal_can_still_be_reviewed(project: Path) -> None:
    preview = _preview(project)
    code, _, stderr = gate(project, "--preview", preview, "--emergency", "--reason", "disk full")
    assert code in {0, 3}, stderr
    code, _, stderr = gate(project, "--preview", preview)
    assert code in {0, 3}, stderr
    (record,) = json.loads(sre(project, "list", "--format", "json")[1])
    assert (record["change_type"], record["emergency_reason"]) == ("emergency", "disk full")
    assert record["review_due_at"] is not None
    code, stdout, stderr = sre(project, "review", "CHG-1", "--notes", "alarms added")
    assert code == 0, stderr
    assert "reviewed emergency change 1 (CHG-1)" in stdout


def test_a_what_if_gate_leaves_the_recorded_assessment_alone(project: Path) -> None:
    preview = _preview(project)
    assert gate(project, "--preview", preview)[0] in {0, 3}
    assessment = ("risk_level", "risk_score", "change_type", "emergency_reason", "review_due_at")
    before = json.loads(sre(project, "show", "CHG-1", "--format", "json")[1])
    code, _, stderr = gate(
        project,
        "--preview",
        preview,
        "--at",
        "2026-11-28T03:00:00+00:00",  # a Saturday night, as an emergency: all different
        "--emergency",
        "--reason",
        "what if it breaks at night",
    )
    assert code in {0, 3}, stderr
    after = json.loads(sre(project, "show", "CHG-1", "--format", "json")[1])
    assert {key: after[key] for key in assessment} == {key: before[key] for key in assessment}
    assert after["what_if_only"] is False


def test_a_what_if_that_opens_the_gate_does_not_approve_the_record(project: Path) -> None:
    # Inside the change window a low-risk update opens the gate; as a what-if that opening
    # is hypothetical, so the record stays proposed (no approval, no ticket transition).
    preview = project.parent / "configmap.json"
    preview.write_text(preview_json(step("update", "kubernetes:core/v1:ConfigMap", "flags")))
    code, stdout, stderr = gate(
        project, "--preview", str(preview), "--at", "2026-11-27T10:00:00+00:00"
    )
    assert code == 0, stdout + stderr
    shown = json.loads(sre(project, "show", "CHG-1", "--format", "json")[1])
    assert shown["state"] == "proposed"
    assert shown["what_if_only"] is True


def test_show_says_when_only_what_ifs_assessed_a_change(project: Path) -> None:
    propose(project, 1, what_if=True)
    code, stdout, stderr = sre(project, "show", "CHG-1")
    assert code == 0, stderr
    assert "assessed:   what-if only (sre gate --at); no real gate run yet" in stdout
    assert json.loads(sre(project, "show", "1", "-f", "json")[1])["what_if_only"] is True


def test_sync_with_nothing_to_do_exits_0_and_creates_nothing(project: Path) -> None:
    code, _, stderr = sre(project, "sync")
    assert code == 0, stderr
    assert "nothing to sync" in stderr
    assert not (project / ".sre").exists()


def test_sync_without_jira_fails_while_updates_are_queued(project: Path) -> None:
    Outbox.for_repository(project).enqueue("transition", "OPS-7", {"to": "applied"}, now=NOW)
    code, _, stderr = sre(project, "sync")
    assert code == 1
    assert "1 ticket update(s) queued" in stderr and "no Jira is configured" in stderr


def test_sync_with_invalid_jira_settings_is_invalid_input(project: Path) -> None:
    env = {**_env(project), "SRE_JIRA_URL": "http://jira.example.com"}
    result = runner.invoke(root, ["changes", "sync"], env=env)
    assert result.exit_code == 2
    assert "SRE_JIRA_URL" in result.stderr and "Traceback" not in result.stderr
