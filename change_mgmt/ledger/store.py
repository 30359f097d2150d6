"""The local change ledger: one SQLite file per checkout, safe for concurrent processes.

Every write runs in ``BEGIN IMMEDIATE`` (one writer at a time, others wait up to
``BUSY_TIMEOUT_SECONDS``) on a WAL-journalled file, so CI jobs and people running ``sre``
at once never corrupt it and never create two records for one change. A change is
identified by ``(stack, digest)``: proposing it again updates the record in place.

The store never reads the clock: every write takes ``now`` (an aware datetime), and
times are stored as ISO 8601 UTC text of fixed width, so text order is time order.
The schema is versioned with ``PRAGMA user_version``; ``_MIGRATIONS[n]`` upgrades a file
from version ``n`` to ``n + 1``, and a file is stamped with ``PRAGMA application_id`` so
that another program's database is never mistaken for (or migrated into) a ledger.
"""

from __future__ import annotations

import builtins
import json
import re
import secrets
import sqlite3
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from change_mgmt import sqlite as shared_sqlite
from change_mgmt.ledger.config import ledger_location
from change_mgmt.ledger.records import (
    CHANGE_TYPES,
    DIGEST_PATTERN,
    RISK_LEVELS,
    SKIPS_APPROVAL,
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
from change_mgmt.ledger.untracked import refuse_if_tracked
from change_mgmt.principals import same_principal
from change_mgmt.sqlite import connection, enable_wal, immediate

LEDGER_PATH = Path(".sre") / "ledger.sqlite3"
"""Where a checkout keeps its ledger, relative to the repository root (never committed)."""
APPLICATION_ID = 0x53524531  # "SRE1": marks a SQLite file as an sre ledger.

_RECOVERY_HINT = (
    "move it aside (an empty ledger is created on the next run) or restore it from a backup"
)


def _v1_initial(conn: sqlite3.Connection) -> None:
    conn.execute(
        """
        CREATE TABLE changes (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            stack TEXT NOT NULL,
            digest TEXT NOT NULL,
            risk_level TEXT NOT NULL,
            risk_score INTEGER NOT NULL,
            change_type TEXT NOT NULL,
            author TEXT,
            git_commit TEXT,
            emergency_reason TEXT,
            ticket_key TEXT,
            summary TEXT NOT NULL,
            state TEXT NOT NULL,
            state_times TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            UNIQUE (stack, digest)
        )
        """
    )
    conn.execute("CREATE INDEX changes_by_created_at ON changes (created_at)")
    conn.execute(
        """
        CREATE TABLE change_transitions (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            change_id INTEGER NOT NULL REFERENCES changes (id),
            from_state TEXT,
            to_state TEXT NOT NULL,
            at TEXT NOT NULL
        )
        """
    )
    conn.execute("CREATE INDEX change_transitions_by_change ON change_transitions (change_id)")
    conn.execute(
        """
        CREATE TABLE local_approvals (
            stack TEXT NOT NULL,
            digest TEXT NOT NULL,
            approver TEXT NOT NULL COLLATE NOCASE,
            decision TEXT NOT NULL CHECK (decision IN ('approve', 'reject')),
            reason TEXT NOT NULL CHECK (length(trim(reason)) > 0),
            created_at TEXT NOT NULL,
            UNIQUE (stack, digest, approver)
        )
        """
    )


def _v2_post_change_reviews(conn: sqlite3.Connection) -> None:
    for column in ("review_due_at", "reviewed_at", "reviewer", "review_notes"):
        conn.execute(f"ALTER TABLE changes ADD COLUMN {column} TEXT")


def _v3_what_ifs_and_sticky_emergencies(conn: sqlite3.Connection) -> None:
    """Mark provisional (what-if) assessments, and repair records that a normal re-gate
    turned from emergency to normal while their review stayed due: a review due time is
    only ever set by an emergency gate, so those records are emergencies again and owe
    their review (which ``record_review`` refused and DORA counted as overdue)."""
    conn.execute("ALTER TABLE changes ADD COLUMN what_if_only INTEGER NOT NULL DEFAULT 0")
    conn.execute(
        "UPDATE changes SET change_type = 'emergency' "
        "WHERE review_due_at IS NOT NULL AND change_type != 'emergency'"
    )


def _v4_reminders(conn: sqlite3.Connection) -> None:
    """Expiry reminders (``sre env remind``): one row per environment and expiry time.
    A run claims the row (``sending``) before it posts and marks it ``sent`` after, so
    concurrent runs never both post, and a failed post (``failed``) is retried."""
    conn.execute(
        """
        CREATE TABLE reminders (
            environment TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('sending', 'sent', 'failed')),
            claim_token TEXT NOT NULL,
            claimed_at TEXT NOT NULL,
            attempts INTEGER NOT NULL CHECK (attempts > 0),
            sent_at TEXT,
            last_error TEXT,
            PRIMARY KEY (environment, expires_at)
        )
        """
    )


def _v5_evidence(conn: sqlite3.Connection) -> None:
    """Archived evidence (``Ledger.add_evidence``): the URIs of a change's documents, a
    JSON list in the order they were added."""
    conn.execute("ALTER TABLE changes ADD COLUMN evidence TEXT NOT NULL DEFAULT '[]'")


def _v6_ticket_claims(conn: sqlite3.Connection) -> None:
    """Ticket-creation claims (``Ledger.claim_ticket_creation``): at most one row per
    change, naming the run that may create its Jira ticket until ``claimed_until``. The
    row goes when the key is stored (``set_ticket``) or the claim is released."""
    conn.execute(
        """
        CREATE TABLE ticket_claims (
            change_id INTEGER PRIMARY KEY REFERENCES changes (id),
            claimed_by TEXT NOT NULL,
            claimed_at TEXT NOT NULL,
            claimed_until TEXT NOT NULL
        )
        """
    )


Migration = Callable[[sqlite3.Connection], None]
_MIGRATIONS: list[Migration] = [
    _v1_initial,
    _v2_post_change_reviews,
    _v3_what_ifs_and_sticky_emergencies,
    _v4_reminders,
    _v5_evidence,
    _v6_ticket_claims,
]
"""``_MIGRATIONS[n]`` takes a ledger from schema version ``n`` to ``n + 1``. Append only."""
SCHEMA_VERSION = len(_MIGRATIONS)

REMINDER_LEASE = timedelta(minutes=15)
"""How long a claimed reminder belongs to the run that claimed it (a post takes seconds);
after that the claim is a crashed run's and another run may send it."""
REMINDER_ERROR_LIMIT = 500

TICKET_CLAIM_LEASE = timedelta(minutes=2)
"""How long a claim on creating a change's Jira ticket lasts: far longer than a create and
the searches after it take, so a live holder never loses it; a holder that died blocks
the creation no longer than this."""


@dataclass(frozen=True)
class TicketClaim:
    """The right to create the Jira ticket of one change, from
    :meth:`Ledger.claim_ticket_creation`; ended by :meth:`Ledger.set_ticket`."""

    change_id: int
    token: str
    claimed_until: datetime
    taken_over: bool = False
    """An earlier run's claim ran out before it stored a key: its create may have
    happened, so search before creating (the gate always does)."""


@dataclass(frozen=True)
class ReminderClaim:
    """The right to post one reminder, from :meth:`Ledger.claim_reminder`."""

    environment: str
    expires_at: datetime
    token: str
    attempt: int
    taken_over: bool = False
    """A stale claim of a run that died was taken over: the reminder may be a duplicate."""


@dataclass(frozen=True)
class Reminder:
    """One row of the reminders table: ``sending``, ``sent`` or ``failed``."""

    environment: str
    expires_at: datetime
    state: str
    attempts: int
    claimed_at: datetime
    sent_at: datetime | None
    last_error: str | None


class Ledger:
    """Change records and local approvals in one SQLite file.

    Each call opens its own short-lived connection, so a ``Ledger`` holds no open file
    and may be used from any thread or process.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LedgerError(
                f"cannot create the ledger directory {self.path.parent}: {exc.strerror}"
            ) from None
        if self.path.is_dir():
            raise LedgerError(f"the ledger path {self.path} is a directory, not a file")
        with self._connection() as conn:
            _prepare(conn, self.path)

    @staticmethod
    def path_in(repo_root: Path) -> Path:
        """Where :meth:`for_repository` keeps the ledger (it may not exist yet)."""
        return repo_root / LEDGER_PATH

    @classmethod
    def exists_in(cls, repo_root: Path) -> bool:
        """Whether the checkout's configured ledger may hold records without creating
        anything: a shared (DynamoDB) ledger always may; a SQLite one once its file exists."""
        location = ledger_location(repo_root)
        return location.shared or (location.path is not None and location.path.exists())

    @classmethod
    def for_repository(cls, repo_root: Path) -> Ledger:
        """The ledger of a checkout as configured (``SRE_LEDGER_URL``, else ``ledger.yaml``,
        see :mod:`change_mgmt.ledger.config`): a shared DynamoDB table, a SQLite file,
        or by default ``.sre/ledger.sqlite3``; ``.sre/`` is git-ignored, and a ``.sre/``
        that git tracks is refused (a committed ledger can be forged)."""
        location = ledger_location(repo_root)
        if location.kind == "dynamodb":
            from change_mgmt.ledger.dynamodb import DynamoLedger

            return DynamoLedger(location)
        path = cls.path_in(repo_root)
        if location.path is not None and location.path != path:
            return cls(location.path)  # sqlite:///elsewhere, outside the checkout
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LedgerError(f"cannot prepare {path.parent}: {exc.strerror}") from None
        refuse_if_tracked(path.parent)
        try:
            ignore = path.parent / ".gitignore"
            if not ignore.exists():
                ignore.write_text("# the local change ledger: never commit it\n*\n")
        except OSError as exc:
            raise LedgerError(f"cannot prepare {path.parent}: {exc.strerror}") from None
        return cls(path)

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
        """Record a change, or refresh the record of the same ``(stack, digest)``.

        ``review_due_at`` (emergency changes) is when the post-change review is due; the
        first due time given is kept.

        A re-run on the same preview updates the risk fields, change type, emergency
        reason, commit and ``updated_at``; it keeps the id, state, first author and
        creation time. Racing processes end up with one record and the same id.

        Once a real gate run recorded a change as an emergency it stays one: a later run
        without ``--emergency`` updates the risk fields but keeps the type, reason and
        review due time, so re-gating cannot erase the review the emergency owes.

        ``what_if`` (``sre gate --at``): an existing record is returned as stored,
        nothing written; a new one is created with ``what_if_only`` set and no review
        due, and the first real run replaces its assessment.
        """
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
        at = _stamp(now)
        due = None if what_if or review_due_at is None else _stamp(review_due_at)
        with self._write() as conn:
            row = conn.execute(
                "SELECT id FROM changes WHERE stack = ? AND digest = ?", (stack, digest)
            ).fetchone()
            if row is None:
                state = ChangeState.proposed
                cursor = conn.execute(
                    """
                    INSERT INTO changes (stack, digest, risk_level, risk_score, change_type,
                        author, git_commit, emergency_reason, ticket_key, summary, state,
                        state_times, created_at, updated_at, review_due_at, what_if_only)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?, ?, ?, ?, ?)
                    """,
                    (
                        stack,
                        digest,
                        risk_level,
                        risk_score,
                        change_type,
                        author,
                        commit,
                        reason,
                        json.dumps(counts, sort_keys=True),
                        state.value,
                        json.dumps({state.value: at}),
                        at,
                        at,
                        due,
                        int(what_if),
                    ),
                )
                change_id = int(cursor.lastrowid or 0)
                _log_transition(conn, change_id, None, state, at)
                return self._load(conn, change_id)
            current = self._load(conn, int(row["id"]))
            if what_if:
                return current
            if current.is_emergency:
                change_type, reason = "emergency", reason or current.emergency_reason
            conn.execute(
                """
                UPDATE changes SET risk_level = ?, risk_score = ?, change_type = ?,
                    emergency_reason = ?, git_commit = COALESCE(?, git_commit),
                    author = COALESCE(author, ?), updated_at = ?,
                    review_due_at = COALESCE(review_due_at, ?), what_if_only = 0
                WHERE id = ?
                """,
                (
                    risk_level,
                    risk_score,
                    change_type,
                    reason,
                    commit,
                    author,
                    at,
                    due,
                    current.id,
                ),
            )
            return self._load(conn, current.id)

    def get(self, change_id: int) -> ChangeRecord:
        """The record with this id; :class:`ChangeNotFoundError` if there is none."""
        with self._connection() as conn:
            return self._load(conn, change_id)

    def resolve(self, reference: ChangeReference | str) -> ChangeRecord:
        """The record a person named: ``4``, ``CHG-4`` or a Jira key on the record.

        A ticket names the record whose printed ticket it is; ``CHG-<id>`` also names
        record ``<id>`` after a Jira key was linked to it. A name that fits two records
        is refused (:class:`InvalidChangeReference`), never guessed.
        """
        ref = (
            reference
            if isinstance(reference, ChangeReference)
            else ChangeReference.parse(reference)
        )
        with self._connection() as conn:
            if ref.ticket is None and ref.change_id is not None:  # a plain id
                return self._load(conn, ref.change_id)
            rows = conn.execute(
                "SELECT * FROM changes WHERE upper(ticket_key) = ? "
                "OR (ticket_key IS NULL AND id = ?) ORDER BY id",
                (ref.ticket, ref.change_id),
            ).fetchall()
            if not rows and ref.change_id is not None:
                rows = conn.execute(
                    "SELECT * FROM changes WHERE id = ?", (ref.change_id,)
                ).fetchall()
            found = [self._record(row) for row in rows]
        if not found:
            raise ChangeNotFoundError(ref.ticket or ref.text)
        if len(found) > 1:
            ids = " and ".join(str(record.id) for record in found)
            raise InvalidChangeReference(
                f"{ref.ticket} names changes {ids}; give the plain id instead"
            )
        return found[0]

    def find(self, stack: str, digest: str) -> ChangeRecord | None:
        """The record of this change, if it was proposed."""
        with self._connection() as conn:
            row = conn.execute(
                "SELECT * FROM changes WHERE stack = ? AND digest = ?", (stack, digest)
            ).fetchone()
            return None if row is None else self._record(row)

    def transition(self, change_id: int, state: ChangeState, *, now: datetime) -> ChangeRecord:
        """Move a change to ``state`` if the state machine allows it (see ``TRANSITIONS``).

        Moving to the current state is refused too: in particular two processes cannot
        both move one change to ``applying``. A ``normal`` change must be ``approved``
        before ``applying``; ``standard`` and ``emergency`` changes may skip approval (not a
        record only what-if runs assessed).
        """
        target = ChangeState(state)
        at = _stamp(now)
        with self._write() as conn:
            record = self._load(conn, change_id)
            check_move(record, target)
            times = {s.value: _stamp(t) for s, t in record.state_times.items()}
            times[target.value] = at
            conn.execute(
                "UPDATE changes SET state = ?, state_times = ?, updated_at = ? WHERE id = ?",
                (target.value, json.dumps(times), at, change_id),
            )
            _log_transition(conn, change_id, record.state, target, at)
            return self._load(conn, change_id)

    def record_review(
        self, change_id: int, *, reviewer: str, notes: str, now: datetime
    ) -> ChangeRecord:
        """Record the post-change review of an emergency change (by someone other than
        its author, once)."""
        _check_text(reviewer, "reviewer")
        _check_text(notes, "review notes")
        at = _stamp(now)
        with self._write() as conn:
            record = self._load(conn, change_id)
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
            conn.execute(
                "UPDATE changes SET reviewed_at = ?, reviewer = ?, review_notes = ?, "
                "updated_at = ? WHERE id = ?",
                (at, reviewer, notes.strip(), at, change_id),
            )
            return self._load(conn, change_id)

    def set_ticket(self, change_id: int, key: str, *, now: datetime) -> ChangeRecord:
        """Link the change ticket. Setting the same key again is a no-op; replacing a
        different key is refused (two tickets for one change need a person to look)."""
        _check_text(key, "ticket key")
        if any(c.isspace() for c in key):
            raise LedgerError(f"ticket key {key!r} must not contain whitespace")
        at = _stamp(now)
        with self._write() as conn:
            record = self._load(conn, change_id)
            if record.ticket_key in (None, key):  # the key is known: nobody need create it
                conn.execute("DELETE FROM ticket_claims WHERE change_id = ?", (change_id,))
            if record.ticket_key == key:
                return record
            if record.ticket_key is not None:
                raise LedgerError(
                    f"change {change_id} is already linked to ticket {record.ticket_key}; "
                    f"refusing to replace it with {key}"
                )
            conn.execute(
                "UPDATE changes SET ticket_key = ?, updated_at = ? WHERE id = ?",
                (key, at, change_id),
            )
            return self._load(conn, change_id)

    def claim_ticket_creation(
        self, change_id: int, *, now: datetime, lease: timedelta = TICKET_CLAIM_LEASE
    ) -> TicketClaim | None:
        """Claim the right to create the change's Jira ticket for ``lease``, atomically.

        ``None`` when the record already has a ticket key, or another run's claim runs
        until after ``now`` (it is creating the ticket: wait for its key). A claim that
        ran out is taken over (``taken_over``). :meth:`set_ticket` ends the claim;
        :meth:`release_ticket_claim` gives it up after a failed create.
        """
        _check_lease(lease)
        at, until = _stamp(now), _stamp(now + lease)
        token = secrets.token_hex(8)
        with self._write() as conn:
            if self._load(conn, change_id).ticket_key is not None:
                return None
            row = conn.execute(
                "SELECT claimed_until FROM ticket_claims WHERE change_id = ?", (change_id,)
            ).fetchone()
            if row is not None and row["claimed_until"] > at:
                return None
            conn.execute(
                "INSERT INTO ticket_claims (change_id, claimed_by, claimed_at, claimed_until) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (change_id) DO UPDATE SET "
                "claimed_by = excluded.claimed_by, claimed_at = excluded.claimed_at, "
                "claimed_until = excluded.claimed_until",
                (change_id, token, at, until),
            )
        return TicketClaim(change_id, token, _unstamp(until), taken_over=row is not None)

    def release_ticket_claim(self, change_id: int, claim: TicketClaim) -> None:
        """Give up a claim (its create failed): the next run claims at once instead of
        waiting the lease out. A claim another run has taken over since is left alone."""
        _check_claim(change_id, claim)
        with self._write() as conn:
            conn.execute(
                "DELETE FROM ticket_claims WHERE change_id = ? AND claimed_by = ?",
                (change_id, claim.token),
            )

    def add_evidence(self, change_id: int, uris: Sequence[str], *, now: datetime) -> ChangeRecord:
        """Name archived documents on a change: new URIs are appended in the order given,
        ones the record already names are skipped (adding them again is a no-op)."""
        wanted = _check_uris(uris)
        at = _stamp(now)
        with self._write() as conn:
            record = self._load(conn, change_id)
            merged = _merge_evidence(record.evidence, wanted)
            if merged == record.evidence:
                return record
            conn.execute(
                "UPDATE changes SET evidence = ?, updated_at = ? WHERE id = ?",
                (json.dumps(list(merged)), at, change_id),
            )
            return self._load(conn, change_id)

    def history(self, change_id: int) -> builtins.list[Transition]:
        """Every move of a change, oldest first (the proposal is the first)."""
        with self._connection() as conn:
            self._load(conn, change_id)
            rows = conn.execute(
                "SELECT * FROM change_transitions WHERE change_id = ? ORDER BY id", (change_id,)
            ).fetchall()
        return [
            Transition(
                change_id=row["change_id"],
                from_state=row["from_state"],
                to_state=row["to_state"],
                at=row["at"],
            )
            for row in rows
        ]

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
        """Record an approver's decision on a change; a later decision by the same
        approver (case-insensitive) replaces the earlier one. Refuses an empty reason.

        The ledger does not check four eyes: it does not know who may approve what.
        """
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
        at = _stamp(now)
        approver = approver.strip()
        with self._write() as conn:
            conn.execute(
                """
                INSERT INTO local_approvals (stack, digest, approver, decision, reason, created_at)
                VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (stack, digest, approver) DO UPDATE SET
                    approver = excluded.approver, decision = excluded.decision,
                    reason = excluded.reason, created_at = excluded.created_at
                """,
                (stack, digest, approver, verdict.value, reason.strip(), at),
            )
            row = conn.execute(
                "SELECT * FROM local_approvals WHERE stack = ? AND digest = ? AND approver = ?",
                (stack, digest, approver),
            ).fetchone()
            return self._approval(row)

    def approvals(self, stack: str, digest: str) -> builtins.list[LocalApproval]:
        """The local approvals of a change, oldest first."""
        with self._connection() as conn:
            rows = conn.execute(
                "SELECT * FROM local_approvals WHERE stack = ? AND digest = ? "
                "ORDER BY created_at, approver",
                (stack, digest),
            ).fetchall()
            return [self._approval(row) for row in rows]

    def list(
        self,
        *,
        stack: str | None = None,
        since: datetime | None = None,
        states: Collection[ChangeState] | None = None,
    ) -> builtins.list[ChangeRecord]:
        """Records newest first (by creation time, then id); ``since`` keeps those created
        at or after it, ``states`` those in one of the states (an empty collection: none)."""
        where: builtins.list[str] = []
        params: builtins.list[Any] = []
        if stack is not None:
            where.append("stack = ?")
            params.append(stack)
        if since is not None:
            where.append("created_at >= ?")
            params.append(_stamp(since))
        if states is not None:
            wanted = sorted({ChangeState(s).value for s in states})
            if not wanted:
                return []
            where.append(f"state IN ({', '.join('?' for _ in wanted)})")
            params.extend(wanted)
        query = "SELECT * FROM changes"
        if where:
            query += " WHERE " + " AND ".join(where)
        query += " ORDER BY created_at DESC, id DESC"
        with self._connection() as conn:
            return [self._record(row) for row in conn.execute(query, params).fetchall()]

    # -- expiry reminders -----------------------------------------------------------

    def claim_reminder(
        self,
        environment: str,
        expires_at: datetime,
        *,
        now: datetime,
        lease: timedelta = REMINDER_LEASE,
    ) -> ReminderClaim | None:
        """Claim the reminder of ``environment`` expiring at ``expires_at``, atomically.

        ``None`` when it was sent, or another run claimed it less than ``lease`` ago
        (it is posting now). A claim older than the lease is a run that died between
        claiming and recording: it is taken over (``taken_over``), so a crash after the
        post was delivered sends the reminder twice rather than never.
        """
        _check_text(environment, "environment")
        at, expiry = _stamp(now), _stamp(expires_at)
        token = secrets.token_hex(8)
        with self._write() as conn:
            row = conn.execute(
                "SELECT * FROM reminders WHERE environment = ? AND expires_at = ?",
                (environment, expiry),
            ).fetchone()
            if row is None:
                conn.execute(
                    "INSERT INTO reminders (environment, expires_at, state, claim_token, "
                    "claimed_at, attempts) VALUES (?, ?, 'sending', ?, ?, 1)",
                    (environment, expiry, token, at),
                )
                return ReminderClaim(environment, expires_at, token, attempt=1)
            state = row["state"]
            if state == "sent" or (state == "sending" and row["claimed_at"] > _stamp(now - lease)):
                return None
            attempt = int(row["attempts"]) + 1
            conn.execute(
                "UPDATE reminders SET state = 'sending', claim_token = ?, claimed_at = ?, "
                "attempts = ? WHERE environment = ? AND expires_at = ?",
                (token, at, attempt, environment, expiry),
            )
            return ReminderClaim(
                environment, expires_at, token, attempt=attempt, taken_over=state == "sending"
            )

    def reminder_sent(self, claim: ReminderClaim, *, now: datetime) -> None:
        """Record that the claimed reminder was delivered (even if another run took the
        claim over meanwhile: it was delivered all the same)."""
        with self._write() as conn:
            conn.execute(
                "UPDATE reminders SET state = 'sent', sent_at = COALESCE(sent_at, ?), "
                "last_error = NULL WHERE environment = ? AND expires_at = ?",
                (_stamp(now), claim.environment, _stamp(claim.expires_at)),
            )

    def reminder_failed(self, claim: ReminderClaim, error: str, *, now: datetime) -> None:
        """Release a claim whose post failed: the next run sends the reminder. A claim
        another run took over (or that was sent meanwhile) is left alone."""
        del now  # the claim time stays: it tells when the last attempt started
        with self._write() as conn:
            conn.execute(
                "UPDATE reminders SET state = 'failed', last_error = ? "
                "WHERE environment = ? AND expires_at = ? AND claim_token = ? "
                "AND state = 'sending'",
                (
                    error.strip()[:REMINDER_ERROR_LIMIT] or "failed",
                    claim.environment,
                    _stamp(claim.expires_at),
                    claim.token,
                ),
            )

    def reminders(self, environment: str | None = None) -> builtins.list[Reminder]:
        """Every reminder row (of one environment), by environment then expiry."""
        query, params = "SELECT * FROM reminders", builtins.list[str]()
        if environment is not None:
            query, params = query + " WHERE environment = ?", [environment]
        with self._connection() as conn:
            rows = conn.execute(query + " ORDER BY environment, expires_at", params).fetchall()
        return [
            Reminder(
                environment=row["environment"],
                expires_at=_unstamp(row["expires_at"]),
                state=row["state"],
                attempts=int(row["attempts"]),
                claimed_at=_unstamp(row["claimed_at"]),
                sent_at=None if row["sent_at"] is None else _unstamp(row["sent_at"]),
                last_error=row["last_error"],
            )
            for row in rows
        ]

    # -- plumbing -------------------------------------------------------------------

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        with connection(self.path, lambda exc: _ledger_error(self.path, exc)) as conn:
            yield conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._connection() as conn, immediate(conn):
            yield conn

    def _load(self, conn: sqlite3.Connection, change_id: int) -> ChangeRecord:
        row = conn.execute("SELECT * FROM changes WHERE id = ?", (change_id,)).fetchone()
        if row is None:
            raise ChangeNotFoundError(change_id)
        return self._record(row)

    def _record(self, row: sqlite3.Row) -> ChangeRecord:
        try:
            return ChangeRecord(
                id=row["id"],
                stack=row["stack"],
                digest=row["digest"],
                risk_level=row["risk_level"],
                risk_score=row["risk_score"],
                change_type=row["change_type"],
                author=row["author"],
                commit=row["git_commit"],
                emergency_reason=row["emergency_reason"],
                ticket_key=row["ticket_key"],
                summary=json.loads(row["summary"]),
                state=row["state"],
                state_times=json.loads(row["state_times"]),
                created_at=row["created_at"],
                updated_at=row["updated_at"],
                review_due_at=row["review_due_at"],
                reviewed_at=row["reviewed_at"],
                reviewer=row["reviewer"],
                review_notes=row["review_notes"],
                what_if_only=bool(row["what_if_only"]),
                # a file at an older schema (mid-migration tests) has no column yet
                evidence=json.loads(row["evidence"] if "evidence" in row.keys() else "[]"),  # noqa: SIM118
            )
        except (ValidationError, ValueError, TypeError) as exc:
            raise LedgerError(
                f"{self.path}: change record {row['id']} is damaged ({exc}); {_RECOVERY_HINT}"
            ) from None

    def _approval(self, row: sqlite3.Row) -> LocalApproval:
        try:
            return LocalApproval(
                stack=row["stack"],
                digest=row["digest"],
                approver=row["approver"],
                decision=row["decision"],
                reason=row["reason"],
                created_at=row["created_at"],
            )
        except ValidationError as exc:
            raise LedgerError(
                f"{self.path}: a local approval is damaged ({exc}); {_RECOVERY_HINT}"
            ) from None


def _prepare(conn: sqlite3.Connection, path: Path) -> None:
    """Check the file is (or can become) a ledger, switch it to WAL, migrate it."""
    target = len(_MIGRATIONS)
    conn.execute("BEGIN")  # one read snapshot for the identity checks
    try:
        app_id, version = _identity(conn)
        _check_identity(conn, path, app_id, version, target)
    finally:
        conn.execute("ROLLBACK")
    if app_id == APPLICATION_ID and version == target:
        return
    enable_wal(conn)
    with immediate(conn):
        # Another process may have migrated the file since we looked.
        app_id, version = _identity(conn)
        _check_identity(conn, path, app_id, version, target)
        if app_id != APPLICATION_ID:
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        for step in range(version, target):
            _MIGRATIONS[step](conn)
        conn.execute(f"PRAGMA user_version = {target}")


def _identity(conn: sqlite3.Connection) -> tuple[int, int]:
    app_id = int(conn.execute("PRAGMA application_id").fetchone()[0])
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    return app_id, version


def _check_identity(
    conn: sqlite3.Connection, path: Path, app_id: int, version: int, target: int
) -> None:
    if app_id == APPLICATION_ID:
        if version > target:
            raise LedgerError(
                f"the ledger {path} has schema version {version}, newer than this sre "
                f"understands ({target}); upgrade sre-platform"
            )
        return
    has_tables = (
        conn.execute("SELECT 1 FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'").fetchone()
        is not None
    )
    if app_id != 0 or version != 0 or has_tables:
        raise LedgerError(
            f"{path} is a SQLite database but not an sre ledger; {_RECOVERY_HINT}, "
            "or pass another path"
        )


def _ledger_error(path: Path, exc: sqlite3.Error) -> LedgerError:
    text = str(exc)
    if "locked" in text or "busy" in text:
        return LedgerError(
            f"the ledger {path} is locked by another process (waited up to "
            f"{shared_sqlite.BUSY_TIMEOUT_SECONDS:g} s); try again"
        )
    if "unable to open" in text:
        return LedgerError(f"cannot open the ledger {path}: {text}; check the path and permissions")
    if "readonly" in text or "read-only" in text:
        return LedgerError(f"the ledger {path} is read-only: {text}")
    if isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.OperationalError):
        return LedgerError(f"{path} is not a readable sre ledger ({text}); {_RECOVERY_HINT}")
    return LedgerError(f"the ledger {path} failed: {text}")


def check_move(record: ChangeRecord, target: ChangeState) -> None:
    """Refuse a move the state machine does not allow (:class:`IllegalTransitionError`)."""
    if target not in TRANSITIONS[record.state]:
        raise IllegalTransitionError(record.id, record.state, target)
    if (
        record.state is ChangeState.proposed
        and target is ChangeState.applying
        and (record.change_type not in SKIPS_APPROVAL or record.what_if_only)
    ):
        kind = f"what-if {record.change_type}" if record.what_if_only else record.change_type
        raise IllegalTransitionError(
            record.id,
            record.state,
            target,
            f"a {kind} change must be approved first; only "
            f"{' and '.join(sorted(SKIPS_APPROVAL))} changes a real gate run "
            "assessed may skip approval",
        )


def _log_transition(
    conn: sqlite3.Connection,
    change_id: int,
    from_state: ChangeState | None,
    to_state: ChangeState,
    at: str,
) -> None:
    conn.execute(
        "INSERT INTO change_transitions (change_id, from_state, to_state, at) VALUES (?, ?, ?, ?)",
        (change_id, from_state.value if from_state else None, to_state.value, at),
    )


def _stamp(moment: datetime) -> str:
    """Fixed-width ISO 8601 UTC text: lexical order is time order."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"the ledger needs timezone-aware times, got naive {moment!r}")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _unstamp(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def _check_lease(lease: timedelta) -> None:
    if not isinstance(lease, timedelta) or lease <= timedelta(0):
        raise LedgerError(f"a claim's lease must be a positive duration, not {lease!r}")


def _check_claim(change_id: int, claim: TicketClaim) -> None:
    if claim.change_id != change_id:
        raise LedgerError(f"that claim is on change {claim.change_id}, not {change_id}")


def _check_text(value: str, what: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise LedgerError(f"{what} must be a non-empty string, not {value!r}")


def _check_digest(digest: str) -> None:
    if not isinstance(digest, str) or not DIGEST_PATTERN.match(digest):
        raise LedgerError(
            f"digest {digest!r} is not a change digest (64 lowercase hexadecimal characters)"
        )


def _check_choice(value: str, allowed: tuple[str, ...], what: str) -> None:
    if value not in allowed:
        raise LedgerError(f"{what} {value!r} is not one of {', '.join(allowed)}")


EVIDENCE_URI = re.compile(r"^[a-z][a-z0-9+.-]*://[^\s]{1,2000}$")
"""An evidence URI: a scheme (``s3``, ``https``, ...), ``://`` and no whitespace."""
EVIDENCE_LIMIT = 900
"""At most this many documents per change (300 gate runs of one preview, three documents
each): the record stays one row, and one DynamoDB item well under its 400 KB limit."""


def _check_uris(uris: Sequence[str]) -> tuple[str, ...]:
    if isinstance(uris, str):
        raise LedgerError("evidence takes a list of URIs, not one string")
    checked: list[str] = []
    for uri in uris:
        if not isinstance(uri, str) or not EVIDENCE_URI.match(uri):
            raise LedgerError(
                f"evidence URI {uri!r} is not a URI (scheme://..., no whitespace, "
                "at most 2000 characters)"
            )
        checked.append(uri)
    return tuple(checked)


def _merge_evidence(have: tuple[str, ...], new: tuple[str, ...]) -> tuple[str, ...]:
    merged = list(have)
    for uri in new:
        if uri not in merged:
            merged.append(uri)
    if len(merged) > EVIDENCE_LIMIT:
        raise LedgerError(
            f"a change names at most {EVIDENCE_LIMIT} evidence documents; "
            f"this would make {len(merged)}"
        )
    return tuple(merged)


def _check_summary(summary: Mapping[str, int]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for op, count in summary.items():
        if not isinstance(op, str) or isinstance(count, bool) or not isinstance(count, int):
            raise LedgerError(f"summary must map operation names to counts, not {op!r}: {count!r}")
        if count < 0:
            raise LedgerError(f"summary count for {op!r} is negative ({count})")
        counts[op] = count
    return counts
