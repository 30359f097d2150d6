"""Fixtures of the DynamoDB ledger tests: the shared moto server and a fresh table."""

from __future__ import annotations

import pytest

from change_mgmt.ledger.config import parse_ledger_url
from change_mgmt.ledger.dynamodb import DynamoLedger
from tests.change_mgmt.ledger_dynamodb.moto import new_table_url, use_moto


@pytest.fixture
def dynamo_url(monkeypatch: pytest.MonkeyPatch) -> str:
    use_moto(monkeypatch)
    return new_table_url()


@pytest.fixture
def dynamo_ledger(dynamo_url: str) -> DynamoLedger:
    return DynamoLedger(parse_ledger_url(dynamo_url))
