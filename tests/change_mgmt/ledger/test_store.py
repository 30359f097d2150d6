"""The ledger in one process: records, states, approvals, files that are not ledgers, migrations."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from change_mgmt import sqlite as shared_sqlite
from change_mgmt.errors import SreError
from change_mgmt.ledger import (
    SCHEMA_VERSION,
    TRANSITIONS,
    ApprovalDecision,
    ChangeNotFoundError,
    ChangeRecord,
    ChangeState,
    IllegalTransitionError,
    Ledger,
    LedgerError,
    store,
)
from tests.conftest import NOW, git

DIGEST = "a" * 64
OTHER = "b" * 64
S = ChangeState


def propose(ledger: Ledger, digest: str = DIGEST, **overrides: Any) -> ChangeRecord:
    values: dict[str, Any] = {
        "stack": "prod-observability",
        "risk_level": "high",
        "risk_score": 72,
        "change_type": "normal",
        "author": "author@example.com",
        "commit": "c0ffee",
        "summary": {"update": 2, "replace": 1},
        "now": NOW,
        **overrides,
    }
    stack = values.pop("stack")
    return ledger.propose(stack, digest, **values)


# ``ledger``: tests/change_mgmt/ledger/conftest.py (SQLite and DynamoDB)


def test_propose_creates_a_proposed_record(ledger: Ledger) -> None:
    record = propose(ledger)
    assert record.id == 1
    assert record.stack == "prod-observability" and record.digest == DIGEST
    assert (record.risk_level, record.risk_score, record.change_type) == ("high", 72, "normal")
    assert (record.author, record.commit, record.ticket_key) == (
        "author@example.com",
        "c0ffee",
        None,
    )
    assert record.summary == {"update": 2, "replace": 1}
    assert record.state is S.proposed
    assert record.state_times == {S.proposed: NOW}
    assert record.created_at == record.updated_at == NOW
    assert ledger.get(1) == record == ledger.find("prod-observability", DIGEST)


def test_proposing_the_same_change_again_updates_it_in_place(ledger: Ledger) -> None:
    first = propose(ledger)
    later = NOW + timedelta(minutes=5)
    again = propose(
        ledger,
        risk_level="critical",
        risk_score=90,
        change_type="emergency",
        emergency_reason="pager: API down",
        author="someone-else@example.com",
        commit="beef",
        now=later,
    )
    assert again.id == first.id
    assert (again.risk_level, again.risk_score) == ("critical", 90)
    assert (again.change_type, again.emergency_reason) == ("emergency", "pager: API down")
    assert again.commit == "beef"
    assert again.author == "author@example.com"  # the first author stays: four eyes
    assert again.created_at == NOW and again.updated_at == later
    assert again.state_times == {S.proposed: NOW}
    assert [r.id for r in ledger.list()] == [first.id]


def test_same_digest_on_another_stack_is_another_change(ledger: Ledger) -> None:
    one = propose(ledger)
    two = propose(ledger, stack="staging-observability")
    assert one.id != two.id
    assert ledger.find("staging-observability", DIGEST) == two
    assert ledger.find("prod-observability", OTHER) is None


def test_get_of_an_unknown_id_says_where_to_look(ledger: Ledger) -> None:
    with pytest.raises(ChangeNotFoundError) as caught:
        ledger.get(42)
    assert str(caught.value) == "no change record 42; see `sre changes list`"
    assert isinstance(caught.value, LedgerError) and isinstance(caught.value, SreError)


def test_list_is_newest_first_and_filters(ledger: Ledger) -> None:
    a = propose(ledger, "1" * 64, now=NOW)
    b = propose(ledger, "2" * 64, stack="staging", now=NOW + timedelta(days=1))
    c = propose(ledger, "3" * 64, now=NOW + timedelta(days=2))
    ledger.transition(a.id, S.approved, now=NOW + timedelta(days=3))
    assert [r.id for r in ledger.list()] == [c.id, b.id, a.id]
    assert [r.id for r in ledger.list(stack="prod-observability")] == [c.id, a.id]
    assert [r.id for r in ledger.list(since=NOW + timedelta(days=1))] == [c.id, b.id]
    # since compares instants, whatever the offset it is given in
    plus_two = timezone(timedelta(hours=2))
    assert [r.id for r in ledger.list(since=datetime(2026, 11, 29, 2, tzinfo=plus_two))] == [c.id]
    assert [r.id for r in ledger.list(states=[S.approved])] == [a.id]
    assert [r.id for r in ledger.list(states={S.proposed, S.approved}, stack="staging")] == [b.id]
    assert ledger.list(states=[]) == []
    assert ledger.list(stack="nope") == []


def test_a_normal_change_goes_through_every_state(ledger: Ledger) -> None:
    record = propose(ledger)
    times = {state: NOW + timedelta(minutes=i) for i, state in enumerate(S)}
    for state in (S.approved, S.applying, S.applied, S.rolled_back):
        record = ledger.transition(record.id, state, now=times[state])
        assert record.state is state and record.updated_at == times[state]
    assert record.state_times == {s: times[s] for s in S if s is not S.failed} | {S.proposed: NOW}
    assert ledger.get(record.id) == record
    assert [(t.from_state, t.to_state) for t in ledger.history(record.id)] == [
        (None, S.proposed),
        (S.proposed, S.approved),
        (S.approved, S.applying),
        (S.applying, S.applied),
        (S.applied, S.rolled_back),
    ]


def test_a_failed_change_can_be_retried_and_keeps_the_latest_times(ledger: Ledger) -> None:
    record = propose(ledger, change_type="emergency", emergency_reason="outage")
    t = [NOW + timedelta(minutes=i) for i in range(5)]
    ledger.transition(record.id, S.applying, now=t[1])  # emergency: no approval needed
    ledger.transition(record.id, S.failed, now=t[2])
    ledger.transition(record.id, S.applying, now=t[3])
    record = ledger.transition(record.id, S.applied, now=t[4])
    assert record.state_times == {
        S.proposed: NOW,
        S.applying: t[3],
        S.failed: t[2],
        S.applied: t[4],
    }
    assert len(ledger.history(record.id)) == 5


ILLEGAL = [(a, b) for a in S for b in S if b not in TRANSITIONS[a]]


@pytest.mark.parametrize(("current", "requested"), ILLEGAL)
def test_illegal_transitions_are_refused_naming_id_and_states(
    ledger: Ledger, current: ChangeState, requested: ChangeState
) -> None:
    record = propose(ledger, change_type="standard")
    path = {
        S.proposed: [],
        S.approved: [S.approved],
        S.applying: [S.applying],
        S.applied: [S.applying, S.applied],
        S.failed: [S.applying, S.failed],
        S.rolled_back: [S.applying, S.applied, S.rolled_back],
    }[current]
    for state in path:
        ledger.transition(record.id, state, now=NOW)
    with pytest.raises(IllegalTransitionError) as caught:
        ledger.transition(record.id, requested, now=NOW + timedelta(hours=1))
    error = caught.value
    assert (error.change_id, error.current, error.requested) == (record.id, current, requested)
    message = str(error)
    assert f"change {record.id} is {current.value}" in message
    assert f"cannot move to {requested.value}" in message
    assert ledger.get(record.id).state is current  # nothing changed


def test_a_normal_change_must_be_approved_before_applying(ledger: Ledger) -> None:
    record = propose(ledger, change_type="normal")
    with pytest.raises(IllegalTransitionError, match="must be approved first"):
        ledger.transition(record.id, S.applying, now=NOW)
    standard = propose(ledger, OTHER, change_type="standard")
    assert ledger.transition(standard.id, S.applying, now=NOW).state is S.applying


def test_transition_of_an_unknown_change(ledger: Ledger) -> None:
    with pytest.raises(ChangeNotFoundError):
        ledger.transition(7, S.approved, now=NOW)
    with pytest.raises(ChangeNotFoundError):
        ledger.history(7)


def test_ticket_is_set_once(ledger: Ledger) -> None:
    record = propose(ledger)
    later = NOW + timedelta(minutes=1)
    linked = ledger.set_ticket(record.id, "CHG-12", now=later)
    assert linked.ticket_key == "CHG-12" and linked.updated_at == later
    assert ledger.set_ticket(record.id, "CHG-12", now=NOW + timedelta(hours=1)) == linked
    with pytest.raises(LedgerError, match="already linked to ticket CHG-12"):
        ledger.set_ticket(record.id, "CHG-13", now=later)
    with pytest.raises(LedgerError, match="whitespace"):
        ledger.set_ticket(record.id, "CHG 13", now=later)
    with pytest.raises(ChangeNotFoundError):
        ledger.set_ticket(99, "CHG-1", now=later)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"digest": "A" * 64}, "not a change digest"),
        ({"digest": "a" * 63}, "not a change digest"),
        ({"stack": " "}, "stack must be a non-empty string"),
        (
            {"risk_level": "extreme"},
            "risk level 'extreme' is not one of low, medium, high, critical",
        ),
        ({"change_type": "urgent"}, "change type 'urgent' is not one of"),
        ({"risk_score": -1}, "risk score must be a non-negative integer"),
        ({"summary": {"create": -1}}, "negative"),
        ({"change_type": "emergency"}, "an emergency change needs a reason"),
        ({"change_type": "emergency", "emergency_reason": "  "}, "needs a reason"),
    ],
)
def test_propose_refuses_bad_values(
    ledger: Ledger, overrides: dict[str, Any], message: str
) -> None:
    overrides = dict(overrides)  # the parameter is shared by both ledgers' runs
    digest = overrides.pop("digest", DIGEST)
    with pytest.raises(LedgerError, match=message):
        propose(ledger, digest, **overrides)
    assert ledger.list() == []


def test_times_must_be_timezone_aware(ledger: Ledger) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        propose(ledger, now=datetime(2026, 11, 27))


def test_times_are_stored_as_fixed_width_utc_text(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite3"
    ledger = Ledger(path)
    propose(ledger, now=datetime(2026, 11, 27, 13, 30, tzinfo=timezone(timedelta(hours=2))))
    with sqlite3.connect(path) as conn:
        (created,) = conn.execute("SELECT created_at FROM changes").fetchone()
    conn.close()
    assert created == "2026-11-27T11:30:00.000000Z"
    assert ledger.get(1).created_at == datetime(2026, 11, 27, 11, 30, tzinfo=UTC)


def test_records_are_frozen_and_serialise_stably(ledger: Ledger) -> None:
    record = propose(ledger)
    with pytest.raises(ValidationError):
        record.state = S.applied  # type: ignore[misc]
    assert record.as_dict() == {
        "id": 1,
        "stack": "prod-observability",
        "digest": DIGEST,
        "state": "proposed",
        "risk_level": "high",
        "risk_score": 72,
        "change_type": "normal",
        "author": "author@example.com",
        "commit": "c0ffee",
        "emergency_reason": None,
        "ticket_key": None,
        "ticket": "CHG-1",
        "what_if_only": False,
        "summary": {"replace": 1, "update": 2},
        "state_times": {"proposed": "2026-11-27T00:00:00Z"},
        "created_at": "2026-11-27T00:00:00Z",
        "updated_at": "2026-11-27T00:00:00Z",
        "review_due_at": None,
        "reviewed_at": None,
        "reviewer": None,
        "review_notes": None,
        "evidence": [],
    }


# -- local approvals ------------------------------------------------------------------


def test_approvals_are_kept_per_change_and_approver(ledger: Ledger) -> None:
    first = ledger.add_approval(
        "prod", DIGEST, approver="alice@example.com", decision="approve", reason="looked", now=NOW
    )
    assert first.decision is ApprovalDecision.approve and first.created_at == NOW
    ledger.add_approval(
        "prod",
        DIGEST,
        approver="bob@example.com",
        decision=ApprovalDecision.reject,
        reason="replaces the DB",
        now=NOW + timedelta(minutes=1),
    )
    ledger.add_approval(
        "prod", OTHER, approver="carol@example.com", decision="approve", reason="ok", now=NOW
    )
    assert [(a.approver, a.decision) for a in ledger.approvals("prod", DIGEST)] == [
        ("alice@example.com", ApprovalDecision.approve),
        ("bob@example.com", ApprovalDecision.reject),
    ]
    # The same approver (any spelling of the address) changes their mind: one entry, latest wins.
    changed = ledger.add_approval(
        "prod",
        DIGEST,
        approver="Alice@Example.com",
        decision="reject",
        reason=" found a problem ",
        now=NOW + timedelta(minutes=2),
    )
    assert changed.reason == "found a problem" and changed.approver == "Alice@Example.com"
    approvals = ledger.approvals("prod", DIGEST)
    assert [(a.approver, a.decision) for a in approvals] == [
        ("bob@example.com", ApprovalDecision.reject),
        ("Alice@Example.com", ApprovalDecision.reject),
    ]
    assert ledger.approvals("staging", DIGEST) == []


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"reason": ""}, "needs a reason"),
        ({"reason": "   "}, "needs a reason"),
        ({"decision": "maybe"}, "decision 'maybe' is not one of approve, reject"),
        ({"approver": ""}, "approver must be a non-empty string"),
        ({"digest": "xyz"}, "not a change digest"),
    ],
)
def test_add_approval_refuses_bad_values(
    ledger: Ledger, overrides: dict[str, Any], message: str
) -> None:
    values: dict[str, Any] = {
        "approver": "alice@example.com",
        "decision": "approve",
        "reason": "fine",
        "now": NOW,
    }
    values.update(overrides)
    digest = values.pop("digest", DIGEST)
    with pytest.raises(LedgerError, match=message):
        ledger.add_approval("prod", digest, **values)


# -- the file ---------------------------------------------------------------------------


def test_for_repository_keeps_the_ledger_out_of_git(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q")
    ledger = Ledger.for_repository(tmp_path)
    assert ledger.path == tmp_path / ".sre" / "ledger.sqlite3" == Ledger.path_in(tmp_path)
    propose(ledger)
    assert "*" in (tmp_path / ".sre" / ".gitignore").read_text().splitlines()
    assert git(tmp_path, "status", "--porcelain", "--untracked-files=all") == ""
    assert Ledger.for_repository(tmp_path).get(1).digest == DIGEST  # reopened, not recreated


def test_new_ledger_is_wal_versioned_and_stamped(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "dir" / "ledger.sqlite3"
    Ledger(path)
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION >= 1
        assert conn.execute("PRAGMA application_id").fetchone()[0] == store.APPLICATION_ID
    finally:
        conn.close()


def test_a_file_that_is_not_sqlite_is_a_ledger_error(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    path.write_text("this is not a database, " * 100)
    with pytest.raises(LedgerError) as caught:
        Ledger(path)
    message = str(caught.value)
    assert str(path) in message and "not a readable sre ledger" in message
    assert "move it aside" in message


def test_a_damaged_ledger_is_a_ledger_error(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    propose(Ledger(path))
    with sqlite3.connect(path) as conn:  # enough rows for several pages, in one transaction
        conn.execute(
            """
            WITH RECURSIVE n(i) AS (SELECT 2 UNION ALL SELECT i + 1 FROM n WHERE i < 300)
            INSERT INTO changes (stack, digest, risk_level, risk_score, change_type, summary,
                state, state_times, created_at, updated_at)
            SELECT stack, printf('%064x', i), risk_level, risk_score, change_type, summary,
                state, state_times, created_at, updated_at
            FROM changes, n
            """
        )
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    data = bytearray(path.read_bytes())
    page = 4096
    assert len(data) > 4 * page
    for offset in range(page, len(data), page):  # every page but the header page
        data[offset : offset + 64] = b"\xff" * 64
    path.write_bytes(bytes(data))
    with pytest.raises(LedgerError, match="not a readable sre ledger") as caught:
        Ledger(path).list()
    assert str(path) in str(caught.value)


def test_another_programs_database_is_not_taken_over(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE notes (text TEXT)")
    conn.commit()
    conn.close()
    with pytest.raises(LedgerError, match="a SQLite database but not an sre ledger"):
        Ledger(path)
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 0
    finally:
        conn.close()


def test_a_directory_at_the_path_is_a_ledger_error(tmp_path: Path) -> None:
    (tmp_path / "ledger.sqlite3").mkdir()
    with pytest.raises(LedgerError, match="is a directory"):
        Ledger(tmp_path / "ledger.sqlite3")


def test_a_ledger_from_a_newer_sre_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    Ledger(path)
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(LedgerError, match="newer than this sre understands"):
        Ledger(path)


def test_migrations_run_once_in_order_and_keep_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "ledger.sqlite3"
    propose(Ledger(path))
    runs: list[int] = []

    def add_column(conn: sqlite3.Connection) -> None:
        runs.append(1)
        conn.execute("ALTER TABLE changes ADD COLUMN extra_note TEXT")

    monkeypatch.setattr(store, "_MIGRATIONS", [*store._MIGRATIONS, add_column])
    ledger = Ledger(path)
    Ledger(path)
    assert runs == [1]
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1
        columns = [row[1] for row in conn.execute("PRAGMA table_info(changes)")]
    finally:
        conn.close()
    assert "extra_note" in columns
    assert ledger.get(1).digest == DIGEST


def test_a_failing_migration_leaves_the_file_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "ledger.sqlite3"
    propose(Ledger(path))

    def broken(conn: sqlite3.Connection) -> None:
        conn.execute("ALTER TABLE changes ADD COLUMN half_done TEXT")
        conn.execute("ALTER TABLE no_such_table ADD COLUMN x TEXT")

    monkeypatch.setattr(store, "_MIGRATIONS", [*store._MIGRATIONS, broken])
    with pytest.raises(LedgerError, match="no_such_table"):
        Ledger(path)
    monkeypatch.undo()
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert "half_done" not in [row[1] for row in conn.execute("PRAGMA table_info(changes)")]
    finally:
        conn.close()
    assert Ledger(path).get(1).digest == DIGEST


def test_a_ledger_locked_too_long_is_a_ledger_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "ledger.sqlite3"
    ledger = Ledger(path)
    monkeypatch.setattr(shared_sqlite, "BUSY_TIMEOUT_SECONDS", 0.05)
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")  # another writer that does not let go
        with pytest.raises(LedgerError, match=r"locked by another process \(waited up to 0.05 s\)"):
            propose(ledger)
        assert ledger.list() == []  # readers are not blocked (WAL)
    finally:
        holder.close()
    assert propose(ledger).id == 1


# -- post-change reviews of emergency changes ----------------------------------------------


def _emergency(ledger: Ledger, **overrides: Any) -> ChangeRecord:
    return propose(
        ledger,
        change_type="emergency",
        emergency_reason="primary disk full",
        review_due_at=NOW + timedelta(hours=48),
        **overrides,
    )


def test_an_emergency_change_owes_a_review_until_someone_else_records_it(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    record = _emergency(ledger)
    assert record.review_due_at == NOW + timedelta(hours=48)
    assert not record.review_overdue(NOW + timedelta(hours=47))
    assert record.review_overdue(NOW + timedelta(hours=48))
    with pytest.raises(LedgerError, match="four eyes"):
        ledger.record_review(record.id, reviewer=record.author or "", notes="fine", now=NOW)
    reviewed = ledger.record_review(
        record.id,
        reviewer="lead@example.com",
        notes="root cause: log growth",
        now=NOW + timedelta(hours=50),
    )
    assert (reviewed.reviewer, reviewed.review_notes) == (
        "lead@example.com",
        "root cause: log growth",
    )
    assert not reviewed.review_overdue(NOW + timedelta(days=30))
    with pytest.raises(LedgerError, match="already reviewed"):
        ledger.record_review(record.id, reviewer="other@example.com", notes="again", now=NOW)


def test_the_first_review_due_time_is_kept_when_the_gate_runs_again(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    first = _emergency(ledger)
    again = propose(
        ledger,
        change_type="emergency",
        emergency_reason="still",
        review_due_at=NOW + timedelta(days=9),
    )
    assert again.id == first.id and again.review_due_at == first.review_due_at


def test_only_emergency_changes_are_reviewed(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    record = propose(ledger)
    with pytest.raises(LedgerError, match="only emergency changes owe a post-change review"):
        ledger.record_review(record.id, reviewer="lead@example.com", notes="x", now=NOW)


def test_a_version_1_ledger_is_upgraded_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "ledger.sqlite3"
    monkeypatch.setattr(store, "_MIGRATIONS", store._MIGRATIONS[:1])
    Ledger(path)  # an empty version-1 file, as the first release wrote it
    monkeypatch.undo()
    conn = sqlite3.connect(path)
    with conn:
        conn.execute(
            "INSERT INTO changes (stack, digest, risk_level, risk_score, change_type, summary, state, "
            "state_times, created_at, updated_at) VALUES ('prod', ?, 'low', 1, 'standard', '{}', "
            "'proposed', '{\"proposed\": \"2026-11-27T00:00:00Z\"}', '2026-11-27T00:00:00Z', "
            "'2026-11-27T00:00:00Z')",
            (DIGEST,),
        )
    conn.close()
    upgraded = Ledger(path)
    assert upgraded.get(1).digest == DIGEST and upgraded.get(1).review_due_at is None
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 6
    finally:
        conn.close()
