"""The scoring table: hand-written previews, one per rule, with the level they must get."""

from __future__ import annotations

import json
from collections import defaultdict, deque
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from change_mgmt.preview import parse_event_stream, parse_preview_json
from change_mgmt.risk.assess import (
    AssessmentContext,
    RiskAssessment,
    _count_dependents,
    assess,
)
from change_mgmt.risk.calendar import Freeze, FreezeCalendar
from change_mgmt.risk.error_budget import BudgetReading
from change_mgmt.risk.policy import default_policy
from tests.change_mgmt.preview.builders import preview_json, step, urn

FRIDAY_11_BERLIN = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)  # inside the Friday window
SATURDAY = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
POLICY = default_policy()

BUCKET = "aws:s3/bucket:Bucket"
RDS = "aws:rds/instance:Instance"
SG = "aws:ec2/securityGroup:SecurityGroup"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
IAM_POLICY = "aws:iam/policy:Policy"


def _ingress(*cidrs: str, port: int = 443) -> list[dict[str, Any]]:
    return [{"protocol": "tcp", "fromPort": port, "toPort": port, "cidrBlocks": [c]} for c in cidrs]


def _policy_doc(action: str | list[str], resource: str = "*") -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource}],
        }
    )


def _deployments(count: int) -> list[dict[str, Any]]:
    return [
        step("update", DEPLOYMENT, f"app-{i}", old={"r": 1}, new={"r": 2}, detailed={"r": "update"})
        for i in range(count)
    ]


VPC_URN = urn("prod", "aws:ec2/vpc:Vpc", "main")

# (id, stack, steps, expected level, expected rule ids)
CASES: list[tuple[str, str, list[dict[str, Any]], str, set[str]]] = [
    ("empty", "prod", [], "low", set()),
    ("only-sames", "prod", [step("same", BUCKET, "b", old={}, new={})], "low", set()),
    (
        "create-deployment",
        "prod",
        [step("create", DEPLOYMENT, "app", new={"x": 1})],
        "low",
        {"riskiest-step"},
    ),
    (
        "create-bucket",
        "prod",
        [step("create", BUCKET, "b", new={"bucket": "b"})],
        "low",
        {"riskiest-step"},
    ),
    (
        "delete-bucket-prod",
        "prod",
        [step("delete", BUCKET, "b", old={"bucket": "b"})],
        "critical",
        {"riskiest-step", "stateful-delete-in-production"},
    ),
    (
        "replace-bucket-prod",
        "prod",
        [
            step(
                "replace",
                BUCKET,
                "b",
                old={"bucket": "a"},
                new={"bucket": "b"},
                replace_reasons=["bucket"],
            )
        ],
        "critical",
        {"riskiest-step", "stateful-delete-in-production"},
    ),
    (
        "delete-bucket-staging",
        "staging-eu",
        [step("delete", BUCKET, "b", stack="staging-eu", old={})],
        "medium",
        {"riskiest-step"},
    ),
    (
        "delete-bucket-test-env",
        "env-pg-1",
        [step("delete", BUCKET, "b", stack="env-pg-1", old={})],
        "low",
        {"riskiest-step"},
    ),
    (
        "unmatched-stack-is-production",
        "mystery",
        [step("delete", BUCKET, "b", stack="mystery", old={})],
        "critical",
        {"riskiest-step", "stateful-delete-in-production"},
    ),
    (
        "rds-major-upgrade-replace",
        "prod",
        [
            step(
                "replace",
                RDS,
                "db",
                old={"engine": "postgres", "engineVersion": "15.4"},
                new={"engine": "postgres", "engineVersion": "16.1"},
                replace_reasons=["engineVersion"],
            )
        ],
        "critical",
        {"riskiest-step", "stateful-delete-in-production", "major-version-replace"},
    ),
    (
        "engine-change-replace-staging",
        "staging",
        [
            step(
                "replace",
                "aws:elasticache/cluster:Cluster",
                "cache",
                stack="staging",
                old={"engine": "redis"},
                new={"engine": "valkey"},
                replace_reasons=["engine"],
            )
        ],
        "high",
        {"riskiest-step", "major-version-replace"},
    ),
    (
        "minor-version-replace",
        "staging",
        [
            step(
                "replace",
                "aws:ec2/instance:Instance",
                "vm",
                stack="staging",
                old={"amiVersion": "15.3"},
                new={"amiVersion": "15.4"},
                replace_reasons=["amiVersion"],
            )
        ],
        "low",
        {"riskiest-step"},
    ),
    (
        "protected-delete",
        "prod",
        [step("delete", "aws:lambda/function:Function", "fn", old={}, protect=True)],
        "medium",
        {"riskiest-step", "protected-delete"},
    ),
    (
        "sg-opened-to-internet",
        "prod",
        [
            step(
                "update",
                SG,
                "web",
                old={"ingress": _ingress("10.0.0.0/8")},
                new={"ingress": _ingress("10.0.0.0/8", "0.0.0.0/0")},
                detailed={"ingress[1]": "add"},
            )
        ],
        "high",
        {"riskiest-step", "open-ingress"},
    ),
    (
        "sg-already-open-unchanged",
        "prod",
        [
            step(
                "update",
                SG,
                "web",
                old={"ingress": _ingress("0.0.0.0/0"), "description": "a"},
                new={"ingress": _ingress("0.0.0.0/0"), "description": "b"},
                detailed={"description": "update"},
            )
        ],
        "low",
        {"riskiest-step"},
    ),
    (
        "ipv6-ingress-rule-created",
        "prod",
        [
            step(
                "create",
                "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
                "v6",
                new={"cidrIpv6": "::/0", "ipProtocol": "tcp", "fromPort": 22, "toPort": 22},
            )
        ],
        "high",
        {"riskiest-step", "open-ingress"},
    ),
    (
        "iam-action-star",
        "prod",
        [
            step(
                "update",
                IAM_POLICY,
                "p",
                old={"policy": _policy_doc("s3:GetObject")},
                new={"policy": _policy_doc("*")},
                detailed={"policy": "update"},
            )
        ],
        "high",
        {"riskiest-step", "iam-wildcard"},
    ),
    (
        "iam-service-star-on-role-inline",
        "prod",
        [
            step(
                "update",
                "aws:iam/role:Role",
                "r",
                old={"inlinePolicies": [{"policy": _policy_doc("s3:GetObject")}]},
                new={"inlinePolicies": [{"policy": _policy_doc(["s3:GetObject", "iam:*"])}]},
                detailed={"inlinePolicies[0].policy": "update"},
            )
        ],
        "high",
        {"riskiest-step", "iam-wildcard"},
    ),
    (
        "admin-policy-attached",
        "prod",
        [
            step(
                "create",
                "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
                "admin",
                new={"policyArn": "arn:aws:iam::aws:policy/AdministratorAccess", "role": "ci"},
            )
        ],
        "high",
        {"riskiest-step", "iam-wildcard"},
    ),
    (
        "iam-specific-actions",
        "prod",
        [
            step(
                "update",
                IAM_POLICY,
                "p",
                old={"policy": _policy_doc("s3:GetObject")},
                new={"policy": _policy_doc(["s3:GetObject", "s3:PutObject"])},
                detailed={"policy": "update"},
            )
        ],
        "low",
        {"riskiest-step"},
    ),
    (
        "unknown-op",
        "prod",
        [step("frobnicate", DEPLOYMENT, "app", old={}, new={})],
        "medium",
        {"riskiest-step", "unknown-op"},
    ),
    (
        "unknown-op-on-stateful",
        "prod",
        [step("frobnicate", BUCKET, "b", old={}, new={})],
        "critical",
        {"riskiest-step", "unknown-op", "stateful-delete-in-production"},
    ),
    (
        "unknown-type-create",
        "prod",
        [step("create", "acme:widgets:Widget", "w", new={})],
        "medium",
        {"riskiest-step", "unknown-resource-class"},
    ),
    (
        "unknown-type-delete",
        "prod",
        [step("delete", "acme:widgets:Widget", "w", old={})],
        "critical",
        {"riskiest-step", "unknown-resource-class", "stateful-delete-in-production"},
    ),
    ("many-small-changes", "prod", _deployments(64), "medium", {"riskiest-step", "change-size"}),
    (
        "blast-radius",
        "prod",
        [
            step(
                "update",
                "aws:ec2/vpc:Vpc",
                "main",
                old={"cidr": "a"},
                new={"cidr": "b"},
                detailed={"cidr": "update"},
            ),
            *[
                step(
                    "same", "aws:ec2/subnet:Subnet", f"s{i}", old={}, new={}, dependencies=[VPC_URN]
                )
                for i in range(5)
            ],
        ],
        "medium",
        {"riskiest-step", "blast-radius"},
    ),
    (
        "component-only",
        "prod",
        [
            {
                **step("update", "sre:environments:TestEnvironment", "env", old={}, new={}),
                "newState": {
                    "urn": urn("prod", "sre:environments:TestEnvironment", "env"),
                    "custom": False,
                    "type": "x",
                },
            }
        ],
        "low",
        set(),
    ),
]


def _assess(stack: str, steps: list[dict[str, Any]], **context: Any) -> RiskAssessment:
    # No steps: a stack whose resources all stay the same (the summary still counts them).
    unchanged = None if steps else {"same": 3}
    changeset = parse_preview_json(preview_json(*steps, change_summary=unchanged), stack=stack)
    return assess(
        changeset, POLICY, AssessmentContext(now=context.pop("now", FRIDAY_11_BERLIN), **context)
    )


def test_at_least_twenty_scoring_cases() -> None:
    assert len(CASES) >= 20


@pytest.mark.parametrize(
    ("stack", "steps", "level", "rules"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_scoring_table(
    stack: str, steps: list[dict[str, Any]], level: str, rules: set[str]
) -> None:
    assessment = _assess(stack, steps)
    assert assessment.level == level, [
        (f.rule, f.points, f.explanation) for f in assessment.factors
    ]
    assert {f.rule for f in assessment.factors} == rules
    assert assessment.score == min(100, sum(f.points for f in assessment.factors))
    assert all(f.explanation.endswith(".") for f in assessment.factors)


def test_every_factor_names_its_evidence() -> None:
    assessment = _assess(
        "prod",
        [
            step(
                "update",
                SG,
                "web",
                old={"ingress": []},
                new={"ingress": _ingress("0.0.0.0/0")},
                detailed={"ingress[0]": "add"},
            )
        ],
    )
    factor = next(f for f in assessment.factors if f.rule == "open-ingress")
    assert factor.evidence[0].urn == urn("prod", SG, "web")
    assert factor.evidence[0].paths == ("ingress[0].cidrBlocks[0]",)


def test_approvals_follow_the_level() -> None:
    low = _assess("prod", [step("create", DEPLOYMENT, "a", new={})])
    high = _assess("prod", CASES[13][2])
    critical = _assess("prod", [step("delete", BUCKET, "b", old={})])
    assert (low.required_approvals, low.change_type, low.required_groups) == (0, "standard", ())
    assert (high.required_approvals, high.change_type) == (2, "normal")
    assert (critical.required_approvals, critical.required_groups) == (2, ("sre",))


def test_emergency_changes_need_the_emergency_approvals() -> None:
    assessment = _assess(
        "prod", [step("delete", BUCKET, "b", old={})], emergency=True, emergency_reason="outage"
    )
    assert (assessment.change_type, assessment.required_approvals, assessment.level) == (
        "emergency",
        1,
        "critical",
    )


def test_outside_the_change_window_adds_points_in_production_only() -> None:
    steps = [step("create", DEPLOYMENT, "a", new={})]
    inside = _assess("prod", steps)
    outside = _assess("prod", steps, now=SATURDAY)
    factor = next(f for f in outside.factors if f.rule == "outside-change-window")
    assert outside.score == inside.score + factor.points
    assert "Sat" in factor.explanation and "Europe/Berlin" in factor.explanation
    assert "outside-change-window" not in {
        f.rule
        for f in _assess(
            "env-a", [step("create", DEPLOYMENT, "a", stack="env-a", new={})], now=SATURDAY
        ).factors
    }


def test_a_freeze_closes_the_gate_unless_emergency() -> None:
    freeze = Freeze(
        id="year-end",
        start=datetime(2026, 11, 20, tzinfo=UTC),
        end=datetime(2026, 12, 1, tzinfo=UTC),
        reason="Black Friday",
    )
    assessment = _assess(
        "prod", [step("create", DEPLOYMENT, "a", new={})], freezes=FreezeCalendar(freezes=[freeze])
    )
    (closer,) = assessment.closers
    assert closer.rule == "change-freeze" and "Black Friday" in closer.explanation
    empty = _assess("prod", [], freezes=FreezeCalendar(freezes=[freeze]))
    assert empty.closers == ()


class _Budgets:
    def __init__(self, **readings: float | str) -> None:
        self.readings = readings

    def remaining(self, service: str) -> BudgetReading:
        value = self.readings[service]
        if isinstance(value, str):
            return BudgetReading(service, None, value, "q")
        return BudgetReading(service, value, None, "q")


@pytest.mark.parametrize(
    ("stack", "reading", "rule", "closes"),
    [
        ("prod", 0.6, None, False),
        ("prod", 0.1, "error-budget-low", False),
        ("prod", -0.2, "error-budget-exhausted", True),
        ("prod", "Prometheus at http://p unreachable: refused", "error-budget-unknown", True),
    ],
)
def test_error_budget_factors(
    stack: str, reading: float | str, rule: str | None, closes: bool
) -> None:
    assessment = _assess(
        stack,
        [step("create", DEPLOYMENT, "a", new={})],
        budgets=_Budgets(**{"mattermost-api-requests-availability": reading}),
    )
    budget_rules = {f.rule for f in assessment.factors if f.rule.startswith("error-budget")}
    assert budget_rules == ({rule} if rule else set())
    assert bool(assessment.closers) is closes
    assert assessment.budgets[0].service == "mattermost-api-requests-availability"


def test_no_prometheus_is_reported_not_ignored() -> None:
    assessment = _assess("prod", [step("create", DEPLOYMENT, "a", new={})])
    assert any("not checked: no Prometheus configured" in note for note in assessment.notes)


def test_policy_violations_and_corrupt_previews_block() -> None:
    events = "\n".join(
        json.dumps(e)
        for e in [
            {
                "policyEvent": {
                    "policyName": "s3-no-public-read",
                    "policyPackName": "sre",
                    "enforcementLevel": "mandatory",
                    "message": "public",
                    "resourceUrn": urn("prod", BUCKET, "b"),
                }
            },
            {
                "policyEvent": {
                    "policyName": "tags",
                    "policyPackName": "sre",
                    "enforcementLevel": "advisory",
                    "message": "x",
                    "resourceUrn": urn("prod", BUCKET, "b"),
                }
            },
            {"summaryEvent": {"maybeCorrupt": True}},
        ]
    )
    assessment = assess(parse_event_stream(events), POLICY, AssessmentContext(now=FRIDAY_11_BERLIN))
    assert {f.rule for f in assessment.blockers} == {
        "mandatory-policy-violation",
        "maybe-corrupt-preview",
    }
    assert "advisory-policy-violation" in {f.rule for f in assessment.factors}


def test_a_stack_mismatch_takes_the_stricter_tier() -> None:
    changeset = parse_preview_json(preview_json(step("delete", BUCKET, "b", old={})), stack="env-x")
    assessment = assess(changeset, POLICY, AssessmentContext(now=FRIDAY_11_BERLIN))
    assert assessment.tier == "production"
    assert assessment.level == "critical"
    assert "stricter tier" in assessment.notes[0]


# -- blast radius ------------------------------------------------------------------------


def _walk_every_dependent(urn: str, dependents: dict[str, dict[str, None]], stop_at: int) -> int:
    """The plain breadth-first walk that _count_dependents shortcuts."""
    seen, queue = {urn}, deque([urn])
    while queue and len(seen) <= stop_at:
        for child in dependents.get(queue.popleft(), {}):
            if child not in seen:
                seen.add(child)
                queue.append(child)
    return len(seen) - 1


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 25), st.integers(0, 25)), max_size=120),
    st.integers(0, 15),
)
def test_counting_dependents_agrees_with_the_plain_walk(
    edges: list[tuple[int, int]], stop_at: int
) -> None:
    dependents: dict[str, dict[str, None]] = defaultdict(dict)
    for upstream, downstream in edges:
        dependents[str(upstream)][str(downstream)] = None
    for node in map(str, range(26)):
        assert _count_dependents(node, dependents, stop_at) == _walk_every_dependent(
            node, dependents, stop_at
        )


def test_a_hub_behind_many_changed_resources_counts_all_its_dependents() -> None:
    # 300 changed groups that one component depends on; the component has 3000 children.
    # Each group's walk reaches the component, whose children are counted, not visited.
    hub = urn("prod", "sre:x:Component", "hub")
    groups = [
        step("update", "aws:ec2/securityGroup:SecurityGroup", f"sg{i}", old={}, new={})
        for i in range(300)
    ]
    component = step("same", "sre:x:Component", "hub", old={}, new={})
    for state in (component["oldState"], component["newState"]):
        state.update(custom=False, dependencies=[g["urn"] for g in groups])
    children = [step("same", BUCKET, f"b{i}", old={}, new={}, parent=hub) for i in range(3000)]
    assessment = _assess("prod", [*groups, component, *children])
    (factor,) = [f for f in assessment.factors if f.rule == "blast-radius"]
    assert factor.explanation.startswith("at least 3001 other resources")
    assert factor.evidence[0].urn == groups[0]["urn"]
