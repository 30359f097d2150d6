"""The production guard: a real update of a production stack needs a valid gate receipt."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from change_mgmt.receipts import RECEIPT_ENV, issue_receipt
from stacks.mock_engine import run_under_mocks
from stacks.production_guard import GateReceiptRequired, require_gate_receipt
from tests.conftest import REPO_ROOT

DIGEST = "e" * 64


def _run(stack: str, *, preview: bool, signers: list[str] | None = None) -> None:
    config = {"sre-platform:gateReceiptSigners": signers} if signers is not None else {}
    run_under_mocks(
        lambda: require_gate_receipt(REPO_ROOT),
        project="sre-platform",
        stack=stack,
        config=config,
        preview=preview,
    )


@pytest.fixture
def gate(ssh_keys, monkeypatch: pytest.MonkeyPatch):
    key, public = ssh_keys("gate")
    monkeypatch.delenv(RECEIPT_ENV, raising=False)

    def receipt(stack: str = "prod", issued: datetime | None = None) -> str:
        return issue_receipt(
            stack=stack,
            digest=DIGEST,
            change_id=1,
            key=key,
            issuer="sre-gate",
            now=issued or datetime.now(UTC),
        )

    return receipt, [f"sre-gate {public}"]


def _tampered(token: str) -> str:
    envelope = json.loads(base64.urlsafe_b64decode(token))
    envelope["payload"] = envelope["payload"].replace(DIGEST, "f" * 64)
    return base64.urlsafe_b64encode(json.dumps(envelope).encode()).decode()


def test_previews_are_free(gate) -> None:
    _run("prod", preview=True)


def test_non_production_stacks_need_no_receipt(gate) -> None:
    _run("env-pg-migration", preview=False)
    _run("staging", preview=False)


def test_a_plain_update_of_production_points_to_sre_up(gate) -> None:
    with pytest.raises(
        GateReceiptRequired,
        match=r"production: it is updated only through the change gate; run `sre up --stack prod`",
    ):
        _run("prod", preview=False)


def test_a_valid_receipt_lets_the_update_proceed(gate, monkeypatch: pytest.MonkeyPatch) -> None:
    receipt, signers = gate
    monkeypatch.setenv(RECEIPT_ENV, receipt())
    _run("prod", preview=False, signers=signers)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda receipt: receipt(stack="prod-eu"), "is for stack 'prod-eu', not 'prod'"),
        (lambda receipt: receipt(issued=datetime.now(UTC) - timedelta(hours=2)), "expired"),
        (lambda receipt: _tampered(receipt()), "signature is not valid"),
    ],
    ids=["other-stack", "expired", "tampered"],
)
def test_bad_receipts_stop_the_update(
    gate, monkeypatch: pytest.MonkeyPatch, make, message: str
) -> None:
    receipt, signers = gate
    monkeypatch.setenv(RECEIPT_ENV, make(receipt))
    with pytest.raises(GateReceiptRequired, match=message):
        _run("prod", preview=False, signers=signers)


def test_without_configured_signers_no_receipt_is_valid(
    gate, monkeypatch: pytest.MonkeyPatch
) -> None:
    receipt, _ = gate
    monkeypatch.setenv(RECEIPT_ENV, receipt())
    with pytest.raises(GateReceiptRequired, match="gateReceiptSigners"):
        _run("prod", preview=False)
