"""Archiving one gate run, and what the gate does when that fails.

A configured archive that cannot take the evidence closes the gate
(``evidence-not-archived``): an approval whose evidence is lost with the runner must
not pass for production. No archive configured: nothing is archived and nothing
closes (a laptop). A what-if run (``sre gate --at``) decides nothing and is not
archived.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from change_mgmt.errors import SreError
from change_mgmt.evidence.archive import EvidenceArchive
from change_mgmt.evidence.documents import gate_run_documents
from change_mgmt.evidence.location import EvidenceLocation, configured_location
from change_mgmt.gate.decision import EVIDENCE_NOT_ARCHIVED, GateDecision, Reason, close_with
from change_mgmt.ledger.records import ChangeRecord
from change_mgmt.ledger.store import Ledger

if TYPE_CHECKING:
    from change_mgmt.gate.run import GateOutcome

ArchiveFactory = Callable[[EvidenceLocation], EvidenceArchive]


def archive_gate_run(
    outcome: GateOutcome,
    ledger: Ledger,
    *,
    now: datetime,
    location: EvidenceLocation | None = None,
    archive: ArchiveFactory = EvidenceArchive,
) -> tuple[GateDecision, ChangeRecord]:
    """Archive ``outcome``'s documents and name them on its record; the decision (closed
    when the archive is configured and the upload fails) and the record as it is now."""
    location = location or configured_location()
    if location is None:
        return outcome.decision, outcome.record
    changeset = outcome.changeset
    try:
        uris = archive(location).store(
            changeset.stack, changeset.digest, gate_run_documents(outcome), now=now
        )
        record = ledger.add_evidence(outcome.record.id, uris, now=now)
    except SreError as exc:
        reason = Reason(
            EVIDENCE_NOT_ARCHIVED,
            f"The evidence of this run (preview, plan, gate report) could not be archived "
            f"in {location}, and without it no approval can be shown later: {exc}. Fix "
            "the archive ($SRE_EVIDENCE_URL, the credentials) and run the gate again.",
        )
        return close_with(outcome.decision, reason), outcome.record
    return outcome.decision, record
