"""The production guard: a real update of a production stack needs a valid gate receipt
for its full name and the plan it applies."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from change_mgmt.receipts import PLAN_ENV, RECEIPT_ENV, issue_receipt
from stacks.mock_engine import run_under_mocks
from stacks.production_guard import GateReceiptRequired, require_gate_receipt
from tests.conftest import REPO_ROOT

DIGEST = "e" * 64
FULL_NAME = "acme/sre-platform/prod"


def _run(
    stack: str,
    *,
    preview: bool,
    signers: list[str] | None = None,
    org: str | None = "acme",
    project: str = "sre-platform",
) -> None:
    config = {"sre-platform:gateReceiptSigners": signers} if signers is not None else {}

    def program() -> None:
        require_gate_receipt(REPO_ROOT)

    run_under_mocks(
        program, project=project, stack=stack, config=config, preview=preview, organization=org
    )


@pytest.fixture
def gate(ssh_keys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """(make a receipt, the allowed signers, the plan file ``sre up`` names)."""
    key, public = ssh_keys("gate")
    plan = tmp_path / "plan.json"
    plan.write_text('{"resourcePlans": {}}')
    monkeypatch.delenv(RECEIPT_ENV, raising=False)
    monkeypatch.setenv(PLAN_ENV, str(plan))

    def receipt(
        stack: str = FULL_NAME, issued: datetime | None = None, for_plan: Path = plan
    ) -> str:
        return issue_receipt(
            stack=stack,
            digest=DIGEST,
            plan=for_plan,
            change_id=1,
            key=key,
            issuer="sre-gate",
            now=issued or datetime.now(UTC),
        )

    return receipt, [f"sre-gate {public}"], plan


def _tampered(token: str) -> str:
    envelope = json.loads(base64.urlsafe_b64decode(token))
    envelope["payload"] = envelope["payload"].replace("acme/", "evil/")
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
    receipt, signers, _ = gate
    monkeypatch.setenv(RECEIPT_ENV, receipt())
    _run("prod", preview=False, signers=signers)


def test_a_receipt_without_its_plan_file_is_refused(gate, monkeypatch: pytest.MonkeyPatch) -> None:
    receipt, signers, _ = gate
    monkeypatch.setenv(RECEIPT_ENV, receipt())
    monkeypatch.delenv(PLAN_ENV)
    with pytest.raises(GateReceiptRequired, match="only through the change gate"):
        _run("prod", preview=False, signers=signers)


@pytest.mark.parametrize(
    ("engine", "message"),
    [
        ({"org": "forked-org"}, "is for stack 'acme/sre-platform/prod', not 'forked-org/"),
        ({"project": "other-project"}, "not 'acme/other-project/prod'"),
        ({"org": None}, "did not say which organization"),
    ],
    ids=["other-org", "other-project", "no-org"],
)
def test_a_receipt_is_for_one_org_and_project(
    gate, monkeypatch: pytest.MonkeyPatch, engine, message: str
) -> None:
    receipt, signers, _ = gate
    monkeypatch.setenv(RECEIPT_ENV, receipt())
    with pytest.raises(GateReceiptRequired, match=message):
        _run("prod", preview=False, signers=signers, **engine)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda receipt, _: receipt(stack="acme/sre-platform/prod-eu"), "is for stack"),
        (
            lambda receipt, _: receipt(issued=datetime.now(UTC) - timedelta(hours=2)),
            "expired",
        ),
        (lambda receipt, _: _tampered(receipt()), "signature is not valid"),
        (lambda receipt, other: receipt(for_plan=other), "for another plan than"),
    ],
    ids=["other-stack", "expired", "tampered", "other-plan"],
)
def test_bad_receipts_stop_the_update(
    gate, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, make, message: str
) -> None:
    receipt, signers, _ = gate
    other_plan = tmp_path / "other-plan.json"
    other_plan.write_text('{"resourcePlans": {"urn:pulumi:prod::sre-platform::x::y": {}}}')
    monkeypatch.setenv(RECEIPT_ENV, make(receipt, other_plan))
    with pytest.raises(GateReceiptRequired, match=message):
        _run("prod", preview=False, signers=signers)


def test_a_plan_edited_after_the_gate_is_refused(gate, monkeypatch: pytest.MonkeyPatch) -> None:
    receipt, signers, plan = gate
    monkeypatch.setenv(RECEIPT_ENV, receipt())
    plan.write_text('{"resourcePlans": {"urn:pulumi:prod::sre-platform::added::one": {}}}')
    with pytest.raises(GateReceiptRequired, match="for another plan than"):
        _run("prod", preview=False, signers=signers)


def test_without_configured_signers_no_receipt_is_valid(
    gate, monkeypatch: pytest.MonkeyPatch
) -> None:
    receipt, _, _ = gate
    monkeypatch.setenv(RECEIPT_ENV, receipt())
    with pytest.raises(GateReceiptRequired, match="gateReceiptSigners"):
        _run("prod", preview=False)
