"""RDS: databases are encrypted, private, protected and backed up, and sized for their tier.

Types: ``aws:rds/instance:Instance`` (a standalone DB instance), ``aws:rds/cluster:Cluster``
(Aurora, or a Multi-AZ DB cluster) and, for the rules that concern it,
``aws:rds/clusterInstance:ClusterInstance`` (an Aurora cluster's member).

Absent inputs mean the AWS default: ``storageEncrypted`` false (true for the old
``engineMode: serverless`` clusters), ``publiclyAccessible`` false, ``deletionProtection``
false, ``backupRetentionPeriod`` 1 day. A copy of another database (an instance with
``replicateSourceDb`` or ``snapshotIdentifier``, a cluster with
``replicationSourceIdentifier``, ``snapshotIdentifier`` or ``globalClusterIdentifier``)
inherits its encryption from the source, so an absent ``storageEncrypted`` is not judged
there; read replicas keep no backups of their own, so the retention rule skips them.
Numbers may arrive as floats (the engine's wire format has no integers).
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any

from policies.model import (
    NOT_APPLICABLE,
    Outcome,
    Resource,
    Rule,
    RuleContext,
    Violation,
    is_unknown,
    resource_rule,
)

INSTANCE = "aws:rds/instance:Instance"
CLUSTER = "aws:rds/cluster:Cluster"
CLUSTER_INSTANCE = "aws:rds/clusterInstance:ClusterInstance"
DATABASES = frozenset({INSTANCE, CLUSTER})
AWS_DEFAULT_BACKUP_RETENTION_DAYS = 1

# Inputs that make a database a copy of another one (it inherits the source's encryption).
_COPY_INPUTS: dict[str, tuple[str, ...]] = {
    INSTANCE: ("replicateSourceDb", "snapshotIdentifier"),
    CLUSTER: ("replicationSourceIdentifier", "snapshotIdentifier", "globalClusterIdentifier"),
}


def _is_set(value: Any) -> bool:
    return value is not None and value != ""


def is_copy(resource: Resource) -> bool:
    """Whether ``resource`` is created from another database or snapshot."""
    return any(_is_set(resource.get(name)) for name in _COPY_INPUTS.get(resource.type, ()))


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


@resource_rule(
    "rds-storage-encrypted",
    "RDS instances and clusters encrypt their storage at rest.",
    "high",
    "Set `storageEncrypted: true` (optionally with `kmsKeyId`) on the RDS Instance or "
    "Cluster; an existing database must be restored from an encrypted snapshot copy.",
)
def storage_encrypted(resource: Resource, ctx: RuleContext) -> Outcome:
    if resource.type not in DATABASES:
        return NOT_APPLICABLE
    value = resource.get("storageEncrypted")
    if value is True or is_unknown(value):
        return []
    if value is None:
        if is_copy(resource):
            return []  # inherits the source's encryption
        engine_mode = resource.get("engineMode")
        if resource.type == CLUSTER and (engine_mode == "serverless" or is_unknown(engine_mode)):
            return []  # Aurora Serverless v1 is always encrypted
        return [
            Violation(
                f"{resource.label}: `storageEncrypted` is not set (AWS defaults to false)",
                resource.urn,
            )
        ]
    return [Violation(f"{resource.label}: `storageEncrypted` is {value!r}", resource.urn)]


@resource_rule(
    "rds-not-public",
    "RDS instances and clusters are not reachable from the internet.",
    "critical",
    "Set `publiclyAccessible: false` (or leave it unset) and reach the database through "
    "the VPC (a bastion, SSM port forwarding or a VPN).",
)
def not_public(resource: Resource, ctx: RuleContext) -> Outcome:
    if resource.type not in DATABASES | {CLUSTER_INSTANCE}:
        return NOT_APPLICABLE
    if resource.get("publiclyAccessible") is True:
        return [Violation(f"{resource.label}: `publiclyAccessible` is true", resource.urn)]
    return []


@resource_rule(
    "rds-deletion-protection",
    "Production RDS instances and clusters cannot be deleted until deletion protection is "
    "turned off.",
    "medium",
    "Set `deletionProtection: true` on the production RDS Instance or Cluster.",
)
def deletion_protection(resource: Resource, ctx: RuleContext) -> Outcome:
    if resource.type not in DATABASES or ctx.tier != "production":
        return NOT_APPLICABLE
    value = resource.get("deletionProtection")
    if value is True or is_unknown(value):
        return []
    shown = "not set (AWS defaults to false)" if value is None else repr(value)
    return [Violation(f"{resource.label}: `deletionProtection` is {shown}", resource.urn)]


@resource_rule(
    "rds-backup-retention",
    "Production RDS instances and clusters keep automated backups for at least the "
    "configured number of days.",
    "high",
    "Set `backupRetentionPeriod` to at least `rds.min_backup_retention_days` (7 by "
    "default) on the production RDS Instance or Cluster.",
)
def backup_retention(resource: Resource, ctx: RuleContext) -> Outcome:
    if resource.type not in DATABASES or ctx.tier != "production":
        return NOT_APPLICABLE
    if resource.type == INSTANCE and _is_set(resource.get("replicateSourceDb")):
        return NOT_APPLICABLE  # a read replica: the source keeps the backups
    value = resource.get("backupRetentionPeriod")
    if is_unknown(value):
        return []
    minimum = ctx.config.rds.min_backup_retention_days
    if value is None:
        days: float | None = AWS_DEFAULT_BACKUP_RETENTION_DAYS
        shown = f"not set (AWS defaults to {AWS_DEFAULT_BACKUP_RETENTION_DAYS} day)"
    else:
        days = _number(value)
        shown = f"{days:g}" if days is not None else repr(value)
    if days is not None and days >= minimum:
        return []
    return [
        Violation(
            f"{resource.label}: `backupRetentionPeriod` is {shown}; at least {minimum} days "
            "required",
            resource.urn,
        )
    ]


@resource_rule(
    "rds-instance-class",
    "RDS instance classes are among those allowed for the stack's tier (cost and capacity "
    "guard rails).",
    "medium",
    "Set `instanceClass` (`dbClusterInstanceClass` on a Multi-AZ DB cluster) to a class "
    "matching one of the tier's patterns in `rds.allowed_instance_classes`.",
)
def instance_class(resource: Resource, ctx: RuleContext) -> Outcome:
    if resource.type in {INSTANCE, CLUSTER_INSTANCE}:
        field = "instanceClass"
    elif resource.type == CLUSTER:
        field = "dbClusterInstanceClass"  # Aurora clusters size their ClusterInstances
    else:
        return NOT_APPLICABLE
    allowed = ctx.config.rds.allowed_instance_classes.get(ctx.tier)
    value = resource.get(field)
    if not allowed or value is None:
        return NOT_APPLICABLE
    if is_unknown(value):
        return []
    if isinstance(value, str) and any(fnmatchcase(value.strip(), p) for p in allowed):
        return []
    return [
        Violation(
            f"{resource.label}: `{field}` {value!r} is not allowed in {ctx.tier} "
            f"(allowed: {', '.join(allowed)})",
            resource.urn,
        )
    ]


RULES: tuple[Rule, ...] = (
    storage_encrypted,
    not_public,
    deletion_protection,
    backup_retention,
    instance_class,
)
