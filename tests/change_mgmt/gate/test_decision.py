"""The gate decision as a pure function: every reason to close, and when it opens."""

from __future__ import annotations

import json
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
    author_known: bool = True,
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
    return decide(
        changeset, assessment, given, ticket, emergency_reason=emergency, author_known=author_known
    )


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


@pytest.mark.parametrize("other", ["Alice@Example.com", " alice@example.com", "ALICE@EXAMPLE.COM"])
def test_one_principal_counts_once_however_spelt(other: str) -> None:
    decision = _gate(SG_OPEN, [("alice@example.com", "approve", ()), (other, "approve", ())])
    assert not decision.open and "approvals-missing" in _codes(decision)
    assert decision.approvers == ("alice@example.com",) and decision.missing_approvals == 1
    assert "1 present (alice@example.com)" in decision.reasons[0].message
    with_bob = _gate(
        SG_OPEN,
        [("alice@example.com", "approve", ()), (other, "approve", ()), ("bob@x", "approve", ())],
    )
    assert with_bob.open and with_bob.approvers == ("alice@example.com", "bob@x")


def test_one_principal_rejecting_twice_is_one_rejection() -> None:
    decision = _gate(SG_OPEN, [("dave@x", "reject", ()), ("Dave@X", "reject", ())])
    assert [r.message for r in decision.reasons if r.code == "rejected"] == [
        "Rejected by dave@x: looks right"
    ]


def _changeset_of(text: str):
    return parse_preview_json(text, stack="prod")


def test_a_failed_preview_closes_the_gate_whatever_the_policy_says() -> None:
    failed = _changeset_of(
        '{"diagnostics": [{"severity": "error", "message": "preview failed: AccessDenied"}]}'
    )
    assessment = assess(failed, default_policy(), AssessmentContext(now=NOW))
    assert assessment.level == "low" and assessment.required_approvals == 0
    decision = decide(failed, assessment, [], TICKET)
    assert not decision.open and _codes(decision) == {"preview-failed"}
    assert "preview failed: AccessDenied" in decision.reasons[0].message
    emergency = assess(
        failed, default_policy(), AssessmentContext(now=NOW, emergency=True, emergency_reason="x")
    )
    assert not decide(failed, emergency, [], TICKET, emergency_reason="x").open


def test_an_incomplete_preview_closes_the_gate() -> None:
    text = json.dumps({"steps": DEPLOYMENT_CREATE, "changeSummary": {"create": 1, "delete": 4}})
    incomplete = _changeset_of(text)
    assessment = assess(incomplete, default_policy(), AssessmentContext(now=NOW))
    decision = decide(incomplete, assessment, [], TICKET)
    assert not decision.open and _codes(decision) == {"preview-incomplete"}
    assert "counts 5 change(s) but its steps carry 1" in decision.reasons[0].message


def test_an_unknown_author_closes_a_gate_that_needs_approvals() -> None:
    approved = [("bob@x", "approve", ()), ("carol@x", "approve", ())]
    assert _gate(SG_OPEN, approved).open
    unknown = _gate(SG_OPEN, approved, author_known=False)
    assert not unknown.open and _codes(unknown) == {"author-unknown"}
    # Nothing to check four eyes against when no approval is needed.
    assert _gate(DEPLOYMENT_CREATE, author_known=False).open
