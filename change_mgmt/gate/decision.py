"""The gate decision: a pure function of the change, its risk, its approvals and ticket.

Approvals and tickets are small values here; where they come from (the local ledger
today, signed git records and Jira later) is the caller's business.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from change_mgmt.ledger.records import ChangeRecord
from change_mgmt.preview import ChangeSet
from change_mgmt.risk.assess import RiskAssessment


@dataclass(frozen=True)
class Approval:
    """One approval or rejection of one change, and whether it counts (and why not)."""

    stack: str
    digest: str
    approver: str
    decision: Literal["approve", "reject"]
    reason: str
    source: str
    created_at: datetime | None = None
    groups: tuple[str, ...] = ()
    counts: bool = True
    why_not: str | None = None


class ApprovalSource(Protocol):
    def approvals(
        self, changeset: ChangeSet, *, author: str | None, now: datetime
    ) -> list[Approval]: ...


@dataclass(frozen=True)
class TicketRef:
    """The change ticket (or local change record) the change is tracked by."""

    key: str
    source: str
    state: str
    url: str | None = None


class TicketSource(Protocol):
    """Finds or opens the ticket of a change record; None means there is none (fail closed)."""

    def ticket_for(self, record: ChangeRecord) -> TicketRef | None: ...


@dataclass(frozen=True)
class Reason:
    code: str
    message: str


@dataclass(frozen=True)
class GateDecision:
    open: bool
    reasons: tuple[Reason, ...]
    required_approvals: int
    required_groups: tuple[str, ...]
    approvers: tuple[str, ...]
    missing_approvals: int
    missing_groups: tuple[str, ...]
    emergency: bool


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _closing_reasons(
    assessment: RiskAssessment,
    approvals: Sequence[Approval],
    approvers: tuple[str, ...],
    missing_groups: tuple[str, ...],
    ticket: TicketRef | None,
    emergency_reason: str | None,
) -> list[Reason]:
    emergency = assessment.change_type == "emergency"
    closed = [Reason(f"blocked:{f.rule}", f.explanation) for f in assessment.blockers]
    if not emergency:
        closed.extend(
            Reason(f"closed:{f.rule}", f"{f.explanation} Only an emergency change may go ahead.")
            for f in assessment.closers
        )
    if emergency and not (emergency_reason or "").strip():
        closed.append(Reason("emergency-needs-reason", "An emergency change needs a reason."))
    closed.extend(
        Reason("rejected", f"Rejected by {a.approver}: {a.reason}")
        for a in approvals
        if a.decision == "reject" and a.counts
    )
    required = assessment.required_approvals
    if len(approvers) < required:
        present = f" ({', '.join(approvers)})" if approvers else ""
        closed.append(
            Reason(
                "approvals-missing",
                f"Risk {assessment.level} needs {_plural(required, 'approval')}; "
                f"{len(approvers)} present{present}.",
            )
        )
    closed.extend(
        Reason(
            "group-approval-missing",
            f"A {assessment.level} change needs an approval from the {group} group.",
        )
        for group in missing_groups
    )
    if ticket is None:
        closed.append(
            Reason("no-ticket", "No change ticket exists; no ticket, no production change.")
        )
    return closed


def _open_reason(
    assessment: RiskAssessment, approvers: tuple[str, ...], emergency_reason: str | None
) -> Reason:
    required = assessment.required_approvals
    counted = f"{_plural(len(approvers), 'approval')} of {required} required"
    if assessment.change_type == "emergency":
        why = f"Emergency change ({emergency_reason}): {counted}; a post-change review is due."
    elif required == 0:
        why = f"Risk {assessment.level}: no approval required."
    else:
        why = f"Risk {assessment.level}: {counted} ({', '.join(approvers)})."
    return Reason("open", why)


def decide(
    changeset: ChangeSet,
    assessment: RiskAssessment,
    approvals: Sequence[Approval],
    ticket: TicketRef | None,
    *,
    emergency_reason: str | None = None,
) -> GateDecision:
    """Open only when nothing blocks, every required approval counts, and a ticket exists.

    Only approvals of exactly this change (its stack and digest) count or veto, whatever
    the source handed in.
    """
    approvals = [a for a in approvals if (a.stack, a.digest) == (changeset.stack, changeset.digest)]
    counted = [a for a in approvals if a.decision == "approve" and a.counts]
    approvers = tuple(sorted({a.approver for a in counted}))
    groups_present = {group for a in counted for group in a.groups}
    missing_groups = tuple(g for g in assessment.required_groups if g not in groups_present)
    closed = _closing_reasons(
        assessment, approvals, approvers, missing_groups, ticket, emergency_reason
    )
    reasons = tuple(closed) if closed else (_open_reason(assessment, approvers, emergency_reason),)
    return GateDecision(
        open=not closed,
        reasons=reasons,
        required_approvals=assessment.required_approvals,
        required_groups=assessment.required_groups,
        approvers=approvers,
        missing_approvals=max(0, assessment.required_approvals - len(approvers)),
        missing_groups=missing_groups,
        emergency=assessment.change_type == "emergency",
    )
