"""What the ledger stores: change records, their states and the allowed moves, local approvals.

The ledger takes plain values (risk level, score, change type as strings) so that it does
not depend on the risk module; the gate translates between them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from change_mgmt.errors import SreError

RISK_LEVELS: tuple[str, ...] = ("low", "medium", "high", "critical")
CHANGE_TYPES: tuple[str, ...] = ("standard", "normal", "emergency")
DIGEST_PATTERN = re.compile(r"^[0-9a-f]{64}$")
LEDGER_TICKET_PREFIX = "CHG-"
"""Without a Jira key, a record's ticket is ``CHG-<id>``: what the gate prints as its ticket."""
_PLAIN_ID = re.compile(r"^[1-9][0-9]{0,17}$")  # fits SQLite's 64-bit integers
_TICKET_KEY = re.compile(r"^[A-Z][A-Z0-9_]{0,30}-[1-9][0-9]{0,17}$")


class LedgerError(SreError):
    """The ledger cannot do what was asked: bad input, unreadable file, refused move."""


class ChangeNotFoundError(LedgerError):
    """No change record has the given id (or ticket)."""

    def __init__(self, change_id: int | str) -> None:
        self.change_id = change_id
        super().__init__(f"no change record {change_id}; see `sre changes list`")


class InvalidChangeReference(LedgerError):
    """Text that cannot name a change, or names more than one: bad input, not a failure."""


@dataclass(frozen=True)
class ChangeReference:
    """How a person names a change: its id (``4``), its ledger ticket (``CHG-4``) or the
    Jira key stored on its record (``OPS-12``) — every form the CLI prints."""

    text: str
    change_id: int | None
    """The id ``4`` or ``CHG-4`` spells."""
    ticket: str | None
    """The ticket identity to match (``CHG-4``, ``OPS-12``); None for a plain id."""

    @classmethod
    def parse(cls, text: str) -> ChangeReference:
        value = text.strip()
        if _PLAIN_ID.match(value):
            return cls(value, int(value), None)
        key = value.upper()
        if _TICKET_KEY.match(key):
            ledger_id = key.removeprefix(LEDGER_TICKET_PREFIX)
            own = int(ledger_id) if key.startswith(LEDGER_TICKET_PREFIX) else None
            return cls(value, own, key)
        shown = value if len(value) <= 40 else value[:40] + "…"
        raise InvalidChangeReference(
            f"{shown!r} is not a change: give its id (4), its ledger ticket (CHG-4) or "
            "the Jira key on its record (OPS-12); see `sre changes list`"
        )


class IllegalTransitionError(LedgerError):
    """The state machine does not allow the requested move from the current state."""

    def __init__(
        self, change_id: int, current: ChangeState, requested: ChangeState, why: str = ""
    ) -> None:
        self.change_id = change_id
        self.current = current
        self.requested = requested
        allowed = ", ".join(s.value for s in TRANSITIONS[current]) or "nothing (final state)"
        reason = why or f"from {current.value} it can move to: {allowed}"
        super().__init__(
            f"change {change_id} is {current.value}; it cannot move to {requested.value} ({reason})"
        )


class ChangeState(StrEnum):
    """Where a change is in its life. ``rolled_back`` is final."""

    proposed = "proposed"
    approved = "approved"
    applying = "applying"
    applied = "applied"
    failed = "failed"
    rolled_back = "rolled_back"


TRANSITIONS: Mapping[ChangeState, frozenset[ChangeState]] = {
    # proposed → applying skips approval: only standard (pre-approved) and emergency changes.
    ChangeState.proposed: frozenset({ChangeState.approved, ChangeState.applying}),
    ChangeState.approved: frozenset({ChangeState.applying}),
    ChangeState.applying: frozenset({ChangeState.applied, ChangeState.failed}),
    ChangeState.applied: frozenset({ChangeState.rolled_back}),
    # failed → applying is a retry of the same change.
    ChangeState.failed: frozenset({ChangeState.applying, ChangeState.rolled_back}),
    ChangeState.rolled_back: frozenset(),
}
# Change types that may go from proposed straight to applying without an approval.
SKIPS_APPROVAL: frozenset[str] = frozenset({"standard", "emergency"})


class ApprovalDecision(StrEnum):
    approve = "approve"
    reject = "reject"


def format_time(moment: datetime) -> str:
    """ISO 8601 in UTC with a ``Z`` suffix, as every machine output of the ledger shows it."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _maybe_time(moment: datetime | None) -> str | None:
    return None if moment is None else format_time(moment)


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


class ChangeRecord(BaseModel):
    """One change to one stack, identified by the digest of its preview."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: Annotated[int, Field(ge=1)]
    stack: Annotated[str, Field(min_length=1)]
    digest: Annotated[str, Field(pattern=DIGEST_PATTERN.pattern)]
    risk_level: str
    risk_score: Annotated[int, Field(ge=0)]
    change_type: str
    author: str | None
    commit: str | None
    emergency_reason: str | None
    ticket_key: str | None
    summary: dict[str, Annotated[int, Field(ge=0)]]
    state: ChangeState
    state_times: dict[ChangeState, AwareDatetime]
    created_at: AwareDatetime
    updated_at: AwareDatetime
    review_due_at: AwareDatetime | None = None
    reviewed_at: AwareDatetime | None = None
    reviewer: str | None = None
    review_notes: str | None = None
    what_if_only: bool = False
    """Only what-if gate runs (``sre gate --at``) have assessed this change: its risk
    fields are provisional, it owes nothing, and the first real gate run replaces them."""
    evidence: tuple[str, ...] = ()
    """URIs of the documents archived for this change (``s3://bucket/<stack>/<digest>/...``),
    in the order they were added (:meth:`Ledger.add_evidence`)."""

    @property
    def ticket(self) -> str:
        """The ticket identity printed everywhere: the Jira key, else ``CHG-<id>``."""
        return self.ticket_key or f"{LEDGER_TICKET_PREFIX}{self.id}"

    @property
    def is_emergency(self) -> bool:
        """A real gate run let this change through as an emergency: it owes a post-change
        review, and it stays an emergency however it is gated later."""
        return self.change_type == "emergency" and not self.what_if_only

    def review_overdue(self, now: datetime) -> bool:
        """An emergency change whose post-change review is due and not yet done."""
        return (
            self.is_emergency
            and self.review_due_at is not None
            and self.reviewed_at is None
            and now >= self.review_due_at
        )

    @field_validator("risk_level")
    @classmethod
    def _known_risk_level(cls, value: str) -> str:
        return _one_of(value, RISK_LEVELS, "risk level")

    @field_validator("change_type")
    @classmethod
    def _known_change_type(cls, value: str) -> str:
        return _one_of(value, CHANGE_TYPES, "change type")

    @field_validator("created_at", "updated_at")
    @classmethod
    def _in_utc(cls, value: datetime) -> datetime:
        return _utc(value)

    @field_validator("review_due_at", "reviewed_at")
    @classmethod
    def _optional_in_utc(cls, value: datetime | None) -> datetime | None:
        return None if value is None else _utc(value)

    @field_validator("state_times")
    @classmethod
    def _times_in_utc(cls, value: dict[ChangeState, datetime]) -> dict[ChangeState, datetime]:
        return {state: _utc(moment) for state, moment in value.items()}

    def as_dict(self) -> dict[str, Any]:
        """The stable JSON form (``sre changes list/show --format json``): full digest, ISO
        times in UTC, state times in state order."""
        return {
            "id": self.id,
            "stack": self.stack,
            "digest": self.digest,
            "state": self.state.value,
            "risk_level": self.risk_level,
            "risk_score": self.risk_score,
            "change_type": self.change_type,
            "author": self.author,
            "commit": self.commit,
            "emergency_reason": self.emergency_reason,
            "ticket_key": self.ticket_key,
            "ticket": self.ticket,
            "what_if_only": self.what_if_only,
            "summary": dict(sorted(self.summary.items())),
            "state_times": {
                state.value: format_time(self.state_times[state])
                for state in ChangeState
                if state in self.state_times
            },
            "created_at": format_time(self.created_at),
            "updated_at": format_time(self.updated_at),
            "review_due_at": _maybe_time(self.review_due_at),
            "reviewed_at": _maybe_time(self.reviewed_at),
            "reviewer": self.reviewer,
            "review_notes": self.review_notes,
            "evidence": list(self.evidence),
        }


class LocalApproval(BaseModel):
    """An unsigned approval (or rejection) kept in the ledger, used only where the base
    branch has no approvers.yaml. One per approver per (stack, digest); the latest wins."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    stack: Annotated[str, Field(min_length=1)]
    digest: Annotated[str, Field(pattern=DIGEST_PATTERN.pattern)]
    approver: Annotated[str, Field(min_length=1)]
    decision: ApprovalDecision
    reason: Annotated[str, Field(min_length=1)]
    created_at: AwareDatetime

    @field_validator("created_at")
    @classmethod
    def _in_utc(cls, value: datetime) -> datetime:
        return _utc(value)

    def as_dict(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "digest": self.digest,
            "approver": self.approver,
            "decision": self.decision.value,
            "reason": self.reason,
            "created_at": format_time(self.created_at),
        }


class Transition(BaseModel):
    """One move of a change record; ``from_state`` is None for the proposal itself."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    change_id: int
    from_state: ChangeState | None
    to_state: ChangeState
    at: AwareDatetime

    @field_validator("at")
    @classmethod
    def _in_utc(cls, value: datetime) -> datetime:
        return _utc(value)

    def as_dict(self) -> dict[str, Any]:
        return {
            "from": self.from_state.value if self.from_state else None,
            "to": self.to_state.value,
            "at": format_time(self.at),
        }


def _one_of(value: str, allowed: tuple[str, ...], what: str) -> str:
    if value not in allowed:
        raise ValueError(f"{what} {value!r} is not one of {', '.join(allowed)}")
    return value
