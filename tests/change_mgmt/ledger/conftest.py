"""The ledger tests run against both implementations: SQLite and DynamoDB (moto server)."""

from __future__ import annotations

from pathlib import Path

import pytest

from change_mgmt.ledger import Ledger
from change_mgmt.ledger.config import parse_ledger_url
from tests.change_mgmt.ledger_dynamodb.moto import new_table_url, use_moto


def open_ledger(backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Ledger:
    """A new, empty ledger of the given kind."""
    if backend == "sqlite":
        return Ledger(tmp_path / "ledger.sqlite3")
    from change_mgmt.ledger.dynamodb import DynamoLedger

    use_moto(monkeypatch)
    return DynamoLedger(parse_ledger_url(new_table_url()))


@pytest.fixture(params=["sqlite", "dynamodb"])
def ledger(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Ledger:
    return open_ledger(str(request.param), tmp_path, monkeypatch)
