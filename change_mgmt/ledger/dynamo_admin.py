"""Setting up a DynamoDB ledger: create its table, copy a SQLite ledger into it.

``sre ledger init`` and ``sre ledger migrate`` call these; the table definition here is
the one docs/ledger.md documents (and the platform stack should declare in production,
with point-in-time recovery and deletion protection).
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from change_mgmt.ledger.config import LedgerLocation
from change_mgmt.ledger.dynamo_table import (
    SCHEMA_ITEM,
    TABLE_SCHEMA_VERSION,
    Conflict,
    DynamoTable,
)
from change_mgmt.ledger.dynamodb import (
    approval_item,
    history_item,
    record_item,
    reminder_sk,
)
from change_mgmt.ledger.records import LedgerError
from change_mgmt.ledger.store import Ledger

KEY_SCHEMA = [
    {"AttributeName": "pk", "KeyType": "HASH"},
    {"AttributeName": "sk", "KeyType": "RANGE"},
]
ATTRIBUTES = [
    {"AttributeName": "pk", "AttributeType": "S"},
    {"AttributeName": "sk", "AttributeType": "S"},
]


@dataclass(frozen=True)
class InitResult:
    table: str
    region: str
    created: bool
    """False: the table was there already (and has the ledger's keys)."""


def init_table(location: LedgerLocation) -> InitResult:
    """Create the ledger table if it is missing (on-demand capacity, encrypted at rest),
    wait until it is active, and mark it as a ledger; idempotent."""
    table = DynamoTable(location)
    assert location.region is not None
    created = False
    try:
        described = table.call("describe_table", TableName=table.name)["Table"]
    except LedgerError as exc:
        if "does not exist" not in str(exc):
            raise
        table.call(
            "create_table",
            TableName=table.name,
            KeySchema=KEY_SCHEMA,
            AttributeDefinitions=ATTRIBUTES,
            BillingMode="PAY_PER_REQUEST",
            SSESpecification={"Enabled": True},
        )
        created = True
    else:
        keys = sorted((k["AttributeName"], k["KeyType"]) for k in described["KeySchema"])
        if keys != [("pk", "HASH"), ("sk", "RANGE")]:
            raise LedgerError(
                f"the table {table.name} exists but is not a ledger table (its keys are "
                f"{keys}; a ledger's are pk (hash) and sk (range)); choose another name"
            )
    table.client.get_waiter("table_exists").wait(
        TableName=table.name, WaiterConfig={"Delay": 1, "MaxAttempts": 120}
    )
    with contextlib.suppress(Conflict):  # marked before
        table.put(
            {**SCHEMA_ITEM, "version": TABLE_SCHEMA_VERSION},
            condition="attribute_not_exists(pk)",
        )
    return InitResult(table.name, location.region, created)


@dataclass
class MigrateResult:
    changes: int = 0
    transitions: int = 0
    approvals: int = 0
    reminders: int = 0
    outbox: int = 0


def migrate(sqlite_ledger: Path, sqlite_outbox: Path, target: LedgerLocation) -> MigrateResult:
    """Copy every record (same ids, states, state times), its history, the local
    approvals, reminders and evidence, and the outbox (done entries too, so nothing is
    delivered twice) into an *empty* DynamoDB ledger. A non-empty target is refused."""
    table = DynamoTable(target)
    if not table.is_empty():
        raise LedgerError(
            f"the ledger table {table.name} is not empty; migrate only into a new table "
            "(refusing to mix two ledgers' ids)"
        )
    result = MigrateResult()
    if sqlite_ledger.is_file():
        _copy_ledger(Ledger(sqlite_ledger), sqlite_ledger, table, result)
    if sqlite_outbox.is_file():
        _copy_outbox(sqlite_outbox, table, result)
    return result


def _copy_ledger(ledger: Ledger, path: Path, table: DynamoTable, result: MigrateResult) -> None:
    records = sorted(ledger.list(), key=lambda r: r.id)
    for record in records:
        steps = ledger.history(record.id)
        table.put(
            {"pk": f"IDENTITY#{record.digest}", "sk": record.stack, "change_id": record.id},
            condition="attribute_not_exists(pk)",
        )
        table.put(record_item(record, len(steps)), condition="attribute_not_exists(pk)")
        for seq, step in enumerate(steps, start=1):
            table.put(history_item(record.id, step.from_state, step.to_state, step.at, seq))
        result.changes += 1
        result.transitions += len(steps)
    if records:
        table.put({"pk": "COUNTER", "sk": "change", "v": max(r.id for r in records)})
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        pairs = conn.execute("SELECT DISTINCT stack, digest FROM local_approvals").fetchall()
    finally:
        conn.close()
    for pair in pairs:
        for approval in ledger.approvals(pair["stack"], pair["digest"]):
            table.put(approval_item(approval))
            result.approvals += 1
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        rows = conn.execute("SELECT * FROM reminders").fetchall()
    finally:
        conn.close()
    for row in rows:
        item: dict[str, Any] = {
            "pk": "REMINDER",
            "sk": reminder_sk(row["environment"], row["expires_at"]),
            **{k: row[k] for k in row.keys()},  # noqa: SIM118 - sqlite3.Row
        }
        table.put(item)
        result.reminders += 1


def _copy_outbox(path: Path, table: DynamoTable, result: MigrateResult) -> None:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        rows = conn.execute("SELECT * FROM items ORDER BY id").fetchall()
    finally:
        conn.close()
    for row in rows:
        values = {k: row[k] for k in row.keys()}  # noqa: SIM118 - sqlite3.Row
        json.loads(values["payload"])  # a damaged entry stops the copy here, not later
        table.put({"pk": "OUTBOXKEY", "sk": values["idempotency_key"], "item_id": values["id"]})
        table.put({"pk": "OUTBOX", "sk": f"{values['id']:020d}", **values})
        result.outbox += 1
    if rows:
        table.put({"pk": "COUNTER", "sk": "outbox", "v": max(int(r["id"]) for r in rows)})
