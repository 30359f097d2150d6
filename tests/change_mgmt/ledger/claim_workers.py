"""Body of the processes that race for ticket-creation claims in ``test_ticket_claims``
(spawned: importable, importing nothing heavier than the ledger)."""

from __future__ import annotations

import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from change_mgmt.ledger import Ledger

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
BARRIER_TIMEOUT = 30.0


def open_ledger(where: str) -> Ledger:
    """``where``: a SQLite path, or a ``dynamodb://`` URL (moto from the environment)."""
    if where.startswith("dynamodb://"):
        from change_mgmt.ledger.config import parse_ledger_url
        from change_mgmt.ledger.dynamodb import DynamoLedger

        return DynamoLedger(parse_ledger_url(where))
    return Ledger(Path(where))


def claim_each(where: str, who: int, ids: list[int], barrier: Any, results: Any) -> None:
    """Claim the ticket creation of each change at the same moment as the other
    processes; put ``(who, "ok", [ids claimed])`` or ``(who, "error", traceback)``."""
    try:
        ledger = open_ledger(where)
        won = []
        for change_id in ids:
            barrier.wait(BARRIER_TIMEOUT)
            if ledger.claim_ticket_creation(change_id, now=NOW) is not None:
                won.append(change_id)
    except BaseException:
        barrier.abort()  # never leave the others waiting
        results.put((who, "error", traceback.format_exc()))
    else:
        results.put((who, "ok", won))
