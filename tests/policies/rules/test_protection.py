"""production-stateful-protected over hand-built production stacks."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from policies import config as policy_config
from policies.config import DEFAULT_CONFIG, PolicyConfig
from policies.model import NOT_APPLICABLE, UNKNOWN, Resource, RuleContext, Tier, Violation
from policies.rules.protection import RULES, stateful_pattern, stateful_protected

NOW = datetime(2026, 11, 27, tzinfo=UTC)
STACK = "prod-us-east-1"


def ctx(tier: Tier = "production", config: PolicyConfig = DEFAULT_CONFIG) -> RuleContext:
    return RuleContext(stack=STACK, tier=tier, config=config, now=NOW)


def resource(type_: str, name: str, *, protect: bool = False, **inputs: object) -> Resource:
    return Resource(
        type=type_,
        name=name,
        urn=f"urn:pulumi:{STACK}::sre-platform::sre:observability:Central${type_}::{name}",
        inputs=inputs,
        protect=protect,
        parent=f"urn:pulumi:{STACK}::sre-platform::sre:observability:Central::central",
    )


def grafana_db(protect: bool) -> Resource:
    return resource(
        "aws:rds/cluster:Cluster",
        "grafana-db",
        protect=protect,
        engine="aurora-postgresql",
        engineMode="provisioned",
        masterPassword=UNKNOWN,
    )


def thanos_bucket(protect: bool) -> Resource:
    return resource(
        "aws:s3/bucket:Bucket",
        "thanos-metrics",
        protect=protect,
        bucket="cloud-prod-prometheus-metrics",
    )


def test_rule_identity() -> None:
    assert [(rule.id, rule.severity, rule.scope) for rule in RULES] == [
        ("production-stateful-protected", "high", "stack")
    ]
    assert "protect=True" in RULES[0].remediation


def test_protected_stateful_resources_pass() -> None:
    stack = [
        grafana_db(protect=True),
        thanos_bucket(protect=True),
        resource("aws:iam/role:Role", "thanos"),  # not stateful: protect not needed
        resource("kubernetes:apps/v1:Deployment", "grafana"),
    ]
    assert stateful_protected.check(stack, ctx()) == []


def test_unprotected_stateful_resources_are_reported_by_urn() -> None:
    db, bucket = grafana_db(protect=False), thanos_bucket(protect=False)
    pvc = resource("kubernetes:core/v1:PersistentVolumeClaim", "loki-data")
    found = stateful_protected.check([db, bucket, pvc, resource("aws:iam/role:Role", "r")], ctx())
    assert found == [
        Violation(
            "aws:rds/cluster:Cluster 'grafana-db' holds data but is not protected: set "
            "protect=True",
            db.urn,
        ),
        Violation(
            "aws:s3/bucket:Bucket 'thanos-metrics' holds data but is not protected: set "
            "protect=True",
            bucket.urn,
        ),
        Violation(
            "kubernetes:core/v1:PersistentVolumeClaim 'loki-data' holds data but is not "
            "protected: set protect=True",
            pvc.urn,
        ),
    ]


def test_shell_patterns_from_config() -> None:
    config = PolicyConfig(
        protection=policy_config.ProtectionSettings(stateful_types=("aws:rds/*", "*:Volume"))
    )
    instance = resource("aws:rds/instance:Instance", "grafana-db-1")
    volume = resource("aws:ebs/volume:Volume", "scratch")
    bucket = thanos_bucket(protect=False)  # no longer listed
    found = stateful_protected.check([instance, volume, bucket], ctx(config=config))
    assert [(v.urn, v.message) for v in found] == [  # type: ignore[union-attr]
        (
            instance.urn,
            "aws:rds/instance:Instance 'grafana-db-1' holds data (matches 'aws:rds/*') but is "
            "not protected: set protect=True",
        ),
        (
            volume.urn,
            "aws:ebs/volume:Volume 'scratch' holds data (matches '*:Volume') but is not "
            "protected: set protect=True",
        ),
    ]


def test_patterns_are_case_sensitive() -> None:
    assert stateful_pattern("aws:s3/bucket:Bucket", ("aws:s3/bucket:Bucket",)) is not None
    assert stateful_pattern("aws:s3/bucket:bucket", ("aws:s3/bucket:Bucket",)) is None
    assert stateful_pattern("aws:s3/bucketPolicy:BucketPolicy", ("aws:s3/bucket:Bucket",)) is None


def test_unknown_inputs_do_not_matter() -> None:
    # The rule reads types and the protect option only, both always known.
    assert stateful_protected.check([grafana_db(protect=True)], ctx()) == []


def test_production_stack_without_stateful_resources_passes() -> None:
    assert stateful_protected.check([], ctx()) == []


@pytest.mark.parametrize("tier", ["staging", "test", "development"])
def test_other_tiers_are_not_applicable(tier: Tier) -> None:
    assert stateful_protected.check([grafana_db(protect=False)], ctx(tier)) is NOT_APPLICABLE
