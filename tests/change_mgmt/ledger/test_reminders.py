"""The ledger's reminders table: claims, retries, take-overs and the v3 → v4 upgrade."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from change_mgmt.ledger import SCHEMA_VERSION, Ledger, LedgerError, store
from change_mgmt.ledger.store import REMINDER_LEASE
from tests.change_mgmt.ledger import reminder_workers
from tests.change_mgmt.ledger.racing import race

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
EXPIRY = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
DIGEST = "ab" * 32


# ``ledger``: tests/change_mgmt/ledger/conftest.py (SQLite and DynamoDB)


def test_first_claim_wins_and_a_sent_reminder_is_never_claimed_again(ledger: Ledger) -> None:
    claim = ledger.claim_reminder("demo", EXPIRY, now=NOW)
    assert claim is not None and claim.attempt == 1 and not claim.taken_over
    ledger.reminder_sent(claim, now=NOW + timedelta(seconds=1))
    later = NOW + timedelta(hours=3)
    assert ledger.claim_reminder("demo", EXPIRY, now=later) is None
    assert ledger.claim_reminder("demo", EXPIRY, now=later + REMINDER_LEASE * 10) is None
    [row] = ledger.reminders()
    assert (row.environment, row.expires_at, row.state) == ("demo", EXPIRY, "sent")
    assert row.sent_at == NOW + timedelta(seconds=1) and row.attempts == 1


def test_a_claim_in_progress_blocks_others_until_its_lease_ends(ledger: Ledger) -> None:
    first = ledger.claim_reminder("demo", EXPIRY, now=NOW)
    assert first is not None
    assert (
        ledger.claim_reminder("demo", EXPIRY, now=NOW + REMINDER_LEASE - timedelta(seconds=1))
        is None
    )
    # The first run died between claiming (or posting) and recording: err towards a duplicate.
    second = ledger.claim_reminder("demo", EXPIRY, now=NOW + REMINDER_LEASE + timedelta(seconds=1))
    assert second is not None and second.taken_over and second.attempt == 2
    assert second.token != first.token


def test_a_failed_post_is_retried_by_the_next_run(ledger: Ledger) -> None:
    claim = ledger.claim_reminder("demo", EXPIRY, now=NOW)
    assert claim is not None
    ledger.reminder_failed(claim, "the webhook answered HTTP 503", now=NOW)
    [row] = ledger.reminders("demo")
    assert row.state == "failed" and row.sent_at is None
    assert row.last_error == "the webhook answered HTTP 503"
    retry = ledger.claim_reminder("demo", EXPIRY, now=NOW + timedelta(minutes=1))
    assert retry is not None and retry.attempt == 2 and not retry.taken_over
    ledger.reminder_sent(retry, now=NOW + timedelta(minutes=1))
    [row] = ledger.reminders("demo")
    assert row.state == "sent" and row.last_error is None and row.attempts == 2


def test_a_failure_reported_after_a_take_over_leaves_the_new_claim_alone(ledger: Ledger) -> None:
    old = ledger.claim_reminder("demo", EXPIRY, now=NOW)
    new = ledger.claim_reminder("demo", EXPIRY, now=NOW + REMINDER_LEASE * 2)
    assert old is not None and new is not None
    ledger.reminder_failed(old, "late failure", now=NOW + REMINDER_LEASE * 2)
    [row] = ledger.reminders()
    assert row.state == "sending" and row.last_error is None
    assert ledger.claim_reminder("demo", EXPIRY, now=NOW + REMINDER_LEASE * 2) is None


def test_a_new_expiry_is_a_new_reminder(ledger: Ledger) -> None:
    first = ledger.claim_reminder("demo", EXPIRY, now=NOW)
    assert first is not None
    ledger.reminder_sent(first, now=NOW)
    extended = EXPIRY + timedelta(days=3)
    second = ledger.claim_reminder("demo", extended, now=extended - timedelta(hours=20))
    assert second is not None and second.attempt == 1
    assert [r.expires_at for r in ledger.reminders("demo")] == [EXPIRY, extended]


def test_the_same_moment_in_another_offset_is_the_same_reminder(ledger: Ledger) -> None:
    claim = ledger.claim_reminder("demo", EXPIRY, now=NOW)
    assert claim is not None
    ledger.reminder_sent(claim, now=NOW)
    plus_one = EXPIRY.astimezone(timezone(timedelta(hours=1)))
    assert ledger.claim_reminder("demo", plus_one, now=NOW) is None


def test_environments_are_independent(ledger: Ledger) -> None:
    assert ledger.claim_reminder("a", EXPIRY, now=NOW) is not None
    assert ledger.claim_reminder("b", EXPIRY, now=NOW) is not None
    assert [r.environment for r in ledger.reminders()] == ["a", "b"]
    assert [r.environment for r in ledger.reminders("b")] == ["b"]


def test_errors_are_cut_short(ledger: Ledger) -> None:
    claim = ledger.claim_reminder("demo", EXPIRY, now=NOW)
    assert claim is not None
    ledger.reminder_failed(claim, "x" * 5000, now=NOW)
    assert len(ledger.reminders()[0].last_error or "") == store.REMINDER_ERROR_LIMIT


def test_naive_times_and_empty_names_are_refused(ledger: Ledger) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        ledger.claim_reminder("demo", EXPIRY.replace(tzinfo=None), now=NOW)
    with pytest.raises(LedgerError, match="environment"):
        ledger.claim_reminder(" ", EXPIRY, now=NOW)


def test_a_version_3_ledger_is_upgraded_and_keeps_its_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "ledger.sqlite3"
    monkeypatch.setattr(store, "_MIGRATIONS", store._MIGRATIONS[:3])
    old = Ledger(path)  # a version-3 file, as the release before reminders wrote it
    record = old.propose(
        "prod",
        DIGEST,
        risk_level="low",
        risk_score=3,
        change_type="standard",
        author="dana.kim@example.com",
        commit=None,
        summary={"update": 1},
        now=NOW,
    )
    monkeypatch.undo()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 3
        assert (
            conn.execute("SELECT name FROM sqlite_master WHERE name = 'reminders'").fetchone()
            is None
        )
    conn.close()
    upgraded = Ledger(path)
    assert upgraded.get(record.id) == record
    claim = upgraded.claim_reminder("demo", EXPIRY, now=NOW)
    assert claim is not None
    upgraded.reminder_sent(claim, now=NOW)
    reopened = Ledger(path)  # opening an up-to-date file migrates nothing again
    assert [r.state for r in reopened.reminders()] == ["sent"]
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 6
    finally:
        conn.close()


def test_two_processes_never_both_claim_one_reminder(tmp_path: Path) -> None:
    rounds = 30
    path = tmp_path / "ledger.sqlite3"
    Ledger(path)
    won = [
        set(data) for data in race(reminder_workers.claim_all, lambda who: (str(path), who, rounds))
    ]
    assert won[0].isdisjoint(won[1])
    assert won[0] | won[1] == set(range(rounds))
    assert all(r.state == "sent" for r in Ledger(path).reminders())
