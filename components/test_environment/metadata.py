"""Labels, annotations, tags and physical names derived from the environment's args.

Pure functions: they are shared by the component, its validators and its tests.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from components.test_environment.args import TestEnvironmentArgs

MANAGED_BY = "sre-platform"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
LABEL_ENVIRONMENT = "sre-platform/environment"
LABEL_TEAM = "sre-platform/team"
LABEL_SIZE = "sre-platform/size"
ANNOTATION_OWNER = "sre-platform/owner"
ANNOTATION_EXPIRES_AT = "sre-platform/expires-at"
# Pod Security admission: baseline forbids privileged/host-namespace pods, which neither
# Mattermost nor the operator-managed database and MinIO need.
LABEL_POD_SECURITY = "pod-security.kubernetes.io/enforce"
POD_SECURITY_LEVEL = "baseline"

# Label keys a request may not set because the platform sets them. Kubernetes' own
# prefixes (kubernetes.io, k8s.io and their subdomains) are refused by
# policies.naming.label_key_problem for every key.
RESERVED_LABEL_PREFIXES: tuple[str, ...] = ("sre-platform/", "app.kubernetes.io/managed-by")

_LABEL_VALUE_MAX = 63
_LABEL_INVALID = re.compile(r"[^A-Za-z0-9_.-]+")
_LABEL_EDGE = re.compile(r"^[^A-Za-z0-9]+|[^A-Za-z0-9]+$")


def utc_timestamp(moment: datetime) -> str:
    """ISO-8601 in UTC with a ``Z`` suffix, e.g. ``2026-11-30T12:00:00Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def label_value(text: str) -> str:
    """``text`` made into a valid Kubernetes label value (may be empty if nothing is left)."""
    cleaned = _LABEL_EDGE.sub("", _LABEL_INVALID.sub("-", text.strip()))
    return _LABEL_EDGE.sub("", cleaned[:_LABEL_VALUE_MAX])


def managed_labels(team: str) -> dict[str, str]:
    """Labels on every Kubernetes object of an environment: who manages it, whose it is."""
    return {
        LABEL_MANAGED_BY: MANAGED_BY,
        LABEL_ENVIRONMENT: "test",
        LABEL_TEAM: label_value(team),
    }


def namespace_labels(args: TestEnvironmentArgs) -> dict[str, str]:
    """The request's labels, then ours (ours win; validation rejects reserved keys)."""
    return {
        **dict(args.labels),
        **managed_labels(args.team),
        LABEL_POD_SECURITY: POD_SECURITY_LEVEL,
    }


def namespace_annotations(args: TestEnvironmentArgs) -> dict[str, str]:
    """Who to ask about the environment and when the reaper may delete it."""
    return {
        ANNOTATION_OWNER: args.owner,
        ANNOTATION_EXPIRES_AT: utc_timestamp(args.expires_at),
    }


def aws_tags(name: str, args: TestEnvironmentArgs) -> dict[str, str]:
    """Tags of every taggable AWS resource: cost per team and expiry-driven clean-up."""
    return {
        "owner": args.owner,
        "team": args.team,
        "environment": "test",
        "expires-at": utc_timestamp(args.expires_at),
        "managed-by": MANAGED_BY,
        "test-environment": name,
    }


def rds_identifier(name: str) -> str:
    """An RDS instance identifier for ``name``.

    RDS identifiers must start with a letter and may not contain ``--``; a DNS label may
    do both, so the identifier is ``mm-`` plus the name with runs of hyphens collapsed.
    """
    return "mm-" + re.sub(r"-{2,}", "-", name)


def postgres_identifier(name: str) -> str:
    """Role and database name on the shared cluster: ``mm_`` plus the name, ``-`` → ``_``."""
    return "mm_" + name.replace("-", "_")
