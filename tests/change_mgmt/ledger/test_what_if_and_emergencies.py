"""What-if proposals leave the stored assessment alone; an emergency stays an emergency."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from change_mgmt.ledger import ChangeState, IllegalTransitionError, Ledger, LedgerError, store
from tests.change_mgmt.ledger.test_store import DIGEST, _emergency, propose
from tests.conftest import NOW

LATER = NOW + timedelta(hours=1)
DUE = NOW + timedelta(hours=48)


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    return Ledger(tmp_path / "ledger.sqlite3")


def test_a_what_if_does_not_overwrite_the_stored_assessment(ledger: Ledger) -> None:
    real = propose(ledger, risk_level="high", risk_score=72)
    what_if = propose(
        ledger,
        risk_level="low",
        risk_score=3,
        change_type="standard",
        commit="feed",
        what_if=True,
        now=LATER,
    )
    assert what_if == real == ledger.get(real.id)  # nothing written, not even updated_at


def test_a_what_if_emergency_creates_no_review_and_no_emergency(ledger: Ledger) -> None:
    record = _emergency(ledger, what_if=True)
    assert record.what_if_only and record.change_type == "emergency"
    assert record.review_due_at is None and not record.is_emergency
    assert not record.review_overdue(NOW + timedelta(days=30))
    with pytest.raises(LedgerError, match="what-if only change; only emergency"):
        ledger.record_review(record.id, reviewer="lead@example.com", notes="x", now=LATER)
    with pytest.raises(IllegalTransitionError, match="what-if emergency change must be approved"):
        ledger.transition(record.id, ChangeState.applying, now=LATER)


def test_the_first_real_run_replaces_a_what_if_assessment(ledger: Ledger) -> None:
    provisional = _emergency(ledger, what_if=True)
    real = propose(ledger, risk_level="medium", risk_score=40, now=LATER)
    assert real.id == provisional.id
    assert (real.what_if_only, real.change_type, real.emergency_reason) == (False, "normal", None)
    assert (real.risk_level, real.risk_score, real.review_due_at) == ("medium", 40, None)


def test_an_emergency_regated_as_normal_still_owes_its_review(ledger: Ledger) -> None:
    emergency = _emergency(ledger)
    regated = propose(ledger, risk_level="medium", risk_score=40, now=LATER)
    assert (regated.risk_level, regated.risk_score) == ("medium", 40)
    assert (regated.change_type, regated.emergency_reason) == ("emergency", "primary disk full")
    assert regated.review_due_at == emergency.review_due_at == DUE
    assert regated.review_overdue(DUE)
    reviewed = ledger.record_review(
        regated.id, reviewer="lead@example.com", notes="disk alarms added", now=DUE
    )
    assert reviewed.reviewed_at == DUE and not reviewed.review_overdue(DUE)


def test_a_version_2_ledger_gets_its_lost_emergencies_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Records an earlier sre turned from emergency to normal while the review stayed due."""
    path = tmp_path / "ledger.sqlite3"
    monkeypatch.setattr(store, "_MIGRATIONS", store._MIGRATIONS[:2])
    Ledger(path)  # an empty version-2 file
    monkeypatch.undo()
    conn = sqlite3.connect(path)
    with conn:  # #1 as a normal re-gate of an emergency left it before version 3
        for digest, due in ((DIGEST, "2026-11-29T00:00:00.000000Z"), ("b" * 64, None)):
            conn.execute(
                "INSERT INTO changes (stack, digest, risk_level, risk_score, change_type, "
                "summary, state, state_times, created_at, updated_at, review_due_at) VALUES "
                "('prod', ?, 'low', 1, 'normal', '{}', 'proposed', "
                "'{\"proposed\": \"2026-11-27T00:00:00Z\"}', '2026-11-27T00:00:00Z', "
                "'2026-11-27T00:00:00Z', ?)",
                (digest, due),
            )
    conn.close()
    upgraded = Ledger(path)
    lost, normal = upgraded.get(1), upgraded.get(2)
    assert (lost.digest, lost.change_type, lost.review_due_at) == (DIGEST, "emergency", DUE)
    assert lost.review_overdue(DUE) and not lost.what_if_only
    assert upgraded.record_review(1, reviewer="lead@example.com", notes="ok", now=DUE).reviewed_at
    assert (normal.change_type, normal.what_if_only) == ("normal", False)
