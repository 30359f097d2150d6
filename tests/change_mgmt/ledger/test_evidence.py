"""Archived evidence on change records: ``Ledger.add_evidence`` and its migration."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from change_mgmt.ledger import ChangeNotFoundError, Ledger, LedgerError
from change_mgmt.ledger.store import EVIDENCE_LIMIT
from tests.change_mgmt.ledger.test_store import DIGEST, propose
from tests.conftest import NOW

PREFIX = f"s3://evidence-bucket/prod-observability/{DIGEST}"
LATER = NOW + timedelta(minutes=5)


# ``ledger``: tests/change_mgmt/ledger/conftest.py (SQLite and DynamoDB)


def test_evidence_is_appended_in_order_without_duplicates(ledger: Ledger) -> None:
    record = propose(ledger)
    assert record.evidence == ()
    first = ledger.add_evidence(
        record.id, [f"{PREFIX}/preview.txt", f"{PREFIX}/plan.json"], now=NOW
    )
    assert first.evidence == (f"{PREFIX}/preview.txt", f"{PREFIX}/plan.json")
    second = ledger.add_evidence(
        record.id, [f"{PREFIX}/plan.json", f"{PREFIX}/gate-report.json"], now=LATER
    )
    assert second.evidence == (
        f"{PREFIX}/preview.txt",
        f"{PREFIX}/plan.json",
        f"{PREFIX}/gate-report.json",
    )
    assert second.updated_at == LATER
    assert ledger.get(record.id).evidence == second.evidence
    assert second.as_dict()["evidence"] == list(second.evidence)


def test_adding_only_known_uris_writes_nothing(ledger: Ledger) -> None:
    record = ledger.add_evidence(propose(ledger).id, [f"{PREFIX}/plan.json"], now=NOW)
    again = ledger.add_evidence(record.id, [f"{PREFIX}/plan.json"], now=LATER)
    assert again == record and again.updated_at == NOW


def test_evidence_survives_a_re_gate_and_transitions(ledger: Ledger) -> None:
    record = ledger.add_evidence(propose(ledger).id, [f"{PREFIX}/plan.json"], now=NOW)
    assert propose(ledger, risk_score=10).evidence == record.evidence


@pytest.mark.parametrize(
    "uris",
    [
        ["not a uri"],
        ["s3://bucket/with space"],
        [""],
        ["/plain/path"],
        [42],
        "s3://bucket/one-string-not-a-list",
    ],
)
def test_bad_uris_are_refused(ledger: Ledger, uris: object) -> None:
    record = propose(ledger)
    with pytest.raises(LedgerError):
        ledger.add_evidence(record.id, uris, now=NOW)  # type: ignore[arg-type]
    assert ledger.get(record.id).evidence == ()


def test_evidence_of_an_unknown_change(ledger: Ledger) -> None:
    with pytest.raises(ChangeNotFoundError):
        ledger.add_evidence(7, [f"{PREFIX}/plan.json"], now=NOW)


def test_a_change_names_a_bounded_number_of_documents(ledger: Ledger) -> None:
    record = propose(ledger)
    ledger.add_evidence(record.id, [f"{PREFIX}/{n}" for n in range(EVIDENCE_LIMIT)], now=NOW)
    with pytest.raises(LedgerError, match=f"at most {EVIDENCE_LIMIT}"):
        ledger.add_evidence(record.id, [f"{PREFIX}/one-more"], now=NOW)
    assert len(ledger.get(record.id).evidence) == EVIDENCE_LIMIT


def test_a_version_4_ledger_gains_an_empty_evidence_list(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    ledger = Ledger(path)
    record = propose(ledger)
    conn = sqlite3.connect(path)
    try:  # back to version 4: drop what the fifth and sixth migrations add
        conn.execute("ALTER TABLE changes DROP COLUMN evidence")
        conn.execute("DROP TABLE ticket_claims")
        conn.execute("PRAGMA user_version = 4")
        conn.commit()
    finally:
        conn.close()
    upgraded = Ledger(path)
    assert upgraded.get(record.id).evidence == ()
    assert upgraded.add_evidence(record.id, [f"{PREFIX}/x"], now=NOW).evidence == (f"{PREFIX}/x",)
