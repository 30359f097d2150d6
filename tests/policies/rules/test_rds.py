"""The RDS rules: encryption, public access, deletion protection, backups, sizes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from policies.config import DEFAULT_CONFIG, PolicyConfig, RdsSettings
from policies.model import NOT_APPLICABLE, UNKNOWN, Resource, RuleContext, Tier
from policies.rules.rds import (
    RULES,
    backup_retention,
    deletion_protection,
    instance_class,
    not_public,
    storage_encrypted,
)

NOW = datetime(2026, 11, 27, tzinfo=UTC)
INSTANCE = "aws:rds/instance:Instance"
CLUSTER = "aws:rds/cluster:Cluster"
CLUSTER_INSTANCE = "aws:rds/clusterInstance:ClusterInstance"
BUCKET = "aws:s3/bucket:Bucket"


def ctx(tier: Tier = "production", config: PolicyConfig = DEFAULT_CONFIG) -> RuleContext:
    return RuleContext(stack="prod-us-east-1", tier=tier, config=config, now=NOW)


def res(type_: str, name: str, **inputs: Any) -> Resource:
    """A resource; inputs given as None are left out, as the engine leaves unset ones out."""
    return Resource(
        type=type_,
        name=name,
        urn=f"urn:pulumi:prod-us-east-1::sre-platform::{type_}::{name}",
        inputs={key: value for key, value in inputs.items() if value is not None},
    )


def instance(**inputs: Any) -> Resource:
    base = {
        "engine": "postgres",
        "engineVersion": "16.4",
        "instanceClass": "db.r7g.large",
        "allocatedStorage": 100,
        "storageEncrypted": True,
        "deletionProtection": True,
        "backupRetentionPeriod": 14,
    }
    return res(INSTANCE, "chat-db", **{**base, **inputs})


def aurora(**inputs: Any) -> Resource:
    base = {
        "engine": "aurora-postgresql",
        "engineMode": "provisioned",
        "storageEncrypted": True,
        "deletionProtection": True,
        "backupRetentionPeriod": 7,
        "serverlessv2ScalingConfiguration": {"minCapacity": 0.5, "maxCapacity": 4},
    }
    return res(CLUSTER, "grafana-db", **{**base, **inputs})


def messages(outcome: Any) -> list[str]:
    assert outcome is not NOT_APPLICABLE
    return [v.message for v in outcome]


def test_module_rules() -> None:
    assert {r.id: r.severity for r in RULES} == {
        "rds-storage-encrypted": "high",
        "rds-not-public": "critical",
        "rds-deletion-protection": "medium",
        "rds-backup-retention": "high",
        "rds-instance-class": "medium",
    }


def test_compliant_production_databases_pass_every_rule() -> None:
    member = res(CLUSTER_INSTANCE, "grafana-db-1", instanceClass="db.serverless")
    for resource in (instance(), aurora(), member):
        for rule in RULES:
            outcome = rule.check(resource, ctx())
            assert outcome is NOT_APPLICABLE or list(outcome) == [], (rule.id, resource.type)


def test_rules_not_applicable_to_other_types() -> None:
    for rule in RULES:
        assert rule.check(res(BUCKET, "b"), ctx()) is NOT_APPLICABLE


# --- rds-storage-encrypted ---------------------------------------------------------------


def test_unencrypted_instance_and_cluster() -> None:
    [message] = messages(storage_encrypted.check(instance(storageEncrypted=False), ctx("test")))
    assert "`storageEncrypted` is False" in message
    [message] = messages(storage_encrypted.check(aurora(storageEncrypted=None), ctx("test")))
    assert "`storageEncrypted` is not set (AWS defaults to false)" in message


def test_encryption_unknown_or_inherited_is_not_judged() -> None:
    assert messages(storage_encrypted.check(instance(storageEncrypted=UNKNOWN), ctx())) == []
    replica = instance(storageEncrypted=None, replicateSourceDb="chat-db")
    assert messages(storage_encrypted.check(replica, ctx())) == []
    secondary = aurora(storageEncrypted=None, globalClusterIdentifier="chat-global")
    assert messages(storage_encrypted.check(secondary, ctx())) == []
    serverless_v1 = aurora(storageEncrypted=None, engineMode="serverless")
    assert messages(storage_encrypted.check(serverless_v1, ctx())) == []


def test_encryption_not_applicable_to_cluster_members() -> None:
    member = res(CLUSTER_INSTANCE, "m", instanceClass="db.r7g.large")
    assert storage_encrypted.check(member, ctx()) is NOT_APPLICABLE


# --- rds-not-public ----------------------------------------------------------------------


@pytest.mark.parametrize("type_", [INSTANCE, CLUSTER, CLUSTER_INSTANCE])
def test_publicly_accessible_is_reported(type_: str) -> None:
    [message] = messages(
        not_public.check(res(type_, "db", publiclyAccessible=True), ctx("development"))
    )
    assert "`publiclyAccessible` is true" in message


@pytest.mark.parametrize("value", [False, None, UNKNOWN])
def test_not_public_when_false_unset_or_unknown(value: Any) -> None:
    assert messages(not_public.check(instance(publiclyAccessible=value), ctx())) == []


# --- rds-deletion-protection -------------------------------------------------------------


def test_deletion_protection_production_only() -> None:
    [message] = messages(deletion_protection.check(instance(deletionProtection=None), ctx()))
    assert "`deletionProtection` is not set" in message
    [message] = messages(deletion_protection.check(aurora(deletionProtection=False), ctx()))
    assert "`deletionProtection` is False" in message
    tiers: tuple[Tier, ...] = ("staging", "test", "development")
    for tier in tiers:
        unprotected = instance(deletionProtection=False)
        assert deletion_protection.check(unprotected, ctx(tier)) is NOT_APPLICABLE


def test_deletion_protection_unknown_and_members() -> None:
    assert messages(deletion_protection.check(instance(deletionProtection=UNKNOWN), ctx())) == []
    member = res(CLUSTER_INSTANCE, "m", instanceClass="db.r7g.large")
    assert deletion_protection.check(member, ctx()) is NOT_APPLICABLE


# --- rds-backup-retention ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "not set (AWS defaults to 1 day); at least 7 days required"),
        (3, "is 3; at least 7"),
        (0, "is 0; at least 7"),
        (6.0, "is 6; at least 7"),  # the engine's numbers are floats
    ],
)
def test_short_retention_in_production(value: Any, expected: str) -> None:
    [message] = messages(backup_retention.check(instance(backupRetentionPeriod=value), ctx()))
    assert expected in message
    assert "`backupRetentionPeriod`" in message
    assert len(messages(backup_retention.check(aurora(backupRetentionPeriod=value), ctx()))) == 1


@pytest.mark.parametrize("value", [7, 7.0, 35, UNKNOWN])
def test_enough_or_unknown_retention_passes(value: Any) -> None:
    assert messages(backup_retention.check(instance(backupRetentionPeriod=value), ctx())) == []


def test_retention_tier_and_replicas() -> None:
    assert backup_retention.check(instance(backupRetentionPeriod=1), ctx("test")) is NOT_APPLICABLE
    replica = instance(backupRetentionPeriod=0, replicateSourceDb="chat-db")
    assert backup_retention.check(replica, ctx()) is NOT_APPLICABLE


def test_retention_minimum_comes_from_config() -> None:
    config = PolicyConfig(rds=RdsSettings(min_backup_retention_days=1))
    unset = instance(backupRetentionPeriod=None)
    assert messages(backup_retention.check(unset, ctx(config=config))) == []
    strict = PolicyConfig(rds=RdsSettings(min_backup_retention_days=30))
    assert "at least 30" in messages(backup_retention.check(instance(), ctx(config=strict)))[0]


# --- rds-instance-class ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tier", "klass", "ok"),
    [
        ("production", "db.r7g.2xlarge", True),
        ("production", "db.t4g.medium", False),
        ("staging", "db.t4g.large", True),
        ("staging", "db.r7g.4xlarge", False),
        ("test", "db.t4g.medium", True),
        ("test", "db.r6g.large", False),
    ],
)
def test_instance_class_per_tier(tier: Tier, klass: str, ok: bool) -> None:
    found = messages(instance_class.check(instance(instanceClass=klass), ctx(tier)))
    if ok:
        assert found == []
    else:
        [message] = found
        assert f"`instanceClass` {klass!r} is not allowed in {tier}" in message


def test_cluster_members_and_multi_az_clusters_are_sized() -> None:
    member = res(CLUSTER_INSTANCE, "grafana-db-1", instanceClass="db.r7g.large")
    [message] = messages(instance_class.check(member, ctx("test")))
    assert "db.r7g.large" in message
    multi_az = aurora(engine="postgres", dbClusterInstanceClass="db.m5d.large")
    [message] = messages(instance_class.check(multi_az, ctx()))
    assert "`dbClusterInstanceClass` 'db.m5d.large'" in message


def test_instance_class_unknown_or_aurora_cluster() -> None:
    assert messages(instance_class.check(instance(instanceClass=UNKNOWN), ctx())) == []
    assert instance_class.check(aurora(), ctx()) is NOT_APPLICABLE


def test_instance_class_tier_without_patterns() -> None:
    config = PolicyConfig(rds=RdsSettings(allowed_instance_classes={"production": ("db.r7g.*",)}))
    assert instance_class.check(instance(instanceClass="db.x2g.16xlarge"), ctx("test", config)) is (
        NOT_APPLICABLE
    )
