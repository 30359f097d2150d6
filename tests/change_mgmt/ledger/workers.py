"""Bodies of the processes that race each other in ``test_concurrency`` (spawned: they must
be importable, and import nothing heavier than the ledger)."""

from __future__ import annotations

import traceback
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from change_mgmt.ledger import ChangeState, IllegalTransitionError, Ledger

NOW = datetime(2026, 11, 27, tzinfo=UTC)
BARRIER_TIMEOUT = 30.0


def digest(n: int) -> str:
    return f"{n:064x}"


def _propose(ledger: Ledger, n: int, who: int) -> int:
    return ledger.propose(
        "prod",
        digest(n),
        risk_level="medium",
        risk_score=40 + who,
        change_type="standard",
        author=f"worker{who}@example.com",
        commit=None,
        summary={"update": 1},
        now=NOW + timedelta(seconds=n),
    ).id


def run(jobs: list[tuple[str, str, int]], who: int, barrier: Any, results: Any) -> None:
    """Run each ``(scenario, ledger path, rounds)`` in turn, in step with the other process;
    put ``(who, "ok", {scenario: data})`` or ``(who, "error", traceback)``."""
    try:
        data = {}
        for scenario, path, rounds in jobs:
            barrier.wait(BARRIER_TIMEOUT)
            data[scenario] = SCENARIOS[scenario](Path(path), who, rounds, barrier)
    except BaseException:
        barrier.abort()  # never leave the other process waiting
        results.put((who, "error", traceback.format_exc()))
    else:
        results.put((who, "ok", data))


def same_change(path: Path, who: int, rounds: int, barrier: Any) -> list[int]:
    """Open a fresh ledger at the same moment, then propose the same change each round."""
    barrier.wait(BARRIER_TIMEOUT)
    ledger = Ledger(path)
    ids = []
    for n in range(rounds):
        barrier.wait(BARRIER_TIMEOUT)
        ids.append(_propose(ledger, n, who))
    return ids


def many_changes(path: Path, who: int, rounds: int, barrier: Any) -> dict[int, int]:
    """Propose the same digests, one process in each order: digest number → id."""
    ledger = Ledger(path)
    order = range(rounds) if who == 0 else reversed(range(rounds))
    barrier.wait(BARRIER_TIMEOUT)
    return {n: _propose(ledger, n, who) for n in order}


def start_applying(path: Path, who: int, rounds: int, barrier: Any) -> list[bool]:
    """Both try to move the same change to applying each round: did this one win?"""
    ledger = Ledger(path)
    won = []
    for n in range(rounds):
        barrier.wait(BARRIER_TIMEOUT)
        try:
            ledger.transition(n + 1, ChangeState.applying, now=NOW)
        except IllegalTransitionError:
            won.append(False)
        else:
            won.append(True)
    return won


SCENARIOS = {
    "same_change": same_change,
    "many_changes": many_changes,
    "start_applying": start_applying,
}
