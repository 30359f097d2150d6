"""The shared change ledger on DynamoDB: what the SQLite ledger does, for many runners.

Every write is conditional. A change is created once: an identity item per
``(stack, digest)`` is put with ``attribute_not_exists`` in the same transaction as the
record, and its id comes from an atomic counter, so racing gates end up with one record
and one id. Every later write of a record is guarded by its ``version`` (optimistic
concurrency): a runner that lost the race re-reads the record and tries again while the
move is still legal, so a move is never made twice and never lost. Each state move is
written with its history item in one transaction. Item layout: docs/ledger.md.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from change_mgmt.ledger.config import LedgerLocation
from change_mgmt.ledger.dynamo_table import (
    CONFLICT_RETRIES,
    Conflict,
    DynamoTable,
    Lease,
    change_sk,
    pause,
)
from change_mgmt.ledger.records import (
    CHANGE_TYPES,
    RISK_LEVELS,
    ApprovalDecision,
    ChangeNotFoundError,
    ChangeRecord,
    ChangeReference,
    ChangeState,
    InvalidChangeReference,
    LedgerError,
    LocalApproval,
    Transition,
)
from change_mgmt.ledger.store import (
    REMINDER_ERROR_LIMIT,
    REMINDER_LEASE,
    TICKET_CLAIM_LEASE,
    Ledger,
    Reminder,
    ReminderClaim,
    TicketClaim,
    _check_choice,
    _check_claim,
    _check_digest,
    _check_lease,
    _check_summary,
    _check_text,
    _check_uris,
    _merge_evidence,
    _stamp,
    _unstamp,
    check_move,
)
from change_mgmt.principals import same_principal

TICKET_CLAIM_PK = "TICKETCLAIM"
"""Partition of the ticket-creation claims, one item per change (sort key: its id)."""

Edit = Callable[[ChangeRecord], ChangeRecord | None]
"""A change to a record: the new record, or None when there is nothing to write."""


class DynamoLedger(Ledger):
    """The :class:`Ledger` API on one DynamoDB table (``dynamodb://TABLE?region=...``).

    It overrides every public method of :class:`Ledger` (a test checks), so nothing of
    the SQLite implementation runs here.
    """

    def __init__(self, location: LedgerLocation) -> None:  # no SQLite file: no super()
        self.location = location
        self.url = location.url
        self.table = DynamoTable(location)

    # -- change records -------------------------------------------------------------

    def propose(
        self,
        stack: str,
        digest: str,
        *,
        risk_level: str,
        risk_score: int,
        change_type: str,
        author: str | None,
        commit: str | None,
        summary: Mapping[str, int],
        emergency_reason: str | None = None,
        review_due_at: datetime | None = None,
        what_if: bool = False,
        now: datetime,
    ) -> ChangeRecord:
        _check_text(stack, "stack")
        _check_digest(digest)
        _check_choice(risk_level, RISK_LEVELS, "risk level")
        _check_choice(change_type, CHANGE_TYPES, "change type")
        if isinstance(risk_score, bool) or not isinstance(risk_score, int) or risk_score < 0:
            raise LedgerError(f"risk score must be a non-negative integer, not {risk_score!r}")
        counts = _check_summary(summary)
        reason = emergency_reason.strip() if emergency_reason else None
        if change_type == "emergency" and not reason:
            raise LedgerError("an emergency change needs a reason (emergency_reason)")
        at = _unstamp(_stamp(now))
        due = None if what_if or review_due_at is None else _unstamp(_stamp(review_due_at))
        for attempt in range(CONFLICT_RETRIES):
            identity = self.table.get(f"IDENTITY#{digest}", stack)
            if identity is None:
                change_id = self.table.next_id("change")
                record = ChangeRecord(
                    id=change_id,
                    stack=stack,
                    digest=digest,
                    risk_level=risk_level,
                    risk_score=risk_score,
                    change_type=change_type,
                    author=author,
                    commit=commit,
                    emergency_reason=reason,
                    ticket_key=None,
                    summary=counts,
                    state=ChangeState.proposed,
                    state_times={ChangeState.proposed: at},
                    created_at=at,
                    updated_at=at,
                    review_due_at=due,
                    what_if_only=what_if,
                )
                try:
                    self.table.transact(
                        [
                            _put(
                                {"pk": f"IDENTITY#{digest}", "sk": stack, "change_id": change_id},
                                new=True,
                            ),
                            _put(self._item(record, 1), new=True),
                            _put(_history_item(record, None, 1), new=True),
                        ]
                    )
                except Conflict:  # another runner created it first: refresh theirs
                    pause(attempt)
                    continue
                return record
            current, version = self._read(int(identity["change_id"]))
            if what_if:
                return current
            kind, why = change_type, reason
            if current.is_emergency:
                kind, why = "emergency", reason or current.emergency_reason
            fresh = current.model_copy(
                update={
                    "risk_level": risk_level,
                    "risk_score": risk_score,
                    "change_type": kind,
                    "emergency_reason": why,
                    "commit": commit if commit is not None else current.commit,
                    "author": current.author if current.author is not None else author,
                    "updated_at": at,
                    "review_due_at": current.review_due_at or due,
                    "what_if_only": False,
                }
            )
            try:
                self._put_record(fresh, version)
            except Conflict:
                pause(attempt)
                continue
            return fresh
        raise self._busy(f"{stack} {digest[:12]}")

    def get(self, change_id: int) -> ChangeRecord:
        return self._read(change_id)[0]

    def resolve(self, reference: ChangeReference | str) -> ChangeRecord:
        ref = (
            reference
            if isinstance(reference, ChangeReference)
            else ChangeReference.parse(reference)
        )
        if ref.ticket is None and ref.change_id is not None:
            return self.get(ref.change_id)
        records = sorted(self._all(), key=lambda r: r.id)
        found = [
            r
            for r in records
            if (r.ticket_key is not None and r.ticket_key.upper() == ref.ticket)
            or (r.ticket_key is None and r.id == ref.change_id)
        ]
        if not found and ref.change_id is not None:
            found = [r for r in records if r.id == ref.change_id]
        if not found:
            raise ChangeNotFoundError(ref.ticket or ref.text)
        if len(found) > 1:
            ids = " and ".join(str(record.id) for record in found)
            raise InvalidChangeReference(
                f"{ref.ticket} names changes {ids}; give the plain id instead"
            )
        return found[0]

    def find(self, stack: str, digest: str) -> ChangeRecord | None:
        identity = self.table.get(f"IDENTITY#{digest}", stack)
        return None if identity is None else self.get(int(identity["change_id"]))

    def transition(self, change_id: int, state: ChangeState, *, now: datetime) -> ChangeRecord:
        target = ChangeState(state)
        at = _unstamp(_stamp(now))

        def move(record: ChangeRecord) -> ChangeRecord:
            check_move(record, target)  # re-checked on every re-read after a lost race
            times = {**record.state_times, target: at}
            return record.model_copy(
                update={"state": target, "state_times": times, "updated_at": at}
            )

        return self._edit(change_id, move, moves=True)

    def record_review(
        self, change_id: int, *, reviewer: str, notes: str, now: datetime
    ) -> ChangeRecord:
        _check_text(reviewer, "reviewer")
        _check_text(notes, "review notes")
        at = _unstamp(_stamp(now))

        def review(record: ChangeRecord) -> ChangeRecord:
            if not record.is_emergency:
                kind = "what-if only" if record.what_if_only else record.change_type
                raise LedgerError(
                    f"change {change_id} is a {kind} change; only emergency "
                    "changes owe a post-change review"
                )
            if record.reviewed_at is not None:
                raise LedgerError(f"change {change_id} was already reviewed by {record.reviewer}")
            if same_principal(record.author, reviewer):
                raise LedgerError(
                    f"four eyes: {reviewer} made change {change_id} and cannot review it"
                )
            return record.model_copy(
                update={
                    "reviewed_at": at,
                    "reviewer": reviewer,
                    "review_notes": notes.strip(),
                    "updated_at": at,
                }
            )

        return self._edit(change_id, review)

    def set_ticket(self, change_id: int, key: str, *, now: datetime) -> ChangeRecord:
        _check_text(key, "ticket key")
        if any(c.isspace() for c in key):
            raise LedgerError(f"ticket key {key!r} must not contain whitespace")
        at = _unstamp(_stamp(now))

        def link(record: ChangeRecord) -> ChangeRecord | None:
            if record.ticket_key == key:
                return None
            if record.ticket_key is not None:
                raise LedgerError(
                    f"change {change_id} is already linked to ticket {record.ticket_key}; "
                    f"refusing to replace it with {key}"
                )
            return record.model_copy(update={"ticket_key": key, "updated_at": at})

        linked = self._edit(change_id, link)
        # The key is known: the claim ends, and the claim item says so, so that no run
        # claims after this (the claim's own condition, see claim_ticket_creation).
        self.table.update(
            TICKET_CLAIM_PK,
            change_sk(change_id),
            "SET ticket_key = :k, change_id = :id REMOVE claimed_by, claimed_until",
            values={":k": linked.ticket_key, ":id": change_id},
        )
        return linked

    def claim_ticket_creation(
        self, change_id: int, *, now: datetime, lease: timedelta = TICKET_CLAIM_LEASE
    ) -> TicketClaim | None:
        import secrets

        _check_lease(lease)
        at, until = _stamp(now), _stamp(now + lease)
        sk = change_sk(change_id)
        for attempt in range(CONFLICT_RETRIES):
            if self.get(change_id).ticket_key is not None:
                return None
            held = self.table.get(TICKET_CLAIM_PK, sk) or {}
            if "ticket_key" in held or held.get("claimed_until", "") > at:
                return None
            token = secrets.token_hex(8)
            take = Lease(
                TICKET_CLAIM_PK,
                sk,
                token,
                until,
                at,
                condition="attribute_not_exists(ticket_key)",  # set_ticket sets it
                also={"change_id": change_id, "claimed_at": at},
            )
            try:
                self.table.take_lease(take)
            except Conflict:  # another run claimed, or the key was stored: look again
                pause(attempt)
                continue
            if self.get(change_id).ticket_key is not None:  # stored while we claimed
                self._end_claim(change_id, token)
                return None
            taken_over = "claimed_until" in held
            return TicketClaim(change_id, token, _unstamp(until), taken_over=taken_over)
        raise self._busy(f"the ticket claim of change {change_id}")

    def release_ticket_claim(self, change_id: int, claim: TicketClaim) -> None:
        _check_claim(change_id, claim)
        self._end_claim(change_id, claim.token)

    def _end_claim(self, change_id: int, token: str) -> None:
        """Remove ``token``'s lease on a change's ticket claim, if it still holds it."""
        try:
            self.table.update(
                TICKET_CLAIM_PK,
                change_sk(change_id),
                "REMOVE claimed_by, claimed_until",
                values={":me": token},
                condition="claimed_by = :me",
            )
        except Conflict:
            return  # taken over or ended meanwhile: nothing of ours to remove

    def add_evidence(self, change_id: int, uris: Sequence[str], *, now: datetime) -> ChangeRecord:
        wanted = _check_uris(uris)
        at = _unstamp(_stamp(now))

        def add(record: ChangeRecord) -> ChangeRecord | None:
            merged = _merge_evidence(record.evidence, wanted)
            if merged == record.evidence:
                return None
            return record.model_copy(update={"evidence": merged, "updated_at": at})

        return self._edit(change_id, add)

    def history(self, change_id: int) -> builtins.list[Transition]:
        self.get(change_id)
        return [
            Transition(
                change_id=change_id,
                from_state=item.get("from_state"),
                to_state=item["to_state"],
                at=item["at"],
            )
            for item in self.table.query(f"HISTORY#{change_sk(change_id)}")
        ]

    def list(
        self,
        *,
        stack: str | None = None,
        since: datetime | None = None,
        states: Collection[ChangeState] | None = None,
    ) -> builtins.list[ChangeRecord]:
        wanted = None if states is None else {ChangeState(s) for s in states}
        records = [
            r
            for r in self._all()
            if (stack is None or r.stack == stack)
            and (since is None or r.created_at >= since)
            and (wanted is None or r.state in wanted)
        ]
        return sorted(records, key=lambda r: (r.created_at, r.id), reverse=True)

    # -- local approvals ------------------------------------------------------------

    def add_approval(
        self,
        stack: str,
        digest: str,
        *,
        approver: str,
        decision: ApprovalDecision | str,
        reason: str,
        now: datetime,
    ) -> LocalApproval:
        _check_text(stack, "stack")
        _check_digest(digest)
        _check_text(approver, "approver")
        try:
            verdict = ApprovalDecision(decision)
        except ValueError:
            raise LedgerError(
                f"decision {decision!r} is not one of "
                f"{', '.join(d.value for d in ApprovalDecision)}"
            ) from None
        if not reason or not reason.strip():
            raise LedgerError("an approval needs a reason: say what you checked")
        approval = LocalApproval(
            stack=stack,
            digest=digest,
            approver=approver.strip(),
            decision=verdict,
            reason=reason.strip(),
            created_at=_unstamp(_stamp(now)),
        )
        self.table.put(approval_item(approval))  # the latest decision of an approver wins
        return approval

    def approvals(self, stack: str, digest: str) -> builtins.list[LocalApproval]:
        found = [
            LocalApproval(
                stack=item["stack"],
                digest=item["digest"],
                approver=item["approver"],
                decision=item["decision"],
                reason=item["reason"],
                created_at=item["created_at"],
            )
            for item in self.table.query(f"APPROVAL#{digest}#{stack}")
        ]
        return sorted(found, key=lambda a: (a.created_at, a.approver))

    # -- expiry reminders -----------------------------------------------------------

    def claim_reminder(
        self,
        environment: str,
        expires_at: datetime,
        *,
        now: datetime,
        lease: timedelta = REMINDER_LEASE,
    ) -> ReminderClaim | None:
        import secrets

        _check_text(environment, "environment")
        at, expiry = _stamp(now), _stamp(expires_at)
        sk = reminder_sk(environment, expiry)
        for attempt in range(CONFLICT_RETRIES):
            token = secrets.token_hex(8)
            row = self.table.get("REMINDER", sk)
            try:
                if row is None:
                    self.table.put(
                        {
                            "pk": "REMINDER",
                            "sk": sk,
                            "environment": environment,
                            "expires_at": expiry,
                            "state": "sending",
                            "claim_token": token,
                            "claimed_at": at,
                            "attempts": 1,
                        },
                        condition="attribute_not_exists(pk)",
                    )
                    return ReminderClaim(environment, expires_at, token, attempt=1)
                state = row["state"]
                if state == "sent" or (
                    state == "sending" and row["claimed_at"] > _stamp(now - lease)
                ):
                    return None
                self.table.update(
                    "REMINDER",
                    sk,
                    "SET #s = :sending, claim_token = :t, claimed_at = :at, attempts = :n",
                    names={"#s": "state"},
                    values={
                        ":sending": "sending",
                        ":t": token,
                        ":at": at,
                        ":n": int(row["attempts"]) + 1,
                        ":old": row["claim_token"],
                        ":was": state,
                    },
                    condition="claim_token = :old AND #s = :was",
                )
            except Conflict:  # another run claimed it meanwhile: look again
                pause(attempt)
                continue
            return ReminderClaim(
                environment,
                expires_at,
                token,
                attempt=int(row["attempts"]) + 1,
                taken_over=state == "sending",
            )
        raise self._busy(f"reminder {environment}")

    def reminder_sent(self, claim: ReminderClaim, *, now: datetime) -> None:
        try:
            self.table.update(
                "REMINDER",
                reminder_sk(claim.environment, _stamp(claim.expires_at)),
                "SET #s = :sent, sent_at = if_not_exists(sent_at, :at) REMOVE last_error",
                names={"#s": "state"},
                values={":sent": "sent", ":at": _stamp(now)},
                condition="attribute_exists(pk)",
            )
        except Conflict:
            return  # no such reminder: nothing to mark (as the SQLite UPDATE does)

    def reminder_failed(self, claim: ReminderClaim, error: str, *, now: datetime) -> None:
        del now
        try:
            self.table.update(
                "REMINDER",
                reminder_sk(claim.environment, _stamp(claim.expires_at)),
                "SET #s = :failed, last_error = :e",
                names={"#s": "state"},
                values={
                    ":failed": "failed",
                    ":e": error.strip()[:REMINDER_ERROR_LIMIT] or "failed",
                    ":t": claim.token,
                    ":sending": "sending",
                },
                condition="claim_token = :t AND #s = :sending",
            )
        except Conflict:
            return  # taken over or sent meanwhile: left alone

    def reminders(self, environment: str | None = None) -> builtins.list[Reminder]:
        rows = [
            Reminder(
                environment=item["environment"],
                expires_at=_unstamp(item["expires_at"]),
                state=item["state"],
                attempts=int(item["attempts"]),
                claimed_at=_unstamp(item["claimed_at"]),
                sent_at=None if item.get("sent_at") is None else _unstamp(item["sent_at"]),
                last_error=item.get("last_error"),
            )
            for item in self.table.query("REMINDER")
            if environment is None or item["environment"] == environment
        ]
        return sorted(rows, key=lambda r: (r.environment, r.expires_at))

    # -- plumbing -------------------------------------------------------------------

    def _edit(self, change_id: int, edit: Edit, *, moves: bool = False) -> ChangeRecord:
        """Read, edit, write guarded by the version read; a lost race re-reads and edits
        again (the edit re-checks that it is still allowed)."""
        for attempt in range(CONFLICT_RETRIES):
            record, version = self._read(change_id)
            fresh = edit(record)
            if fresh is None:
                return record
            try:
                if moves:
                    self.table.transact(
                        [
                            _put(
                                self._item(fresh, version + 1),
                                condition="version = :v AND #s = :s",
                                values={":v": version, ":s": record.state.value},
                                names={"#s": "state"},
                            ),
                            _put(_history_item(fresh, record.state, version + 1), new=True),
                        ]
                    )
                else:
                    self._put_record(fresh, version)
            except Conflict:
                pause(attempt)
                continue
            return fresh
        raise self._busy(f"change {change_id}")

    def _put_record(self, record: ChangeRecord, version: int) -> None:
        self.table.put(
            self._item(record, version + 1),
            condition="version = :v",
            values={":v": version},
        )

    def _item(self, record: ChangeRecord, version: int) -> dict[str, Any]:
        return record_item(record, version)

    def _read(self, change_id: int) -> tuple[ChangeRecord, int]:
        item = self.table.get("CHANGE", change_sk(change_id))
        if item is None:
            raise ChangeNotFoundError(change_id)
        return self._record(item), int(item["version"])

    def _all(self) -> builtins.list[ChangeRecord]:
        return [self._record(item) for item in self.table.query("CHANGE")]

    def _record(self, item: Mapping[str, Any]) -> ChangeRecord:  # type: ignore[override]
        try:
            return ChangeRecord.model_validate_json(item["body"])
        except (ValidationError, KeyError) as exc:
            raise LedgerError(
                f"{self.url}: change record {item.get('sk')} is damaged ({exc})"
            ) from None

    def _busy(self, what: str) -> LedgerError:
        return LedgerError(
            f"{what}: {CONFLICT_RETRIES} writes in a row lost a race with other runners "
            f"on {self.url}; try again"
        )


def record_item(record: ChangeRecord, version: int) -> dict[str, Any]:
    return {
        "pk": "CHANGE",
        "sk": change_sk(record.id),
        "id": record.id,
        "stack": record.stack,
        "digest": record.digest,
        "state": record.state.value,
        "ticket_key": record.ticket_key,
        "created_at": _stamp(record.created_at),
        "version": version,
        "body": record.model_dump_json(),
    }


def _history_item(
    record: ChangeRecord, from_state: ChangeState | None, version: int
) -> dict[str, Any]:
    return history_item(record.id, from_state, record.state, record.updated_at, version)


def history_item(
    change_id: int, from_state: ChangeState | None, to_state: ChangeState, at: datetime, seq: int
) -> dict[str, Any]:
    return {
        "pk": f"HISTORY#{change_sk(change_id)}",
        "sk": f"{seq:020d}",
        "from_state": None if from_state is None else from_state.value,
        "to_state": to_state.value,
        "at": _stamp(at),
    }


def approval_item(approval: LocalApproval) -> dict[str, Any]:
    return {
        "pk": f"APPROVAL#{approval.digest}#{approval.stack}",
        "sk": approval.approver.lower(),
        "stack": approval.stack,
        "digest": approval.digest,
        "approver": approval.approver,
        "decision": approval.decision.value,
        "reason": approval.reason,
        "created_at": _stamp(approval.created_at),
    }


def reminder_sk(environment: str, expiry: str) -> str:
    return f"{expiry}#{environment}"


def _put(
    item: Mapping[str, Any],
    *,
    new: bool = False,
    condition: str | None = None,
    values: Mapping[str, Any] | None = None,
    names: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A ``Put`` of a transaction (values typed by :meth:`DynamoTable.transact`)."""
    body: dict[str, Any] = {"Item": dict(item)}
    if new:
        body["ConditionExpression"] = "attribute_not_exists(pk)"
    elif condition:
        body["ConditionExpression"] = condition
    if values:
        body["ExpressionAttributeValues"] = dict(values)
    if names:
        body["ExpressionAttributeNames"] = dict(names)
    return {"Put": body}
