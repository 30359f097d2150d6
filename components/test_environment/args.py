"""Typed inputs of the ``TestEnvironment`` component and the size catalogue they refer to.

These are plain frozen dataclasses: the component never reads files or ``pulumi.Config``;
the stack program turns a validated request file plus platform config into them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, get_args

from policies.config import DEFAULT_CONFIG, PolicyConfig

Size = Literal[
    "miniSingleton", "miniHA", "100users", "1000users", "5000users", "10000users", "25000users"
]
DatabaseType = Literal["aws-rds-postgres", "aws-multitenant-rds-postgres", "operator-managed"]
FilestoreType = Literal["aws-s3", "aws-multitenant-s3", "operator-managed"]

SIZE_NAMES: tuple[str, ...] = get_args(Size)
DATABASE_TYPES: tuple[str, ...] = get_args(DatabaseType)
# PostgreSQL, the database Mattermost supports going forward, at the least cost: a logical
# database on the shared cluster. ``operator-managed`` runs MySQL: the operator's
# in-cluster PostgreSQL (``operatorManaged.type: postgres``) is not implemented by it.
DEFAULT_DATABASE: DatabaseType = "aws-multitenant-rds-postgres"
FILESTORE_TYPES: tuple[str, ...] = get_args(FilestoreType)


@dataclass(frozen=True)
class SizeSpec:
    """App replicas and the per-replica resource request of one installation size."""

    replicas: int
    cpu_millicores: int
    memory_mib: int

    @property
    def total_cpu_millicores(self) -> int:
        return self.replicas * self.cpu_millicores

    @property
    def total_memory_mib(self) -> int:
        return self.replicas * self.memory_mib


# The team's installation sizes (DESIGN.md §3); the two mini sizes are our own small
# development sizes (1 or 2 replicas of 250m / 512Mi).
SIZES: Mapping[str, SizeSpec] = {
    "miniSingleton": SizeSpec(replicas=1, cpu_millicores=250, memory_mib=512),
    "miniHA": SizeSpec(replicas=2, cpu_millicores=250, memory_mib=512),
    "100users": SizeSpec(replicas=1, cpu_millicores=100, memory_mib=256),
    "1000users": SizeSpec(replicas=2, cpu_millicores=150, memory_mib=256),
    "5000users": SizeSpec(replicas=2, cpu_millicores=500, memory_mib=500),
    "10000users": SizeSpec(replicas=2, cpu_millicores=500, memory_mib=500),
    "25000users": SizeSpec(replicas=2, cpu_millicores=1000, memory_mib=4096),
}


@dataclass(frozen=True)
class SecretKeyRef:
    """A key of a Kubernetes Secret in the environment's namespace."""

    secret: str
    key: str


@dataclass(frozen=True)
class EnvVar:
    """One app environment variable: a literal value or a reference to a secret key."""

    name: str
    value: str | None = None
    secret_ref: SecretKeyRef | None = None


@dataclass(frozen=True)
class PlatformSettings:
    """Where test environments live; read from stack config by the stack program."""

    cluster: str
    vpc_id: str
    db_subnet_group: str
    db_security_group_ids: tuple[str, ...]
    test_domain: str
    ingress_class: str
    shared_db_endpoint: str
    shared_bucket: str
    oidc_provider_arn: str
    # ``<namespace>/<name>`` of the cluster's wildcard TLS Secret for ``*.<test_domain>``.
    tls_secret: str


@dataclass(frozen=True)
class TestEnvironmentArgs:
    """Everything one test installation needs. Defaults are the cheap, safe choice."""

    __test__ = False  # not a pytest test class, despite the name

    name: str
    owner: str
    team: str
    version: str
    platform: PlatformSettings
    expires_at: datetime
    size: Size = "miniSingleton"
    image: str = "mattermost/mattermost-enterprise-edition"
    database: DatabaseType = DEFAULT_DATABASE
    filestore: FilestoreType = "operator-managed"
    env: tuple[EnvVar, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)
    db_instance_class: str = "db.t4g.medium"
    # The policy pack's settings (stacks pass the repository's policies/config.yaml), so
    # the component refuses exactly what the pack would.
    policy: PolicyConfig = DEFAULT_CONFIG
