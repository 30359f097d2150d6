"""Typed arguments of ``PulumiOperator`` and their validation (no Pulumi SDK here)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from components.pulumi_operator.names import (
    STACK_API_VERSION,
    STACK_KIND,
    STACKS_NAMESPACE,
    WORKSPACE_SERVICE_ACCOUNT,
)

_DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}$")
_QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(m|Mi|Gi)?$")


class PulumiOperatorError(ValueError):
    """The component's arguments are invalid; nothing was declared."""


@dataclass(frozen=True)
class ContainerResources:
    """Requests and limits of one container (Kubernetes quantities)."""

    requests_cpu: str
    requests_memory: str
    limits_cpu: str
    limits_memory: str

    def as_dict(self) -> dict[str, dict[str, str]]:
        return {
            "requests": {"cpu": self.requests_cpu, "memory": self.requests_memory},
            "limits": {"cpu": self.limits_cpu, "memory": self.limits_memory},
        }


# The chart's own defaults (values.yaml of 2.9.0), as an explicit, reviewed choice.
OPERATOR_RESOURCES = ContainerResources("200m", "128Mi", "500m", "256Mi")


@dataclass(frozen=True)
class PulumiOperatorArgs:
    """What to install and which Stack resources to declare.

    ``stacks``: Stack documents (``apiVersion``, ``kind``, ``metadata``, ``spec``) by
    their ``metadata.name``; each must live in ``STACKS_NAMESPACE`` and run as
    ``WORKSPACE_SERVICE_ACCOUNT``, the only identity this component grants anything.
    ``workspace_role_arn``: the IAM role (IRSA) the workspace pods deploy with.
    """

    environment: str
    stacks: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    workspace_role_arn: str | None = None
    resources: ContainerResources = OPERATOR_RESOURCES
    monitoring_namespace: str = "prometheus"


def validate(name: str, args: PulumiOperatorArgs) -> None:
    """Every problem of ``args`` in one ``PulumiOperatorError``."""
    problems = []
    if not _DNS_LABEL.match(args.environment):
        problems.append(f"environment {args.environment!r} is not a DNS label")
    if args.workspace_role_arn is not None and not _ROLE_ARN.match(args.workspace_role_arn):
        problems.append(f"workspace_role_arn {args.workspace_role_arn!r} is not an IAM role ARN")
    for quantity in vars(args.resources).values():
        if not _QUANTITY.match(quantity):
            problems.append(f"resources: {quantity!r} is not a Kubernetes quantity")
    for key, document in args.stacks.items():
        problems.extend(f"stacks[{key!r}]: {p}" for p in stack_document_problems(key, document))
    if problems:
        raise PulumiOperatorError(f"{name}: " + "; ".join(problems))


def stack_document_problems(key: str, document: Mapping[str, Any]) -> list[str]:
    """Why ``document`` is not a Stack this component may declare (empty: it may)."""
    problems = []
    if document.get("apiVersion") != STACK_API_VERSION or document.get("kind") != STACK_KIND:
        problems.append(f"must be a {STACK_API_VERSION} {STACK_KIND}")
    metadata = document.get("metadata") or {}
    if metadata.get("name") != key or not _DNS_LABEL.match(key):
        problems.append("metadata.name must be its key and a DNS label")
    if metadata.get("namespace") != STACKS_NAMESPACE:
        problems.append(f"metadata.namespace must be {STACKS_NAMESPACE}")
    spec = document.get("spec") or {}
    if spec.get("serviceAccountName") != WORKSPACE_SERVICE_ACCOUNT:
        problems.append(f"spec.serviceAccountName must be {WORKSPACE_SERVICE_ACCOUNT}")
    if spec.get("destroyOnFinalize") is not True:
        problems.append("spec.destroyOnFinalize must be true (removing it destroys the stack)")
    return problems
