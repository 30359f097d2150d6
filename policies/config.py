"""The pack's settings: stack tiers, enforcement per tier and rule, and each rule's limits.

Every setting has a documented default, so the pack works with no file at all. A
repository tunes it in ``policies/config.yaml`` (same keys; anything not named keeps its
default; unknown keys are errors with file and line). The file is read by the pack's
``__main__.py`` and by ``sre policy check``, never by the rule functions themselves.
It is untrusted input (pull requests edit it), so it goes through the strict loader of
``policies.documents``.
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from policies.documents import DocumentError, load_yaml_mapping, validation_problems
from policies.model import TIERS, Enforcement, Tier

PACK_DIR = "policies"
"""Where the pack lives in the repository (its settings, waivers and prices are read there)."""
CONFIG_FILE = "config.yaml"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TierPattern(_Section):
    pattern: str
    tier: Tier


_ENFORCEMENT_BY_TIER: dict[Tier, Enforcement] = {
    "production": "mandatory",
    "staging": "mandatory",
    "test": "mandatory",
    "development": "advisory",
}


class EnforcementSettings(_Section):
    """How a violation counts: ``mandatory`` blocks, ``advisory`` is reported, ``disabled``
    is not evaluated. ``by_tier`` is the default for every rule; ``rules`` overrides it per
    rule id and tier."""

    by_tier: dict[Tier, Enforcement] = Field(default_factory=lambda: dict(_ENFORCEMENT_BY_TIER))
    rules: dict[str, dict[Tier, Enforcement]] = Field(default_factory=dict)


class TaggingSettings(_Section):
    required: tuple[str, ...] = ("owner", "team", "environment", "managed-by")
    # Test environments must also say when they go away.
    required_in_test: tuple[str, ...] = ("expires-at",)
    max_lifetime_days: Annotated[int, Field(gt=0)] = 14


_RDS_CLASSES: dict[Tier, tuple[str, ...]] = {
    "production": ("db.r6g.*", "db.r7g.*", "db.m6g.*", "db.m7g.*", "db.serverless"),
    "staging": (
        "db.t4g.*",
        "db.r6g.large",
        "db.r7g.large",
        "db.m7g.large",
        "db.serverless",
    ),
    "test": ("db.t4g.micro", "db.t4g.small", "db.t4g.medium"),
    # Serverless v2 scales down to 0.5 ACU: the platform's Grafana database in dev.
    "development": ("db.t4g.micro", "db.t4g.small", "db.t4g.medium", "db.serverless"),
}


class RdsSettings(_Section):
    # Shell-style patterns of DB instance classes allowed per tier.
    allowed_instance_classes: dict[Tier, tuple[str, ...]] = Field(
        default_factory=lambda: dict(_RDS_CLASSES)
    )
    min_backup_retention_days: Annotated[int, Field(ge=0)] = 7


class NetworkSettings(_Section):
    # Ports open to the whole internet are allowed only on load balancers.
    public_ports: tuple[int, ...] = (80, 443)
    # A security group is a load balancer's by its name (shell-style patterns) or by the
    # tag below.
    load_balancer_names: tuple[str, ...] = (
        "*-lb",
        "*-lb-*",
        "*-alb",
        "*-alb-*",
        "*-nlb",
        "*-nlb-*",
    )
    load_balancer_tag: tuple[str, str] = ("sre:role", "load-balancer")


class TestEnvironmentSettings(_Section):
    allowed_sizes: tuple[str, ...] = (
        "miniSingleton",
        "miniHA",
        "100users",
        "1000users",
        "5000users",
        "10000users",
    )
    max_monthly_cost_usd: Annotated[float, Field(gt=0)] = 150.0
    # Where a Mattermost resource states its size when ``spec.size`` is absent (the
    # TestEnvironment component sets replicas and resources itself and labels the size).
    size_label: str = "sre-platform/size"


class ProtectionSettings(_Section):
    # Resources that hold data: in production they must be declared with protect=True.
    stateful_types: tuple[str, ...] = (
        "aws:rds/instance:Instance",
        "aws:rds/cluster:Cluster",
        "aws:rds/globalCluster:GlobalCluster",
        "aws:dynamodb/table:Table",
        "aws:s3/bucket:Bucket",
        "aws:efs/fileSystem:FileSystem",
        "aws:elasticache/replicationGroup:ReplicationGroup",
        "aws:elasticache/cluster:Cluster",
        "aws:kms/key:Key",
        "aws:backup/vault:Vault",
        "aws:route53/zone:Zone",
        "kubernetes:core/v1:PersistentVolumeClaim",
        "kubernetes:core/v1:PersistentVolume",
        "postgresql:index/database:Database",
    )


class PolicyConfig(_Section):
    """Everything the rules may be told; see docs/policy-pack.md for each key."""

    tiers: tuple[TierPattern, ...] = (
        TierPattern(pattern="prod*", tier="production"),
        TierPattern(pattern="staging*", tier="staging"),
        TierPattern(pattern="env-*", tier="test"),
        TierPattern(pattern="dev*", tier="development"),
    )
    enforcement: EnforcementSettings = EnforcementSettings()
    tagging: TaggingSettings = TaggingSettings()
    rds: RdsSettings = RdsSettings()
    network: NetworkSettings = NetworkSettings()
    test_environment: TestEnvironmentSettings = TestEnvironmentSettings()
    protection: ProtectionSettings = ProtectionSettings()

    def tier_of(self, stack: str) -> Tier:
        """The tier of ``stack`` (its short name); a stack no pattern matches is production,
        so an unknown stack gets the strictest rules."""
        short = stack.rsplit("/", 1)[-1]
        for entry in self.tiers:
            if fnmatchcase(short, entry.pattern):
                return entry.tier
        return "production"

    def enforcement_of(self, rule_id: str, tier: Tier) -> Enforcement:
        override = self.enforcement.rules.get(rule_id, {})
        return override.get(tier, self.enforcement.by_tier.get(tier, _ENFORCEMENT_BY_TIER[tier]))


DEFAULT_CONFIG = PolicyConfig()


def load_config(path: Path, *, shown_path: str | None = None) -> PolicyConfig:
    """Read ``path`` over the defaults; a missing file means the defaults. Problems raise
    :class:`~policies.documents.DocumentError` naming file, line and field."""
    if not path.is_file():
        return DEFAULT_CONFIG
    document = load_yaml_mapping(path, display_path=shown_path)
    try:
        return PolicyConfig.model_validate(document.data)
    except ValidationError as exc:
        raise DocumentError(validation_problems(exc, document, PolicyConfig)) from None


__all__ = ["CONFIG_FILE", "DEFAULT_CONFIG", "TIERS", "PolicyConfig", "load_config"]
