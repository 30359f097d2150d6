"""Two gates of one change on two runners: the second to approve takes the first's
record instead of failing on a move to the state the change is already in."""

from __future__ import annotations

from pathlib import Path

from change_mgmt.gate.run import _approve
from change_mgmt.ledger.records import ChangeState
from change_mgmt.ledger.store import Ledger
from tests.change_mgmt.ledger.test_store import propose
from tests.conftest import NOW


def test_a_change_another_gate_approved_meanwhile_is_taken_as_it_stands(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    ours, theirs = Ledger(path), Ledger(path)
    stale = propose(ours)  # both gates read it proposed
    theirs.transition(stale.id, ChangeState.approved, now=NOW)
    record = _approve(ours, stale, now=NOW)
    assert record.state == ChangeState.approved
    assert [t.to_state for t in ours.history(stale.id)].count(ChangeState.approved) == 1
    theirs.transition(stale.id, ChangeState.applying, now=NOW)  # and already applying it
    assert _approve(ours, stale, now=NOW).state == ChangeState.applying
