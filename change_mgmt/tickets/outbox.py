"""A durable outbox for ticket updates made after ``pulumi up`` (transitions, comments).

Jira may be down when a change finishes; the update must not be lost. Updates are
enqueued in a SQLite file (``.sre/outbox.sqlite3``, WAL, every write in ``BEGIN
IMMEDIATE`` with a busy timeout, like the ledger) and replayed later:

* :meth:`Outbox.enqueue` is idempotent: the idempotency key is the hash of
  ``(kind, ticket key, payload)``, so enqueueing the same update again returns the id of
  the first one (pending or done) and nothing is sent twice. To repeat an update on
  purpose (a retried apply moving the ticket to ``applying`` again), put something that
  differs in the payload, such as the time of the state change;
* :meth:`Outbox.replay` applies pending items oldest first. Per ticket the order is kept:
  the first failure of a ticket stops that ticket for this replay (its later items wait),
  other tickets go on. A failure records the attempt count and the error (scrubbed);
* several processes may replay at once: an item is *claimed* in a write transaction
  before it is applied, and only the oldest pending item of a ticket can be claimed, so
  two replayers never apply one item, nor two items of one ticket, at once. A claim
  expires after ``claim_seconds``, so a replayer that crashed blocks nobody for ever.

Delivery is at least once (a replayer that dies after applying, before marking done,
leaves the item to be applied again after its claim expires): appliers must be
idempotent — :meth:`change_mgmt.tickets.source.JiraTickets.apply_outbox_item` is.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from change_mgmt.preview.redact import scrub_text
from change_mgmt.sqlite import connection, enable_wal, immediate
from change_mgmt.tickets.errors import TicketError, TicketInputError

OUTBOX_PATH = Path(".sre") / "outbox.sqlite3"
CLAIM_SECONDS = 300.0
ERROR_LIMIT = 2000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    ticket_key TEXT NOT NULL,
    payload TEXT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    last_attempt_at TEXT,
    done_at TEXT,
    claimed_by TEXT,
    claimed_until TEXT
);
CREATE INDEX IF NOT EXISTS items_pending ON items (ticket_key, id) WHERE done_at IS NULL;
"""


class OutboxError(TicketError):
    """The outbox file cannot be read or written."""


@dataclass(frozen=True)
class OutboxItem:
    id: int
    kind: str
    ticket_key: str
    payload: Mapping[str, Any]
    idempotency_key: str
    created_at: datetime
    attempts: int = 0
    last_error: str | None = None
    done_at: datetime | None = None


@dataclass(frozen=True)
class ReplayResult:
    done: int
    failed: int
    remaining: int
    errors: tuple[tuple[int, str], ...] = ()
    """``(item id, scrubbed error)`` of each failure of this replay."""


def idempotency_key(kind: str, ticket_key: str, payload: Mapping[str, Any]) -> str:
    text = json.dumps(
        {"kind": kind, "key": ticket_key, "payload": payload},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(text.encode()).hexdigest()


def _stamp(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise TicketInputError("times given to the outbox must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse(text: str | None) -> datetime | None:
    return (
        None
        if text is None
        else datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    )


def stored_item(fields: Mapping[str, Any]) -> OutboxItem:
    """An entry as either store keeps it (a SQLite row, a DynamoDB item): stamps as text,
    the payload as JSON; attempts, error and delivery may be absent."""
    created = _parse(fields["created_at"])
    assert created is not None
    return OutboxItem(
        id=int(fields["id"]),
        kind=fields["kind"],
        ticket_key=fields["ticket_key"],
        payload=json.loads(fields["payload"]),
        idempotency_key=fields["idempotency_key"],
        created_at=created,
        attempts=int(fields.get("attempts") or 0),
        last_error=fields.get("last_error"),
        done_at=_parse(fields.get("done_at")),
    )


class Outbox:
    """Pending ticket updates in one SQLite file; one short connection per call."""

    def __init__(self, path: Path, *, claim_seconds: float = CLAIM_SECONDS) -> None:
        self.path = Path(path)
        self.claim_seconds = claim_seconds
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutboxError(f"cannot create {self.path.parent}: {exc.strerror}") from None
        with self._connection() as conn:
            mode = enable_wal(conn)
            if mode != "wal":
                raise OutboxError(f"{self.path}: cannot switch to WAL (journal mode {mode})")
            conn.executescript(_SCHEMA)

    @classmethod
    def for_repository(cls, repo_root: Path) -> Outbox:
        """The outbox next to the checkout's configured ledger: on its DynamoDB table,
        beside its SQLite file, or by default ``.sre/outbox.sqlite3`` (git-ignored)."""
        from change_mgmt.ledger.config import ledger_location

        location = ledger_location(repo_root)
        if location.kind == "dynamodb":
            from change_mgmt.ledger.dynamo_outbox import DynamoOutbox

            return DynamoOutbox(location)
        default = repo_root / OUTBOX_PATH
        if location.path is not None and location.path != repo_root / ".sre/ledger.sqlite3":
            return cls(location.path.with_name(OUTBOX_PATH.name))
        return cls(default)

    @classmethod
    def exists_in(cls, repo_root: Path) -> bool:
        """Whether the configured outbox may hold entries (without creating one)."""
        from change_mgmt.ledger.config import ledger_location

        location = ledger_location(repo_root)
        if location.kind == "dynamodb":
            return True
        if location.path is not None and location.path != repo_root / ".sre/ledger.sqlite3":
            return location.path.with_name(OUTBOX_PATH.name).exists()
        return (repo_root / OUTBOX_PATH).exists()

    def enqueue(
        self, kind: str, ticket_key: str, payload: Mapping[str, Any], *, now: datetime
    ) -> int:
        """Queue an update; the same ``(kind, ticket_key, payload)`` again returns the
        first one's id and queues nothing."""
        if not kind.strip() or not ticket_key.strip():
            raise TicketInputError("an outbox item needs a kind and a ticket key")
        try:
            body = json.dumps(dict(payload), sort_keys=True, ensure_ascii=False)
        except (TypeError, ValueError) as exc:
            raise TicketInputError(f"outbox payload is not JSON: {exc}") from None
        key = idempotency_key(kind, ticket_key, payload)
        with self._write() as conn:
            row = conn.execute("SELECT id FROM items WHERE idempotency_key = ?", (key,)).fetchone()
            if row is not None:
                return int(row["id"])
            cursor = conn.execute(
                "INSERT INTO items (kind, ticket_key, payload, idempotency_key, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (kind, ticket_key, body, key, _stamp(now)),
            )
            return int(cursor.lastrowid or 0)

    def pending(self) -> list[OutboxItem]:
        """Items not yet done, oldest first."""
        with self._connection() as conn:
            rows = conn.execute("SELECT * FROM items WHERE done_at IS NULL ORDER BY id")
            return [self._item(row) for row in rows]

    def get(self, item_id: int) -> OutboxItem:
        with self._connection() as conn:
            row = conn.execute("SELECT * FROM items WHERE id = ?", (item_id,)).fetchone()
        if row is None:
            raise OutboxError(f"no outbox item {item_id}")
        return self._item(row)

    def replay(self, apply: Callable[[OutboxItem], None], *, now: datetime) -> ReplayResult:
        """Apply pending items in order; see the module docstring for the guarantees."""
        owner = uuid.uuid4().hex
        stopped: set[str] = set()
        done = failed = 0
        errors: list[tuple[int, str]] = []
        while (item := self._claim(owner, stopped, now)) is not None:
            try:
                apply(item)
            except Exception as exc:  # any failure: keep the item, record why
                message = scrub_text(f"{type(exc).__name__}: {exc}")[:ERROR_LIMIT]
                self._release(item.id, owner, message, now)
                stopped.add(item.ticket_key)
                errors.append((item.id, message))
                failed += 1
            else:
                self._finish(item.id, owner, now)
                done += 1
        return ReplayResult(done, failed, len(self.pending()), tuple(errors))

    # --- claims ---------------------------------------------------------------------------

    def _claim(self, owner: str, skip: set[str], now: datetime) -> OutboxItem | None:
        """Claim the oldest pending item that heads its ticket's queue, is not claimed by
        another live replayer, and whose ticket did not fail in this replay."""
        at = _stamp(now)
        until = _stamp(now + timedelta(seconds=self.claim_seconds))
        with self._write() as conn:
            rows = conn.execute(
                """
                SELECT * FROM items AS i WHERE done_at IS NULL AND id = (
                    SELECT MIN(id) FROM items AS j
                    WHERE j.ticket_key = i.ticket_key AND j.done_at IS NULL)
                ORDER BY id
                """
            ).fetchall()
            for row in rows:
                if row["ticket_key"] in skip:
                    continue
                if row["claimed_until"] is not None and row["claimed_until"] > at:
                    continue  # another replayer works on this ticket
                conn.execute(
                    "UPDATE items SET claimed_by = ?, claimed_until = ? WHERE id = ?",
                    (owner, until, row["id"]),
                )
                return self._item(row)
        return None

    def _finish(self, item_id: int, owner: str, now: datetime) -> None:
        with self._write() as conn:
            conn.execute(
                "UPDATE items SET done_at = ?, attempts = attempts + 1, last_attempt_at = ?, "
                "last_error = NULL, claimed_by = NULL, claimed_until = NULL "
                "WHERE id = ? AND done_at IS NULL",
                (_stamp(now), _stamp(now), item_id),
            )

    def _release(self, item_id: int, owner: str, error: str, now: datetime) -> None:
        with self._write() as conn:
            conn.execute(
                "UPDATE items SET attempts = attempts + 1, last_error = ?, last_attempt_at = ?, "
                "claimed_by = NULL, claimed_until = NULL WHERE id = ? AND claimed_by = ?",
                (error, _stamp(now), item_id, owner),
            )

    # --- plumbing -------------------------------------------------------------------------

    def _item(self, row: sqlite3.Row) -> OutboxItem:
        return stored_item(dict(row))

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        with connection(self.path, lambda exc: OutboxError(f"outbox {self.path}: {exc}")) as conn:
            yield conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._connection() as conn, immediate(conn):
            yield conn


__all__ = [
    "OUTBOX_PATH",
    "Outbox",
    "OutboxError",
    "OutboxItem",
    "ReplayResult",
    "idempotency_key",
]
