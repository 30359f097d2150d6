"""The DynamoDB ledger and outbox implement the whole interface, none of SQLite's."""

from __future__ import annotations

import inspect

from change_mgmt.ledger.dynamo_outbox import DynamoOutbox
from change_mgmt.ledger.dynamodb import DynamoLedger
from change_mgmt.ledger.store import Ledger
from change_mgmt.tickets.outbox import Outbox


def _public_methods(cls: type) -> set[str]:
    return {
        name
        for name, member in vars(cls).items()
        if inspect.isfunction(member) and not name.startswith("_")
    }


def test_every_public_ledger_method_is_dynamodbs_own() -> None:
    inherited = _public_methods(Ledger) - set(vars(DynamoLedger)) - {"path_in"}
    assert inherited == set()  # a new Ledger method needs its DynamoDB version too
    assert {"add_evidence", "claim_reminder", "propose", "transition"} <= set(vars(DynamoLedger))


def test_the_outbox_storage_steps_are_dynamodbs_own() -> None:
    own = set(vars(DynamoOutbox))
    assert {"enqueue", "pending", "get", "_claim", "_finish", "_release"} <= own
    assert _public_methods(Outbox) - own <= {"replay"}  # the shared replay loop
