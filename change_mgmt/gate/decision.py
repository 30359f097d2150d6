"""The gate decision: a pure function of the change, its risk, its approvals and ticket.

Approvals and tickets are small values here; where they come from (the local ledger
today, signed git records and Jira later) is the caller's business.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from change_mgmt.ledger.records import ChangeRecord
from change_mgmt.preview import ChangeSet
from change_mgmt.principals import canonical_principal
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


# Reasons no approval can lift: the change is blocked, or the preview cannot say what
# it is. Both are fixed by a new preview, not by asking reviewers.
PREVIEW_FAILED = "preview-failed"
PREVIEW_INCOMPLETE = "preview-incomplete"
AUTHOR_UNKNOWN = "author-unknown"
# The archive is configured but did not take this run's evidence (change_mgmt/evidence).
EVIDENCE_NOT_ARCHIVED = "evidence-not-archived"
_FAILURES_SHOWN = 5


def is_blocking(code: str) -> bool:
    """Whether a reason code closes the gate whatever approvals are given."""
    return code.startswith("blocked:") or code in {PREVIEW_FAILED, PREVIEW_INCOMPLETE}


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _preview_reasons(changeset: ChangeSet) -> list[Reason]:
    """A failed or incomplete preview cannot say what would change: never "no changes"."""
    reasons: list[Reason] = []
    failures = changeset.failures
    if failures:
        shown = "; ".join(" ".join(text.split())[:300] for text in failures[:_FAILURES_SHOWN])
        more = len(failures) - _FAILURES_SHOWN
        reasons.append(
            Reason(
                PREVIEW_FAILED,
                f"The preview failed, so it cannot say what would change: {shown}"
                + (f" (and {more} more errors)" if more > 0 else ""),
            )
        )
    if changeset.incomplete:
        reasons.append(
            Reason(
                PREVIEW_INCOMPLETE,
                f"The preview is incomplete ({changeset.incomplete}), so it cannot say what "
                "would change; run it again and pass its whole output.",
            )
        )
    return reasons


def _one_per_principal(names: Sequence[str]) -> tuple[str, ...]:
    """One spelling (the first given) per principal, in canonical order."""
    first: dict[str, str] = {}
    for name in names:
        first.setdefault(canonical_principal(name), name)
    return tuple(first[key] for key in sorted(first))


def _closing_reasons(
    changeset: ChangeSet,
    assessment: RiskAssessment,
    approvals: Sequence[Approval],
    approvers: tuple[str, ...],
    missing_groups: tuple[str, ...],
    ticket: TicketRef | None,
    emergency_reason: str | None,
) -> list[Reason]:
    emergency = assessment.change_type == "emergency"
    closed = _preview_reasons(changeset)
    closed.extend(Reason(f"blocked:{f.rule}", f.explanation) for f in assessment.blockers)
    if not emergency:
        closed.extend(
            Reason(f"closed:{f.rule}", f"{f.explanation} Only an emergency change may go ahead.")
            for f in assessment.closers
        )
    if emergency and not (emergency_reason or "").strip():
        closed.append(Reason("emergency-needs-reason", "An emergency change needs a reason."))
    rejections = {
        canonical_principal(a.approver): a
        for a in reversed(approvals)
        if a.decision == "reject" and a.counts
    }
    closed.extend(
        Reason("rejected", f"Rejected by {a.approver}: {a.reason}")
        for _, a in sorted(rejections.items())
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


def close_with(decision: GateDecision, reason: Reason) -> GateDecision:
    """``decision`` closed by one more ``reason`` (its "open" reason, if any, dropped)."""
    kept = (
        tuple(r for r in decision.reasons if r.code != "open")
        if decision.open
        else decision.reasons
    )
    return dataclasses.replace(decision, open=False, reasons=(*kept, reason))


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
    author_known: bool = True,
) -> GateDecision:
    """Open only when nothing blocks, every required approval counts, and a ticket exists.

    ``author_known`` False: nobody could say who wrote the change, so four eyes cannot be
    checked and no approval can make up for it (fail closed when any is required).

    Only approvals of exactly this change (its stack and digest) count or veto, whatever
    the source handed in, and each principal counts once however it is spelt. A preview
    that failed or is incomplete closes the gate whatever the risk policy says.
    """
    approvals = [a for a in approvals if (a.stack, a.digest) == (changeset.stack, changeset.digest)]
    counted = [a for a in approvals if a.decision == "approve" and a.counts]
    approvers = _one_per_principal([a.approver for a in counted])
    groups_present = {group for a in counted for group in a.groups}
    missing_groups = tuple(g for g in assessment.required_groups if g not in groups_present)
    closed = _closing_reasons(
        changeset, assessment, approvals, approvers, missing_groups, ticket, emergency_reason
    )
    if not author_known and assessment.required_approvals > 0:
        closed.append(
            Reason(
                AUTHOR_UNKNOWN,
                "The change's author is unknown, so no approval can be checked against four "
                "eyes: pass --author (CI: the pull request's author) or $SRE_CHANGE_AUTHOR.",
            )
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
