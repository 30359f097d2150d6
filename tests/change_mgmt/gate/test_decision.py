"""The gate decision as a pure function: every reason to close, and when it opens."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from change_mgmt.gate.decision import Approval, TicketRef, decide
from change_mgmt.preview import parse_preview_json
from change_mgmt.risk.assess import AssessmentContext, RiskAssessment, assess
from change_mgmt.risk.calendar import Freeze, FreezeCalendar
from change_mgmt.risk.policy import default_policy
from tests.change_mgmt.preview.builders import preview_json, step

NOW = datetime(2026, 11, 27, 10, tzinfo=UTC)
TICKET = TicketRef("CHG-1", "local ledger", "proposed")
DEPLOYMENT_CREATE = [
    step("create", "kubernetes:apps/v1:Deployment", "app", new={})
]  # low: 0 approvals
SG_OPEN = [
    step(
        "update",
        "aws:ec2/securityGroup:SecurityGroup",
        "web",
        old={"ingress": []},
        new={
            "ingress": [
                {"protocol": "tcp", "fromPort": 22, "toPort": 22, "cidrBlocks": ["0.0.0.0/0"]}
            ]
        },
        detailed={"ingress[0]": "add"},
    )
]  # high: 2 approvals
BUCKET_DELETE = [step("delete", "aws:s3/bucket:Bucket", "data", old={})]  # critical: 2 + sre


def _gate(
    steps: list[dict[str, Any]],
    approvals: list[tuple[str, str, tuple[str, ...]]] = (),
    *,
    ticket: TicketRef | None = TICKET,
    emergency: str | None = None,
    freeze: bool = False,
    digest: str | None = None,
    stack: str | None = None,
):
    changeset = parse_preview_json(preview_json(*steps), stack="prod")
    freezes = (
        FreezeCalendar(
            freezes=[
                Freeze(
                    start=datetime(2026, 11, 1, tzinfo=UTC),
                    end=datetime(2026, 12, 1, tzinfo=UTC),
                    reason="peak season",
                )
            ]
        )
        if freeze
        else None
    )
    assessment: RiskAssessment = assess(
        changeset,
        default_policy(),
        AssessmentContext(
            now=NOW, emergency=emergency is not None, emergency_reason=emergency, freezes=freezes
        ),
    )
    given = [
        Approval(
            stack=stack or changeset.stack,
            digest=digest or changeset.digest,
            approver=who,
            decision=decision,
            reason="looks right",
            source="test",
            groups=groups,
        )
        for who, decision, groups in approvals
    ]
    return decide(changeset, assessment, given, ticket, emergency_reason=emergency)


def _codes(decision) -> set[str]:
    return {r.code for r in decision.reasons}


def test_low_risk_opens_without_approvals() -> None:
    decision = _gate(DEPLOYMENT_CREATE)
    assert decision.open and _codes(decision) == {"open"}


def test_high_risk_needs_two_distinct_approvers() -> None:
    one = _gate(SG_OPEN, [("bob@x", "approve", ())])
    assert not one.open and one.missing_approvals == 1 and "approvals-missing" in _codes(one)
    same_twice = _gate(SG_OPEN, [("bob@x", "approve", ()), ("bob@x", "approve", ())])
    assert not same_twice.open
    two = _gate(SG_OPEN, [("bob@x", "approve", ()), ("carol@x", "approve", ())])
    assert two.open and two.approvers == ("bob@x", "carol@x")


def test_critical_needs_the_sre_group() -> None:
    without = _gate(
        BUCKET_DELETE, [("bob@x", "approve", ("platform",)), ("carol@x", "approve", ())]
    )
    assert _codes(without) == {"group-approval-missing"} and without.missing_groups == ("sre",)
    with_sre = _gate(
        BUCKET_DELETE, [("bob@x", "approve", ("platform",)), ("carol@x", "approve", ("sre",))]
    )
    assert with_sre.open


def test_a_rejection_vetoes() -> None:
    decision = _gate(
        SG_OPEN, [("bob@x", "approve", ()), ("carol@x", "approve", ()), ("dave@x", "reject", ())]
    )
    assert not decision.open and _codes(decision) == {"rejected"}


@pytest.mark.parametrize("field", ["digest", "stack"])
def test_approvals_of_another_change_do_not_count(field: str) -> None:
    other = {"digest": "0" * 64} if field == "digest" else {"stack": "staging"}
    decision = _gate(SG_OPEN, [("bob@x", "approve", ()), ("carol@x", "approve", ())], **other)
    assert not decision.open and decision.approvers == ()


def test_no_ticket_no_change() -> None:
    decision = _gate(DEPLOYMENT_CREATE, ticket=None)
    assert not decision.open and _codes(decision) == {"no-ticket"}


def test_a_freeze_closes_the_gate_except_for_emergencies() -> None:
    frozen = _gate(DEPLOYMENT_CREATE, freeze=True)
    assert not frozen.open and _codes(frozen) == {"closed:change-freeze", "approvals-missing"}
    assert "peak season" in frozen.reasons[0].message
    emergency = _gate(
        DEPLOYMENT_CREATE, [("bob@x", "approve", ())], freeze=True, emergency="payments down"
    )
    assert emergency.open and emergency.emergency
    assert "post-change review" in emergency.reasons[0].message


def test_an_emergency_needs_its_approval_and_cannot_skip_blocks() -> None:
    no_approval = _gate(BUCKET_DELETE, emergency="disk full")
    assert not no_approval.open and no_approval.required_approvals == 1
    protected = [step("delete", "aws:s3/bucket:Bucket", "data", old={}, protect=True)]
    blocked = _gate(protected, [("bob@x", "approve", ("sre",))], emergency="disk full")
    assert not blocked.open and "blocked:protected-delete" in _codes(blocked)
