"""Body of the processes that race for reminder claims in ``test_reminders`` (spawned:
importable, importing nothing heavier than the ledger)."""

from __future__ import annotations

import traceback
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from change_mgmt.ledger import Ledger

NOW = datetime(2026, 11, 27, tzinfo=UTC)
BARRIER_TIMEOUT = 30.0


def claim_all(path: str, who: int, rounds: int, barrier: Any, results: Any) -> None:
    """Claim the reminder of ``env-<n>`` for each round, in step with the other process;
    put ``(who, "ok", [n claimed])`` or ``(who, "error", traceback)``."""
    try:
        ledger = Ledger(Path(path))
        won = []
        for n in range(rounds):
            barrier.wait(BARRIER_TIMEOUT)
            expiry = NOW + timedelta(hours=12)
            claim = ledger.claim_reminder(f"env-{n}", expiry, now=NOW)
            if claim is not None:
                won.append(n)
                ledger.reminder_sent(claim, now=NOW)
    except BaseException:
        barrier.abort()
        results.put((who, "error", traceback.format_exc()))
    else:
        results.put((who, "ok", won))
