"""The local change ledger: change records in SQLite under ``.sre/`` (the default without Jira)."""

from change_mgmt.ledger.records import (
    TRANSITIONS,
    ApprovalDecision,
    ChangeNotFoundError,
    ChangeRecord,
    ChangeState,
    IllegalTransitionError,
    LedgerError,
    LocalApproval,
    Transition,
)
from change_mgmt.ledger.store import LEDGER_PATH, SCHEMA_VERSION, Ledger

__all__ = [
    "LEDGER_PATH",
    "SCHEMA_VERSION",
    "TRANSITIONS",
    "ApprovalDecision",
    "ChangeNotFoundError",
    "ChangeRecord",
    "ChangeState",
    "IllegalTransitionError",
    "Ledger",
    "LedgerError",
    "LocalApproval",
    "Transition",
]
