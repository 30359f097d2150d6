"""Typed inputs of ``CiAccess`` and the one error it raises for bad ones.

The stack program builds them from typed stack config; the component never reads
``pulumi.Config``. Every name that ends up in a trust policy is checked here against the
same exact patterns the policy rule ``iam-github-oidc-trust-pinned`` accepts, so no value
can widen a trust policy (no ``*``, ``?`` or ``${…}``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from policies.rules.iam import ADMINISTRATOR_ACCESS, GITHUB_ENVIRONMENT_NAME

# GitHub's rules: owner 1-39 alphanumerics or hyphens (not first), repository name
# letters, digits, '.', '_', '-'.
REPOSITORY = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}")
ENVIRONMENT_NAME = re.compile(GITHUB_ENVIRONMENT_NAME)
_DNS_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?")
_ACCOUNT = re.compile(r"[0-9]{12}")
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]")
_BUCKET_ARN = re.compile(r"arn:aws[a-z-]*:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_TABLE = re.compile(r"[A-Za-z0-9_.-]{3,255}")
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_KMS_KEY_ARN = re.compile(r"arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]{1,128}")
_MANAGED_POLICY_ARN = re.compile(r"arn:aws[a-z-]*:iam::(aws|[0-9]{12}):policy/[A-Za-z0-9+=,.@/_-]+")

# AWS's managed policies: the previewer reads, the deployer changes everything but IAM
# (its IAM rights are the inline policy of components/ci_access/documents.py).
READ_ONLY_ACCESS = "ReadOnlyAccess"
POWER_USER_ACCESS = "PowerUserAccess"


class CiAccessError(ValueError):
    """An argument of ``CiAccess`` is invalid; the message says which and why.

    Raised at construction, before anything is declared."""

    def __init__(self, field: str, value: object, allowed: str) -> None:
        self.field = field
        self.value = value
        self.allowed = allowed
        super().__init__(f"invalid {field} {value!r}: {allowed}")

    def __reduce__(self) -> tuple[type[CiAccessError], tuple[Any, ...]]:
        return (type(self), (self.field, self.value, self.allowed))


@dataclass(frozen=True)
class CiAccessArgs:
    """Who may act on one platform environment's AWS account from GitHub Actions.

    Defaults are the safe choice: one-hour sessions, the previewer read-only."""

    # The platform environment (dev, staging, prod): names the roles.
    environment: str
    account_id: str
    region: str
    # ``owner/repo`` of this repository on GitHub: the only one whose tokens are trusted.
    repository: str
    # The GitHub environment whose deployment jobs may assume the deployer role
    # (``production`` for prod; its required reviewers and deployment branch policy,
    # both set in GitHub, are what stand between a merge and a production change).
    deploy_environment: str
    # Declare the account's GitHub OIDC provider (one per account and URL). False when
    # another stack in the same account already declares it.
    create_oidc_provider: bool = True
    # Buckets whose objects the previewer must not read although ReadOnlyAccess could
    # (metrics, logs: pull-request code runs with the previewer's credentials).
    data_bucket_arns: tuple[str, ...] = ()
    # The change ledger's DynamoDB table and the gate's evidence bucket (ChangeStorage):
    # a pull request's gate records its change and archives its evidence, so the
    # previewer may write exactly there (the deployer's PowerUserAccess covers both).
    ledger_table_name: str | None = None
    evidence_bucket_name: str | None = None
    # A customer managed key of both (None: AWS managed keys, nothing to grant).
    change_storage_kms_key_arn: str | None = None
    deployer_managed_policies: tuple[str, ...] = (POWER_USER_ACCESS,)
    max_session_seconds: int = 3600
    owner: str = "platform-sre"
    team: str = "Platform SRE"

    @property
    def partition(self) -> str:
        if self.region.startswith("cn-"):
            return "aws-cn"
        if self.region.startswith("us-gov-"):
            return "aws-us-gov"
        return "aws"

    @property
    def ledger_table_arn(self) -> str | None:
        if self.ledger_table_name is None:
            return None
        return (
            f"arn:{self.partition}:dynamodb:{self.region}:{self.account_id}:"
            f"table/{self.ledger_table_name}"
        )

    @property
    def evidence_bucket_arn(self) -> str | None:
        if self.evidence_bucket_name is None:
            return None
        return f"arn:{self.partition}:s3:::{self.evidence_bucket_name}"

    def managed_policy_arn(self, name: str) -> str:
        """An AWS managed policy by name, in this account's partition."""
        return f"arn:{self.partition}:iam::aws:policy/{name}"


def _check(field: str, value: str, pattern: re.Pattern[str], allowed: str) -> None:
    if not isinstance(value, str) or pattern.fullmatch(value) is None:
        raise CiAccessError(field, value, allowed)


def validate(args: CiAccessArgs) -> None:
    """Every argument, before anything is declared."""
    _check("environment", args.environment, _DNS_LABEL, "a DNS label such as prod")
    _check("account_id", args.account_id, _ACCOUNT, "12 digits")
    _check("region", args.region, _REGION, "an AWS region such as us-east-1")
    _check(
        "repository",
        args.repository,
        REPOSITORY,
        "owner/repo as GitHub spells it (letters, digits, '.', '_', '-'; no wildcards)",
    )
    _check(
        "deploy_environment",
        args.deploy_environment,
        ENVIRONMENT_NAME,
        "a GitHub environment name (letters, digits, '.', '_', '-'; no wildcards)",
    )
    for arn in args.data_bucket_arns:
        _check("data_bucket_arns", arn, _BUCKET_ARN, "an S3 bucket ARN (arn:aws:s3:::<bucket>)")
    if args.evidence_bucket_name is not None:
        _check("evidence_bucket_name", args.evidence_bucket_name, _BUCKET, "an S3 bucket name")
    if args.ledger_table_name is not None:
        _check(
            "ledger_table_name",
            args.ledger_table_name,
            _TABLE,
            "a DynamoDB table name (3-255 letters, digits, '_', '-', '.')",
        )
    if args.change_storage_kms_key_arn is not None:
        _check(
            "change_storage_kms_key_arn",
            args.change_storage_kms_key_arn,
            _KMS_KEY_ARN,
            "a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>)",
        )
    if not args.deployer_managed_policies:
        raise CiAccessError("deployer_managed_policies", (), "at least one managed policy name")
    for name in args.deployer_managed_policies:
        arn = args.managed_policy_arn(name)
        _check("deployer_managed_policies", arn, _MANAGED_POLICY_ARN, "an AWS managed policy name")
        if ADMINISTRATOR_ACCESS.match(arn):
            raise CiAccessError(
                "deployer_managed_policies", name, "never AdministratorAccess (iam-no-inline-admin)"
            )
    if not 900 <= args.max_session_seconds <= 43200:
        raise CiAccessError("max_session_seconds", args.max_session_seconds, "900 to 43200")
