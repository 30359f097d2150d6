"""Gate receipts signed and verified with real ssh-keygen signatures."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest

from change_mgmt.receipts import RECEIPT_TTL, ReceiptError, issue_receipt, verify_receipt
from tests.conftest import NOW

DIGEST = "d" * 64


@pytest.fixture
def gate(ssh_keys):
    key, public = ssh_keys("gate")
    return key, [f"sre-gate {public}"]


def _issue(key, stack: str = "prod", issuer: str = "sre-gate") -> str:
    return issue_receipt(stack=stack, digest=DIGEST, change_id=7, key=key, issuer=issuer, now=NOW)


def test_a_fresh_receipt_for_the_stack_verifies(gate) -> None:
    key, signers = gate
    receipt = verify_receipt(
        _issue(key), stack="acme/sre-platform/prod", signers=signers, now=NOW + timedelta(minutes=5)
    )
    assert (receipt.stack, receipt.digest, receipt.change_id) == ("prod", DIGEST, 7)
    assert receipt.expires_at == NOW + RECEIPT_TTL


def test_a_receipt_for_another_stack_is_refused(gate) -> None:
    key, signers = gate
    with pytest.raises(ReceiptError, match="is for stack 'staging', not 'prod'"):
        verify_receipt(_issue(key, stack="staging"), stack="prod", signers=signers, now=NOW)


def test_an_expired_receipt_is_refused(gate) -> None:
    key, signers = gate
    with pytest.raises(ReceiptError, match="expired"):
        verify_receipt(_issue(key), stack="prod", signers=signers, now=NOW + RECEIPT_TTL)


def test_a_tampered_receipt_is_refused(gate) -> None:
    key, signers = gate
    envelope = json.loads(base64.urlsafe_b64decode(_issue(key, stack="staging")))
    envelope["payload"] = envelope["payload"].replace('"staging"', '"prod"')
    forged = base64.urlsafe_b64encode(json.dumps(envelope).encode()).decode()
    with pytest.raises(ReceiptError, match="signature is not valid"):
        verify_receipt(forged, stack="prod", signers=signers, now=NOW)


def test_a_receipt_signed_by_another_key_is_refused(gate, ssh_keys) -> None:
    _, signers = gate
    rogue, _ = ssh_keys("rogue")
    with pytest.raises(ReceiptError, match="signature is not valid"):
        verify_receipt(_issue(rogue), stack="prod", signers=signers, now=NOW)


def test_claiming_another_issuer_does_not_help(gate, ssh_keys) -> None:
    _, signers = gate
    rogue, rogue_public = ssh_keys("rogue")
    with pytest.raises(ReceiptError, match="signature is not valid"):
        verify_receipt(
            _issue(rogue, issuer="sre-gate"),
            stack="prod",
            signers=[*signers, f"mallory {rogue_public}"],
            now=NOW,
        )


@pytest.mark.parametrize(
    "token",
    ["", "not-base64!", base64.urlsafe_b64encode(b'{"payload": "{}", "signature": "x"}').decode()],
)
def test_garbage_is_refused_cleanly(gate, token: str) -> None:
    _, signers = gate
    with pytest.raises(ReceiptError):
        verify_receipt(token, stack="prod", signers=signers, now=NOW)


def test_no_configured_signers_means_no_valid_receipt(gate) -> None:
    key, _ = gate
    with pytest.raises(ReceiptError, match="no gate receipt signers are configured"):
        verify_receipt(_issue(key), stack="prod", signers=[], now=NOW)


def test_a_missing_gate_key_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(ReceiptError, match="does not exist"):
        _issue(tmp_path / "nope")
