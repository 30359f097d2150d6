"""``sre up``: preview with a saved plan → gate → apply exactly that plan → record it.

The update runs only when the gate is open, carries a gate receipt bound to the stack's
full name and that plan file (so the production guard in the program lets it through),
and is recorded on the change record as applying, then applied or failed.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from change_mgmt.errors import SreError
from change_mgmt.gate.automation import UpdateFailed, full_stack_name_of, run_update
from change_mgmt.gate.run import GateOutcome, GateRequest, run_gate
from change_mgmt.gate.ticketing import TicketDesk
from change_mgmt.ledger.records import ChangeRecord, ChangeState
from change_mgmt.ledger.store import Ledger
from change_mgmt.preview.redact import scrub_text
from change_mgmt.receipts import (
    DEFAULT_ISSUER,
    ISSUER_ENV,
    KEY_ENV,
    PLAN_ENV,
    RECEIPT_ENV,
    ReceiptError,
    issue_receipt,
)


@dataclass(frozen=True)
class UpOutcome:
    gate: GateOutcome
    record: ChangeRecord
    applied: bool
    changes: dict[str, int] = field(default_factory=dict)
    error: str | None = None


def gate_key() -> tuple[Path, str]:
    """The gate key (``$SRE_GATE_KEY``) and issuer name, or a clear error."""
    value = os.environ.get(KEY_ENV)
    if not value:
        raise ReceiptError(
            f"no gate key: set ${KEY_ENV} to the path of the gate's SSH signing key "
            "(held by CI and on-call; see docs/sre-up.md, 'Gate receipts')"
        )
    key = Path(value)
    if not key.is_file():
        raise ReceiptError(f"the gate key {key} (${KEY_ENV}) does not exist")
    return key, os.environ.get(ISSUER_ENV) or DEFAULT_ISSUER


def apply_gated_change(
    request: GateRequest, *, clock: Callable[[], datetime], on_output: Callable[[str], None]
) -> UpOutcome:
    """Gate a fresh preview of ``request.stack`` and, when open, apply exactly its plan."""
    if request.preview is not None or request.events is not None:
        raise SreError("sre up runs its own preview; it takes no --preview or --events")
    key, issuer = gate_key()
    full_name = full_stack_name_of(request.project_dir, request.stack)
    outcome = run_gate(request)
    if not outcome.decision.open:
        return UpOutcome(gate=outcome, record=outcome.record, applied=False)
    if outcome.plan is None:  # run_gate always saves one when it runs the preview
        raise SreError("the gated preview left no plan to apply")
    token = issue_receipt(
        stack=full_name,
        digest=outcome.changeset.digest,
        plan=outcome.plan,
        change_id=outcome.record.id,
        key=key,
        issuer=issuer,
        now=clock(),
    )
    ledger = Ledger.for_repository(request.project_dir)
    with TicketDesk.from_env(request.project_dir, ledger) as desk:

        def move(change_id: int, state: ChangeState) -> ChangeRecord:
            moved = ledger.transition(change_id, state, now=clock())
            desk.record_state(moved, now=clock())  # queued first: never lost if Jira is down
            return moved

        record = move(outcome.record.id, ChangeState.applying)
        try:
            changes = run_update(
                request.project_dir,
                full_name,  # exactly the stack the receipt names
                outcome.plan,
                env={RECEIPT_ENV: token, PLAN_ENV: str(outcome.plan.resolve())},
                # Pulumi masks secrets it knows; credential-shaped text in provider
                # errors (a DSN with a password) is scrubbed here as well.
                on_output=lambda line: on_output(scrub_text(line)),
            )
        except UpdateFailed as exc:
            record = move(record.id, ChangeState.failed)
            return UpOutcome(gate=outcome, record=record, applied=False, error=str(exc))
        record = move(record.id, ChangeState.applied)
    return UpOutcome(gate=outcome, record=record, applied=True, changes=changes)
