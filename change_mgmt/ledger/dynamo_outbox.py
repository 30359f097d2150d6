"""The ticket outbox on the ledger's DynamoDB table, for many runners at once.

The guarantees of :class:`change_mgmt.tickets.outbox.Outbox` hold across machines:
enqueueing is idempotent (an item per idempotency key, put with
``attribute_not_exists``, in one transaction with the entry itself); an entry is
claimed by a conditional update that succeeds only while it is not done and nobody's
lease (``claimed_until``) is running, so two replayers never deliver one entry at once,
and a replayer that died blocks its entry only until its lease expires. The replay loop
itself (order per ticket, failures) is the SQLite outbox's, shared.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, TypeVar

from change_mgmt.ledger.config import LedgerLocation
from change_mgmt.ledger.dynamo_table import CONFLICT_RETRIES, Conflict, DynamoTable, Lease, pause
from change_mgmt.ledger.records import LedgerError
from change_mgmt.tickets.errors import TicketInputError
from change_mgmt.tickets.outbox import (
    CLAIM_SECONDS,
    Outbox,
    OutboxError,
    OutboxItem,
    _stamp,
    idempotency_key,
    stored_item,
)

_T = TypeVar("_T")


class DynamoOutbox(Outbox):
    """Pending ticket updates as items of the ledger table (``pk = OUTBOX``)."""

    def __init__(self, location: LedgerLocation, *, claim_seconds: float = CLAIM_SECONDS) -> None:
        self.location = location
        self.claim_seconds = claim_seconds
        self.table = DynamoTable(location)

    def enqueue(
        self, kind: str, ticket_key: str, payload: Mapping[str, Any], *, now: datetime
    ) -> int:
        if not kind.strip() or not ticket_key.strip():
            raise TicketInputError("an outbox item needs a kind and a ticket key")
        try:
            body = json.dumps(dict(payload), sort_keys=True, ensure_ascii=False)
        except (TypeError, ValueError) as exc:
            raise TicketInputError(f"outbox payload is not JSON: {exc}") from None
        key = idempotency_key(kind, ticket_key, payload)
        for attempt in range(CONFLICT_RETRIES):
            known = self._call(lambda: self.table.get("OUTBOXKEY", key))
            if known is not None:
                return int(known["item_id"])
            item_id = self._call(lambda: self.table.next_id("outbox"))
            entry = {
                "pk": "OUTBOX",
                "sk": item_sk(item_id),
                "id": item_id,
                "kind": kind,
                "ticket_key": ticket_key,
                "payload": body,
                "idempotency_key": key,
                "created_at": _stamp(now),
                "attempts": 0,
            }
            actions = [_new({"pk": "OUTBOXKEY", "sk": key, "item_id": item_id}), _new(entry)]
            try:
                self._call(lambda: self.table.transact(actions))  # noqa: B023 - called at once
            except Conflict:  # another runner queued the same update first
                pause(attempt)
                continue
            return item_id
        raise OutboxError(f"outbox on {self.location.url}: enqueue kept losing races; try again")

    def pending(self) -> list[OutboxItem]:
        return [self._entry(i) for i in self._items() if i.get("done_at") is None]

    def get(self, item_id: int) -> OutboxItem:
        found = self._call(lambda: self.table.get("OUTBOX", item_sk(item_id)))
        if found is None:
            raise OutboxError(f"no outbox item {item_id}")
        return self._entry(found)

    def _claim(self, owner: str, skip: set[str], now: datetime) -> OutboxItem | None:
        at = _stamp(now)
        until = _stamp(now + timedelta(seconds=self.claim_seconds))
        heads: dict[str, dict[str, Any]] = {}
        for item in self._items():
            if item.get("done_at") is None:
                heads.setdefault(item["ticket_key"], item)
        for item in sorted(heads.values(), key=lambda i: int(i["id"])):
            if item["ticket_key"] in skip:
                continue
            if item.get("claimed_until") is not None and item["claimed_until"] > at:
                continue  # another replayer works on this ticket
            try:
                self._claim_one(str(item["sk"]), owner, until, at)
            except Conflict:  # done or claimed since we looked: the next head
                continue
            return self._entry(item)
        return None

    def _claim_one(self, sk: str, owner: str, until: str, at: str) -> None:
        lease = Lease("OUTBOX", sk, owner, until, at, condition="attribute_not_exists(done_at)")
        self._call(lambda: self.table.take_lease(lease))

    def _finish(self, item_id: int, owner: str, now: datetime) -> None:
        del owner  # delivered is delivered, whoever holds the claim now
        try:
            self._call(
                lambda: self.table.update(
                    "OUTBOX",
                    item_sk(item_id),
                    "SET done_at = :at, last_attempt_at = :at, attempts = attempts + :one "
                    "REMOVE last_error, claimed_by, claimed_until",
                    values={":at": _stamp(now), ":one": 1},
                    condition="attribute_exists(pk) AND attribute_not_exists(done_at)",
                )
            )
        except Conflict:
            return

    def _release(self, item_id: int, owner: str, error: str, now: datetime) -> None:
        try:
            self._call(
                lambda: self.table.update(
                    "OUTBOX",
                    item_sk(item_id),
                    "SET attempts = attempts + :one, last_error = :e, last_attempt_at = :at "
                    "REMOVE claimed_by, claimed_until",
                    values={":one": 1, ":e": error, ":at": _stamp(now), ":me": owner},
                    condition="claimed_by = :me",
                )
            )
        except Conflict:
            return  # another replayer took the claim over: theirs now

    # -- plumbing -------------------------------------------------------------------

    def _items(self) -> list[dict[str, Any]]:
        return self._call(lambda: list(self.table.query("OUTBOX")))

    def _entry(self, item: Mapping[str, Any]) -> OutboxItem:
        return stored_item(item)

    @staticmethod
    def _call(action: Callable[[], _T]) -> _T:
        """The table's errors as the outbox's (what ticket code catches)."""
        try:
            return action()
        except LedgerError as exc:
            raise OutboxError(f"outbox: {exc}") from None


def item_sk(item_id: int) -> str:
    return f"{item_id:020d}"


def _new(item: Mapping[str, Any]) -> dict[str, Any]:
    return {"Put": {"Item": dict(item), "ConditionExpression": "attribute_not_exists(pk)"}}
