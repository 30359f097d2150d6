"""The local change ledger: change records in SQLite under ``.sre/`` (the default without Jira)."""

from change_mgmt.ledger.records import (
    LEDGER_TICKET_PREFIX,
    TRANSITIONS,
    ApprovalDecision,
    ChangeNotFoundError,
    ChangeRecord,
    ChangeReference,
    ChangeState,
    IllegalTransitionError,
    InvalidChangeReference,
    LedgerError,
    LocalApproval,
    Transition,
)
from change_mgmt.ledger.store import LEDGER_PATH, SCHEMA_VERSION, Ledger

__all__ = [
    "LEDGER_PATH",
    "LEDGER_TICKET_PREFIX",
    "SCHEMA_VERSION",
    "TRANSITIONS",
    "ApprovalDecision",
    "ChangeNotFoundError",
    "ChangeRecord",
    "ChangeReference",
    "ChangeState",
    "IllegalTransitionError",
    "InvalidChangeReference",
    "Ledger",
    "LedgerError",
    "LocalApproval",
    "Transition",
]
