"""One identity per change: ``CHG-<id>`` or its Jira key, accepted wherever it is printed."""

from __future__ import annotations

from pathlib import Path

import pytest

from change_mgmt.ledger import (
    ChangeNotFoundError,
    ChangeReference,
    InvalidChangeReference,
    Ledger,
)
from tests.change_mgmt.ledger.conftest import open_ledger
from tests.change_mgmt.ledger.test_store import propose
from tests.conftest import NOW


@pytest.fixture(params=["sqlite", "dynamodb"])
def ledger(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Ledger:
    """#1 without a ticket, #2 linked to OPS-12, #3 linked to a Jira key that reads CHG-1."""
    ledger = open_ledger(str(request.param), tmp_path, monkeypatch)
    for n in (1, 2, 3):
        propose(ledger, digest=f"{n:x}" * 64)
    ledger.set_ticket(2, "OPS-12", now=NOW)
    ledger.set_ticket(3, "CHG-1", now=NOW)
    return ledger


def test_the_ticket_is_the_jira_key_else_the_ledger_id(ledger: Ledger) -> None:
    assert [ledger.get(n).ticket for n in (1, 2)] == ["CHG-1", "OPS-12"]
    assert ledger.get(2).as_dict()["ticket"] == "OPS-12"


@pytest.mark.parametrize(
    ("text", "change_id"),
    [("2", 2), (" 2 ", 2), ("OPS-12", 2), ("ops-12", 2), ("CHG-2", 2), ("chg-2", 2)],
)
def test_every_printed_form_names_the_change(ledger: Ledger, text: str, change_id: int) -> None:
    assert ledger.resolve(text).id == change_id


def test_a_name_that_fits_two_changes_is_refused(ledger: Ledger) -> None:
    with pytest.raises(InvalidChangeReference, match="CHG-1 names changes 1 and 3; give the plain"):
        ledger.resolve("CHG-1")
    assert ledger.resolve("1").id == 1 and ledger.resolve("3").id == 3


@pytest.mark.parametrize("text", ["4", "CHG-4", "OPS-13"])
def test_a_well_formed_name_of_no_change_is_not_found(ledger: Ledger, text: str) -> None:
    with pytest.raises(ChangeNotFoundError, match=f"no change record {text}; see `sre changes"):
        ledger.resolve(text)


@pytest.mark.parametrize(
    "text", ["", "0", "-3", "CHG-", "CHG-0", "CHG-x", "4.0", "OPS 12", "1" * 19, "9" * 5000]
)
def test_text_that_cannot_name_a_change_is_bad_input(text: str) -> None:
    with pytest.raises(InvalidChangeReference, match="is not a change: give its id") as caught:
        ChangeReference.parse(text)
    assert len(str(caught.value)) < 200  # a 5,000-digit id is not echoed back
