"""Validate ``TestEnvironmentArgs`` before anything is declared.

The rule functions of ``policies`` are the same ones the policy pack and the request
validator use, so a request that passes here passes there.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from components.test_environment.args import (
    DATABASE_TYPES,
    FILESTORE_TYPES,
    SIZE_NAMES,
    EnvVar,
    TestEnvironmentArgs,
)
from components.test_environment.errors import PolicyRefusal, TestEnvironmentError
from components.test_environment.metadata import (
    LABEL_SIZE,
    RESERVED_LABEL_PREFIXES,
    aws_tags,
    label_value,
)
from policies.cost import MATTERMOST_TYPE
from policies.evaluate import evaluate
from policies.model import Resource
from policies.naming import dns_label_problem, label_key_problem
from policies.rules.registry import ALL_RULES
from policies.secrets import plaintext_secret_problem

NAME_MAX_LENGTH = 40
ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
# Variables the component sets itself; a request may not override them.
RESERVED_ENV_NAMES: frozenset[str] = frozenset({"MM_FILESETTINGS_AMAZONS3PATHPREFIX"})

_TAG_VALUE = re.compile(r"^[\w .:/=+\-@]{1,256}$")
# A repository, optionally with a registry host[:port]; the tag comes from ``version``.
_IMAGE = re.compile(r"^([a-z0-9.-]+(:[0-9]+)?/)?[a-z0-9]+([._/-][a-z0-9]+)*$")
_VERSION = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_SECRET_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
_SECRET_KEY = re.compile(r"^[-._a-zA-Z0-9]{1,253}$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$")
_OIDC_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:oidc-provider/\S+$")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_HOSTNAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_INSTANCE_CLASS = re.compile(r"^db\.[a-z0-9]+\.[a-z0-9]+$")
# ``<namespace>/<name>`` of a Secret: a DNS label, then a DNS subdomain.
TLS_SECRET_REF = re.compile(
    r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?/[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$"
)


def validate(name: str, args: TestEnvironmentArgs, *, now: datetime | None = None) -> None:
    """Raise ``TestEnvironmentError`` for the first invalid input, else return."""
    _validate_identity(name, args)
    _validate_choices(args)
    _validate_people(args)
    _validate_app(args)
    for index, var in enumerate(args.env):
        _validate_env_var(index, var)
    _validate_unique_env_names(args.env)
    _validate_labels(args)
    _validate_platform(args)
    _validate_policy(name, args, now or datetime.now(UTC))


# The pack's rules that the args alone decide, and the input each one is about.
_POLICY_INPUTS = {
    "aws-required-tags": "expires_at",
    "rds-instance-class": "db_instance_class",
    "test-env-size-cap": "size",
    "k8s-image-pinned": "version",
}


def _planned(name: str, args: TestEnvironmentArgs) -> list[Resource]:
    """What the component will declare, as far as the rules above look at it; built from
    the same functions the component uses, so the two cannot drift apart."""
    tags = aws_tags(name, args)
    planned = [
        Resource(
            type=MATTERMOST_TYPE,
            name=f"{name}-mattermost",
            urn="",
            inputs={
                "metadata": {"labels": {LABEL_SIZE: args.size}},
                "spec": {"image": args.image, "version": args.version},
            },
        )
    ]
    if args.database == "aws-rds-postgres":
        planned.append(
            Resource(
                type="aws:rds/instance:Instance",
                name=f"{name}-db",
                urn="",
                inputs={"instanceClass": args.db_instance_class, "tags": tags},
            )
        )
    if args.filestore == "aws-s3":
        planned.append(
            Resource(
                type="aws:s3/bucket:Bucket", name=f"{name}-files", urn="", inputs={"tags": tags}
            )
        )
    return planned


def _validate_policy(name: str, args: TestEnvironmentArgs, now: datetime) -> None:
    rules = [rule for rule in ALL_RULES if rule.id in _POLICY_INPUTS]
    report = evaluate(_planned(name, args), "test", args.policy, now=now, rules=rules)
    for finding in report.blocking:
        field = _POLICY_INPUTS[finding.rule.id]
        raise PolicyRefusal(
            field,
            str(getattr(args, field)),
            finding.rule.id,
            finding.message,
            finding.rule.remediation,
        )


def _validate_identity(name: str, args: TestEnvironmentArgs) -> None:
    problem = dns_label_problem(name, max_length=NAME_MAX_LENGTH)
    if problem:
        raise TestEnvironmentError("name", name, problem)
    if args.name != name:
        raise TestEnvironmentError(
            "args.name", args.name, f"must equal the component name {name!r}"
        )


def _validate_choices(args: TestEnvironmentArgs) -> None:
    for field, value, allowed in (
        ("size", args.size, SIZE_NAMES),
        ("database", args.database, DATABASE_TYPES),
        ("filestore", args.filestore, FILESTORE_TYPES),
    ):
        if value not in allowed:
            raise TestEnvironmentError(field, value, f"must be one of {', '.join(allowed)}")


def _validate_people(args: TestEnvironmentArgs) -> None:
    if args.expires_at.tzinfo is None or args.expires_at.utcoffset() is None:
        raise TestEnvironmentError(
            "expires_at",
            args.expires_at.isoformat(),
            "must be timezone-aware (e.g. 2026-11-30T12:00:00+00:00)",
        )
    for field, value in (("owner", args.owner), ("team", args.team)):
        if not _TAG_VALUE.match(value) or not value.strip():
            raise TestEnvironmentError(
                field,
                value,
                "must be 1-256 letters, digits, spaces or _ . : / = + - @ (an AWS tag value)",
            )
    if not label_value(args.team):
        raise TestEnvironmentError("team", args.team, "must contain a letter or digit")


def _validate_app(args: TestEnvironmentArgs) -> None:
    if not _IMAGE.match(args.image):
        raise TestEnvironmentError(
            "image", args.image, "must be an image repository without tag, e.g. mattermost/x"
        )
    if not _VERSION.match(args.version):
        raise TestEnvironmentError(
            "version", args.version, "must be an image tag: letters, digits, '_', '.', '-'"
        )


def _validate_env_var(index: int, var: EnvVar) -> None:
    where = f"env[{index}]"
    if not ENV_NAME.match(var.name):
        raise TestEnvironmentError(f"{where}.name", var.name, f"must match {ENV_NAME.pattern}")
    if var.name in RESERVED_ENV_NAMES:
        raise TestEnvironmentError(
            f"{where}.name", var.name, "is set by the platform and cannot be overridden"
        )
    if (var.value is None) == (var.secret_ref is None):
        raise TestEnvironmentError(
            f"{where} ({var.name})",
            "value and secret_ref" if var.value is not None else "neither",
            "must set exactly one of value or secret_ref",
        )
    if var.value is not None:
        problem = plaintext_secret_problem(var.name, var.value)
        if problem:
            # Never echo the value: it may be a real credential.
            raise TestEnvironmentError(f"{where}.value ({var.name})", "[redacted]", problem)
    if var.secret_ref is not None:
        ref = var.secret_ref
        if len(ref.secret) > 253 or not _SECRET_NAME.match(ref.secret):
            raise TestEnvironmentError(
                f"{where}.secret_ref.secret", ref.secret, "must be a Kubernetes Secret name"
            )
        if not _SECRET_KEY.match(ref.key):
            raise TestEnvironmentError(
                f"{where}.secret_ref.key", ref.key, "must be a Secret key: letters, digits, -._"
            )


def _validate_unique_env_names(env: tuple[EnvVar, ...]) -> None:
    seen: set[str] = set()
    for index, var in enumerate(env):
        if var.name in seen:
            raise TestEnvironmentError(f"env[{index}].name", var.name, "must be unique")
        seen.add(var.name)


def _validate_labels(args: TestEnvironmentArgs) -> None:
    for key, value in args.labels.items():
        # The same rule request validation applies: Kubernetes' own prefixes (with their
        # subdomains, e.g. pod-security.kubernetes.io/) and the platform's are refused.
        problem = label_key_problem(key, owned_prefixes=RESERVED_LABEL_PREFIXES)
        if problem:
            raise TestEnvironmentError("labels key", key, problem)
        if not _LABEL_VALUE.match(value):
            raise TestEnvironmentError(
                f"labels[{key!r}]", value, "must be a Kubernetes label value (<= 63 characters)"
            )


def _validate_platform(args: TestEnvironmentArgs) -> None:
    platform = args.platform
    host = f"{args.name}.{platform.test_domain}"
    if not _HOSTNAME.match(host):
        raise TestEnvironmentError(
            "platform.test_domain", platform.test_domain, "must be a DNS domain name"
        )
    if not platform.ingress_class:
        raise TestEnvironmentError("platform.ingress_class", "", "must not be empty")
    if not TLS_SECRET_REF.match(platform.tls_secret):
        raise TestEnvironmentError(
            "platform.tls_secret",
            platform.tls_secret,
            "must be <namespace>/<name> of the cluster's wildcard TLS Secret",
        )
    if args.database == "aws-rds-postgres":
        if not _INSTANCE_CLASS.match(args.db_instance_class):
            raise TestEnvironmentError(
                "db_instance_class", args.db_instance_class, "must look like db.t4g.medium"
            )
        if not platform.db_subnet_group:
            raise TestEnvironmentError("platform.db_subnet_group", "", "must not be empty")
        if not platform.db_security_group_ids:
            raise TestEnvironmentError(
                "platform.db_security_group_ids", (), "must name at least one security group"
            )
    if args.database == "aws-multitenant-rds-postgres" and not platform.shared_db_endpoint:
        raise TestEnvironmentError("platform.shared_db_endpoint", "", "must not be empty")
    if args.filestore in ("aws-s3", "aws-multitenant-s3") and not _OIDC_ARN.match(
        platform.oidc_provider_arn
    ):
        raise TestEnvironmentError(
            "platform.oidc_provider_arn",
            platform.oidc_provider_arn,
            "must be an IAM OIDC provider ARN (arn:aws:iam::<account>:oidc-provider/<issuer>)",
        )
    if args.filestore == "aws-multitenant-s3" and not _BUCKET.match(platform.shared_bucket):
        raise TestEnvironmentError(
            "platform.shared_bucket", platform.shared_bucket, "must be an S3 bucket name"
        )
