"""The claim on creating a change's Jira ticket: one run at a time, with a lease.

Racing gates ask the ledger who may create the ticket (the ledger serialises the
change record on both stores), so one Jira ticket per change does not hang on Jira's
eventually consistent search.
"""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from change_mgmt.ledger import ChangeNotFoundError, Ledger, LedgerError, store
from change_mgmt.ledger.store import TICKET_CLAIM_LEASE, TicketClaim
from tests.change_mgmt.ledger import claim_workers
from tests.change_mgmt.ledger.racing import race
from tests.change_mgmt.ledger.test_store import OTHER, propose
from tests.conftest import NOW

LEASE = timedelta(minutes=2)
TICK = timedelta(microseconds=1)


# ``ledger``: tests/change_mgmt/ledger/conftest.py (SQLite and DynamoDB)


def twin(ledger: Ledger) -> Ledger:
    """Another client of the same storage, as another runner's would be."""
    from change_mgmt.ledger.dynamodb import DynamoLedger

    if isinstance(ledger, DynamoLedger):
        return DynamoLedger(ledger.location)
    return Ledger(ledger.path)


def lease_row(ledger: Ledger, change_id: int) -> dict[str, Any] | None:
    """The stored claim of a change while its lease is held (None: none held)."""
    from change_mgmt.ledger.dynamo_table import change_sk
    from change_mgmt.ledger.dynamodb import TICKET_CLAIM_PK, DynamoLedger

    if isinstance(ledger, DynamoLedger):
        item = ledger.table.get(TICKET_CLAIM_PK, change_sk(change_id))
        return item if item is not None and "claimed_until" in item else None
    conn = sqlite3.connect(ledger.path)
    conn.row_factory = sqlite3.Row
    try:
        row = conn.execute(
            "SELECT * FROM ticket_claims WHERE change_id = ?", (change_id,)
        ).fetchone()
    finally:
        conn.close()
    return None if row is None else dict(row)


def test_one_runner_wins_the_claim(ledger: Ledger) -> None:
    record = propose(ledger)
    other = twin(ledger)
    claim = ledger.claim_ticket_creation(record.id, now=NOW, lease=LEASE)
    assert claim is not None and claim.change_id == record.id and not claim.taken_over
    assert claim.claimed_until == NOW + LEASE
    assert other.claim_ticket_creation(record.id, now=NOW, lease=LEASE) is None
    assert other.claim_ticket_creation(record.id, now=NOW + LEASE - TICK, lease=LEASE) is None
    assert ledger.claim_ticket_creation(record.id, now=NOW, lease=LEASE) is None  # not re-entrant
    row = lease_row(ledger, record.id)
    assert row is not None and row["claimed_by"] == claim.token
    # a claim is per change: another change is free
    assert other.claim_ticket_creation(propose(ledger, OTHER).id, now=NOW) is not None


def test_an_expired_claim_is_taken_over(ledger: Ledger) -> None:
    record = propose(ledger)
    dead = ledger.claim_ticket_creation(record.id, now=NOW, lease=LEASE)  # then the run died
    assert dead is not None
    later = twin(ledger).claim_ticket_creation(record.id, now=NOW + LEASE, lease=LEASE)
    assert later is not None and later.taken_over and later.token != dead.token
    assert later.claimed_until == NOW + 2 * LEASE
    assert ledger.claim_ticket_creation(record.id, now=NOW + LEASE, lease=LEASE) is None
    # the dead run coming back cannot release the claim it lost
    ledger.release_ticket_claim(record.id, dead)
    assert ledger.claim_ticket_creation(record.id, now=NOW + LEASE + TICK, lease=LEASE) is None
    row = lease_row(ledger, record.id)
    assert row is not None and row["claimed_by"] == later.token


def test_storing_the_key_ends_the_claim(ledger: Ledger) -> None:
    record = propose(ledger)
    claim = ledger.claim_ticket_creation(record.id, now=NOW, lease=LEASE)
    assert claim is not None
    twin(ledger).set_ticket(record.id, "OPS-1", now=NOW)
    assert lease_row(ledger, record.id) is None
    # a record with a key is never claimed again, however long after
    for moment in (NOW, NOW + LEASE, NOW + 100 * LEASE):
        assert ledger.claim_ticket_creation(record.id, now=moment, lease=LEASE) is None
    ledger.release_ticket_claim(record.id, claim)  # harmless once ended
    assert ledger.get(record.id).ticket_key == "OPS-1"


def test_a_record_with_a_key_is_not_claimed(ledger: Ledger) -> None:
    record = propose(ledger)
    ledger.set_ticket(record.id, "OPS-7", now=NOW)
    assert ledger.claim_ticket_creation(record.id, now=NOW) is None
    assert lease_row(ledger, record.id) is None


def test_a_released_claim_is_free_at_once(ledger: Ledger) -> None:
    record = propose(ledger)
    claim = ledger.claim_ticket_creation(record.id, now=NOW, lease=LEASE)
    assert claim is not None
    ledger.release_ticket_claim(record.id, claim)  # the create failed
    assert lease_row(ledger, record.id) is None
    again = twin(ledger).claim_ticket_creation(record.id, now=NOW + TICK, lease=LEASE)
    assert again is not None and not again.taken_over  # released, not abandoned


def test_claims_refuse_bad_input(ledger: Ledger) -> None:
    with pytest.raises(ChangeNotFoundError):
        ledger.claim_ticket_creation(404, now=NOW)
    record = propose(ledger)
    for lease in (timedelta(0), timedelta(seconds=-5)):
        with pytest.raises(LedgerError, match="positive duration"):
            ledger.claim_ticket_creation(record.id, now=NOW, lease=lease)
    claim = ledger.claim_ticket_creation(record.id, now=NOW)
    assert claim is not None and claim.claimed_until == NOW + TICKET_CLAIM_LEASE
    with pytest.raises(LedgerError, match=f"claim is on change {record.id}, not 9"):
        ledger.release_ticket_claim(9, claim)
    assert lease_row(ledger, record.id) is not None  # nothing released


def test_a_version_5_ledger_is_upgraded_and_takes_claims(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "ledger.sqlite3"
    monkeypatch.setattr(store, "_MIGRATIONS", store._MIGRATIONS[:5])
    old = Ledger(path)  # a file as the release before the claims wrote it
    record = propose(old)
    pending = propose(old, OTHER)
    monkeypatch.undo()
    conn = sqlite3.connect(path)
    with conn:  # linked as a v5 ledger linked it: no claims table to end a claim in
        conn.execute("UPDATE changes SET ticket_key = 'OPS-3' WHERE id = ?", (record.id,))
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 5
    finally:
        conn.close()
    upgraded = Ledger(path)
    assert upgraded.get(record.id).ticket_key == "OPS-3"
    assert upgraded.claim_ticket_creation(record.id, now=NOW) is None
    assert isinstance(upgraded.claim_ticket_creation(pending.id, now=NOW), TicketClaim)
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == store.SCHEMA_VERSION == 6
    finally:
        conn.close()


PROCESSES = 4
ROUNDS = 8


@pytest.mark.parametrize("backend", ["sqlite", "dynamodb"])
def test_racing_processes_make_one_claim_per_change(
    backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.change_mgmt.ledger.conftest import open_ledger

    ledger = open_ledger(backend, tmp_path, monkeypatch)  # dynamodb: moto in os.environ
    ids = [propose(ledger, f"{n:064x}").id for n in range(ROUNDS)]
    where = str(ledger.path) if backend == "sqlite" else ledger.url  # type: ignore[attr-defined]
    reported = race(
        claim_workers.claim_each, lambda who: (where, who, ids), processes=PROCESSES, timeout=120
    )
    won = [change_id for data in reported for change_id in data]
    assert sorted(won) == ids  # every change claimed, each by exactly one process
