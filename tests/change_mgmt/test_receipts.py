"""Gate receipts signed and verified with real ssh-keygen signatures."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from pathlib import Path

import pytest

from change_mgmt.receipts import (
    RECEIPT_TTL,
    ReceiptError,
    issue_receipt,
    plan_digest,
    verify_receipt,
)
from tests.conftest import NOW

DIGEST = "d" * 64
STACK = "acme/sre-platform/prod"


@pytest.fixture
def gate(ssh_keys):
    key, public = ssh_keys("gate")
    return key, [f"sre-gate {public}"]


@pytest.fixture
def plan(tmp_path: Path) -> Path:
    path = tmp_path / "plan.json"
    path.write_text('{"resourcePlans": {"urn:pulumi:prod::sre-platform::a::b": {}}}')
    return path


def _issue(key, plan: Path, stack: str = STACK, issuer: str = "sre-gate") -> str:
    return issue_receipt(
        stack=stack, digest=DIGEST, plan=plan, change_id=7, key=key, issuer=issuer, now=NOW
    )


def _verify(token: str, signers, plan: Path, stack: str = STACK, at=NOW):
    return verify_receipt(token, stack=stack, plan=plan, signers=signers, now=at)


def test_a_fresh_receipt_for_the_stack_and_plan_verifies(gate, plan) -> None:
    key, signers = gate
    receipt = _verify(_issue(key, plan), signers, plan, at=NOW + timedelta(minutes=5))
    assert (receipt.stack, receipt.digest, receipt.change_id) == (STACK, DIGEST, 7)
    assert receipt.expires_at == NOW + RECEIPT_TTL


@pytest.mark.parametrize(
    "other",
    ["acme/sre-platform/staging", "forked-org/sre-platform/prod", "acme/other-project/prod"],
    ids=["stack", "org", "project"],
)
def test_a_receipt_for_another_org_project_or_stack_is_refused(gate, plan, other) -> None:
    key, signers = gate
    with pytest.raises(ReceiptError, match=f"is for stack '{other}', not '{STACK}'"):
        _verify(_issue(key, plan, stack=other), signers, plan)


def test_a_receipt_is_issued_only_for_a_full_stack_name(gate, plan) -> None:
    key, _ = gate
    for short in ("prod", "acme/prod", "acme//prod"):
        with pytest.raises(ReceiptError, match="org/project/stack"):
            _issue(key, plan, stack=short)


def test_a_receipt_for_another_plan_is_refused(gate, plan, tmp_path: Path) -> None:
    key, signers = gate
    other = tmp_path / "other-plan.json"
    other.write_text('{"resourcePlans": {}}')
    with pytest.raises(ReceiptError, match="for another plan than"):
        _verify(_issue(key, plan), signers, other)


def test_a_plan_edited_after_the_receipt_is_refused(gate, plan) -> None:
    key, signers = gate
    token = _issue(key, plan)
    plan.write_text(plan.read_text().replace("a::b", "a::c"))
    with pytest.raises(ReceiptError, match="for another plan than"):
        _verify(token, signers, plan)


def test_a_missing_plan_file_is_refused(gate, plan, tmp_path: Path) -> None:
    key, signers = gate
    with pytest.raises(ReceiptError, match="cannot read the plan file"):
        _verify(_issue(key, plan), signers, tmp_path / "gone.json")


def test_an_expired_receipt_is_refused(gate, plan) -> None:
    key, signers = gate
    with pytest.raises(ReceiptError, match="expired"):
        _verify(_issue(key, plan), signers, plan, at=NOW + RECEIPT_TTL)


@pytest.mark.parametrize("field", ["stack", "plan_digest", "expires_at"])
def test_a_tampered_receipt_is_refused(gate, plan, tmp_path: Path, field: str) -> None:
    """Each field rewritten to what the update needs: only the signature refuses it."""
    key, signers = gate
    issued_plan = tmp_path / "issued-plan.json"
    issued_plan.write_text("{}")
    envelope = json.loads(base64.urlsafe_b64decode(_issue(key, issued_plan)))
    fields = json.loads(envelope["payload"])
    fields[field] = {
        "stack": "acme/sre-platform/staging",
        "plan_digest": plan_digest(plan),
        "expires_at": "2099-01-01T00:00:00+00:00",
    }[field]
    envelope["payload"] = json.dumps(fields, sort_keys=True, separators=(",", ":"))
    forged = base64.urlsafe_b64encode(json.dumps(envelope).encode()).decode()
    target = plan if field == "plan_digest" else issued_plan
    at = NOW + RECEIPT_TTL if field == "expires_at" else NOW
    with pytest.raises(ReceiptError, match="signature is not valid"):
        _verify(forged, signers, target, stack=fields["stack"], at=at)


def test_a_receipt_signed_by_another_key_is_refused(gate, plan, ssh_keys) -> None:
    _, signers = gate
    rogue, _ = ssh_keys("rogue")
    with pytest.raises(ReceiptError, match="signature is not valid"):
        _verify(_issue(rogue, plan), signers, plan)


def test_claiming_another_issuer_does_not_help(gate, plan, ssh_keys) -> None:
    _, signers = gate
    rogue, rogue_public = ssh_keys("rogue")
    with pytest.raises(ReceiptError, match="signature is not valid"):
        _verify(_issue(rogue, plan, issuer="sre-gate"), [*signers, f"mallory {rogue_public}"], plan)


@pytest.mark.parametrize(
    "token",
    ["", "not-base64!", base64.urlsafe_b64encode(b'{"payload": "{}", "signature": "x"}').decode()],
)
def test_garbage_is_refused_cleanly(gate, plan, token: str) -> None:
    _, signers = gate
    with pytest.raises(ReceiptError):
        _verify(token, signers, plan)


def test_no_configured_signers_means_no_valid_receipt(gate, plan) -> None:
    key, _ = gate
    with pytest.raises(ReceiptError, match="no gate receipt signers are configured"):
        _verify(_issue(key, plan), [], plan)


def test_a_missing_gate_key_is_a_clear_error(tmp_path, plan) -> None:
    with pytest.raises(ReceiptError, match="does not exist"):
        _issue(tmp_path / "nope", plan)
