"""test-env-size-cap and test-env-monthly-cost over hand-built test environments."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from components.test_environment.args import SIZE_NAMES
from policies import config as policy_config
from policies.config import DEFAULT_CONFIG, PolicyConfig
from policies.model import NOT_APPLICABLE, UNKNOWN, Resource, RuleContext, Tier, Violation
from policies.rules.test_environments import RULES, monthly_cost, size_cap, size_refusal

NOW = datetime(2026, 11, 27, tzinfo=UTC)
MATTERMOST = "kubernetes:installation.mattermost.com/v1beta1:Mattermost"
PARENT = "urn:pulumi:env-demo::sre-platform::sre:environments:TestEnvironment::demo"


def ctx(tier: Tier = "test", config: PolicyConfig = DEFAULT_CONFIG) -> RuleContext:
    return RuleContext(stack="env-demo", tier=tier, config=config, now=NOW)


def resource(type_: str, name: str, inputs: dict[str, Any]) -> Resource:
    return Resource(
        type=type_,
        name=name,
        urn=f"urn:pulumi:env-demo::sre-platform::sre:environments:TestEnvironment${type_}::{name}",
        inputs=inputs,
        parent=PARENT,
    )


def mattermost(
    size_label: Any = "1000users",
    *,
    spec_size: Any = None,
    replicas: Any = 2,
    cpu: str = "150m",
    memory: str = "256Mi",
) -> Resource:
    labels = {"app.kubernetes.io/managed-by": "sre-platform"}
    if size_label is not None:
        labels["sre-platform/size"] = size_label
    spec: dict[str, Any] = {
        "image": "mattermost/mattermost-enterprise-edition",
        "version": "10.11.2",
        "replicas": replicas,
        "scheduling": {
            "resources": {
                "requests": {"cpu": cpu, "memory": memory},
                "limits": {"cpu": cpu, "memory": memory},
            }
        },
    }
    if spec_size is not None:
        spec["size"] = spec_size
    return resource(
        MATTERMOST,
        "demo-mattermost",
        {"metadata": {"name": "demo", "namespace": "demo", "labels": labels}, "spec": spec},
    )


def rds(instance_class: Any = "db.t4g.medium", storage: Any = 20) -> Resource:
    return resource(
        "aws:rds/instance:Instance",
        "demo-db",
        {
            "engine": "postgres",
            "instanceClass": instance_class,
            "allocatedStorage": storage,
            "tags": {"environment": "test"},
        },
    )


def bucket() -> Resource:
    return resource("aws:s3/bucket:Bucket", "demo-files", {"forceDestroy": True})


def namespace() -> Resource:
    return resource("kubernetes:core/v1:Namespace", "demo", {"metadata": {"name": "demo"}})


def messages(outcome: object) -> list[str]:
    assert isinstance(outcome, list)
    return [violation.message for violation in outcome]


def test_rule_identity() -> None:
    assert [(rule.id, rule.severity, rule.scope) for rule in RULES] == [
        ("test-env-size-cap", "medium", "resource"),
        ("test-env-monthly-cost", "medium", "stack"),
    ]


# --- test-env-size-cap -------------------------------------------------------------------


@pytest.mark.parametrize("size", DEFAULT_CONFIG.test_environment.allowed_sizes)
def test_allowed_size_label_passes(size: str) -> None:
    assert size_cap.check(mattermost(size), ctx()) == []


def test_disallowed_size_label_is_reported_with_value() -> None:
    found = size_cap.check(mattermost("25000users"), ctx())
    assert found == [
        Violation(
            "Mattermost 'demo-mattermost' label sre-platform/size is '25000users', not an "
            "allowed test environment size (miniSingleton, miniHA, 100users, 1000users, "
            "5000users, 10000users)",
            mattermost().urn,
        )
    ]


def test_spec_size_is_judged_too() -> None:
    assert size_cap.check(mattermost(None, spec_size="5000users"), ctx()) == []
    found = messages(size_cap.check(mattermost("1000users", spec_size="25000users"), ctx()))
    assert found == [
        "Mattermost 'demo-mattermost' spec.size is '25000users', not an allowed test "
        "environment size (miniSingleton, miniHA, 100users, 1000users, 5000users, 10000users)"
    ]


def test_no_size_at_all_is_reported() -> None:
    found = messages(size_cap.check(mattermost(None), ctx()))
    assert found == [
        "Mattermost 'demo-mattermost' states no size (neither spec.size nor label "
        "sre-platform/size); allowed: miniSingleton, miniHA, 100users, 1000users, 5000users, "
        "10000users"
    ]


def test_unknown_size_is_not_a_violation() -> None:
    assert size_cap.check(mattermost(UNKNOWN), ctx()) == []
    assert size_cap.check(mattermost("25000users", spec_size=UNKNOWN), ctx()) == []
    unknown_labels = resource(MATTERMOST, "demo-mattermost", {"metadata": {"labels": UNKNOWN}})
    assert size_cap.check(unknown_labels, ctx()) == []


def test_allowed_sizes_and_label_come_from_config() -> None:
    config = PolicyConfig(
        test_environment=policy_config.TestEnvironmentSettings(
            allowed_sizes=("100users", "25000users"), size_label="example.com/size"
        )
    )
    relabelled = mattermost(None)
    relabelled.inputs["metadata"]["labels"]["example.com/size"] = "25000users"
    assert size_cap.check(relabelled, ctx(config=config)) == []
    assert messages(
        size_cap.check(mattermost(None, spec_size="1000users"), ctx(config=config))
    ) == [
        "Mattermost 'demo-mattermost' spec.size is '1000users', not an allowed test "
        "environment size (100users, 25000users)"
    ]
    # The default label is not read once another is configured.
    assert (
        "states no size" in messages(size_cap.check(mattermost("100users"), ctx(config=config)))[0]
    )


@pytest.mark.parametrize("tier", ["production", "staging", "development"])
def test_size_cap_applies_to_the_test_tier_only(tier: Tier) -> None:
    assert size_cap.check(mattermost("25000users"), ctx(tier)) is NOT_APPLICABLE


def test_size_cap_not_applicable_to_other_types() -> None:
    assert size_cap.check(rds(), ctx()) is NOT_APPLICABLE


# --- test-env-monthly-cost ---------------------------------------------------------------


def test_environment_within_cap_passes() -> None:
    # 49.75 (db.t4g.medium + 20 GB) + 0.23 (bucket) + 10.49 (2 × 150m/256Mi) = 60.47
    stack = [namespace(), mattermost(), rds(), bucket()]
    assert monthly_cost.check(stack, ctx()) == []


def test_expensive_environment_is_reported_with_estimate_cap_and_top_lines() -> None:
    big_app = mattermost("25000users", cpu="1000m", memory="4Gi")
    big_db = rds("db.m7g.large", storage=100)
    unpriced = resource("aws:ec2/instance:Instance", "demo-bastion", {"instanceType": "t3.micro"})
    found = monthly_cost.check([namespace(), big_app, big_db, bucket(), unpriced], ctx())
    assert isinstance(found, list) and len(found) == 1
    message = found[0].message
    # 0.168 × 730 + 100 × 0.115 = 134.14; 2 × (1 × 0.04048 + 4 × 0.004445) × 730 = 85.06
    assert message.startswith(
        "estimated monthly cost $219.43 exceeds the test environment cap of $150.00 "
        "(prices us-east-1, as of 2026-11-01; 1 resource(s) unpriced); most expensive: "
        "demo-db (aws:rds/instance:Instance) $134.14: db.m7g.large"
    )
    assert "demo-mattermost (kubernetes:installation.mattermost.com/v1beta1:Mattermost) $85.06" in (
        message
    )
    assert message.endswith(
        "demo-files (aws:s3/bucket:Bucket) $0.23: assumed 10 GB S3 Standard × $0.023/GB-month"
    )
    assert found[0].urn == big_db.urn  # the most expensive resource


def test_only_three_lines_are_listed() -> None:
    stack = [
        rds("db.m7g.large", storage=10),
        resource("aws:rds/instance:Instance", "demo-db-2", {"instanceClass": "db.t4g.large"}),
        mattermost(),
        bucket(),
    ]
    message = messages(monthly_cost.check(stack, ctx()))[0]
    assert "demo-db-2" in message and "demo-mattermost" in message
    assert "demo-files" not in message


def test_cap_comes_from_config() -> None:
    config = PolicyConfig(
        test_environment=policy_config.TestEnvironmentSettings(max_monthly_cost_usd=50)
    )
    found = messages(monthly_cost.check([mattermost(), rds(), bucket()], ctx(config=config)))
    assert found[0].startswith(
        "estimated monthly cost $60.47 exceeds the test environment cap of $50.00"
    )


def test_unknown_inputs_are_left_unpriced_not_guessed() -> None:
    # An unknown instance class or replica count is not priced; an unknown storage size
    # prices the instance alone rather than failing.
    stack = [mattermost(replicas=UNKNOWN), rds(UNKNOWN), bucket()]
    assert monthly_cost.check(stack, ctx()) == []
    config = PolicyConfig(
        test_environment=policy_config.TestEnvironmentSettings(max_monthly_cost_usd=40)
    )
    found = messages(monthly_cost.check([rds(storage=UNKNOWN)], ctx(config=config)))
    assert found[0].startswith("estimated monthly cost $47.45 exceeds")


@pytest.mark.parametrize("tier", ["production", "staging", "development"])
def test_monthly_cost_applies_to_the_test_tier_only(tier: Tier) -> None:
    stack = [rds("db.m7g.large", storage=1000), mattermost()]
    assert monthly_cost.check(stack, ctx(tier)) is NOT_APPLICABLE


def test_empty_test_stack_costs_nothing() -> None:
    assert monthly_cost.check([], ctx()) == []


# --- the rule's setting, shared with request validation -------------------------------


@pytest.mark.parametrize("size", SIZE_NAMES)
@pytest.mark.parametrize(
    "allowed", [DEFAULT_CONFIG.test_environment.allowed_sizes, ("100users", "25000users")]
)
def test_size_refusal_agrees_with_the_rule(size: str, allowed: tuple[str, ...]) -> None:
    """Request validation calls size_refusal; it refuses exactly what size_cap reports."""
    settings = policy_config.TestEnvironmentSettings(allowed_sizes=allowed)
    config = PolicyConfig(test_environment=settings)
    refused = size_refusal(size, settings)
    assert (refused is None) == (size_cap.check(mattermost(size), ctx(config=config)) == [])
    if refused:
        assert size_cap.id in refused and ", ".join(allowed) in refused
