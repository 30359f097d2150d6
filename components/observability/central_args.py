"""Typed inputs of ``CentralObservability`` and their validation.

The stack program turns its validated config into these; the component never reads
``pulumi.Config``. Secrets (the Grafana admin password, the alert routing settings that
hold the webhook URLs) arrive as ``pulumi.Output`` secrets and stay secret.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import pulumi

from components.observability.alertmanager_config import AlertRoutingSettings
from policies.naming import is_host_name

UTILITIES_NODE_SELECTOR: Mapping[str, str] = MappingProxyType({"node-group": "utilities"})


@dataclass(frozen=True)
class Toleration:
    """A pod toleration (``key=value:effect``, operator ``Equal``)."""

    key: str
    value: str
    effect: str

    def as_value(self) -> dict[str, str]:
        return {"key": self.key, "operator": "Equal", "value": self.value, "effect": self.effect}


UTILITIES_TOLERATION = Toleration(key="dedicated", value="utilities", effect="NoSchedule")

# Loki keeps streams matching these selectors for the critical period, the rest for the
# default one. Log shippers (ClusterMonitoring's Alloy) set the label.
CRITICAL_STREAM_SELECTORS: tuple[str, ...] = ('{retention="critical"}',)


class CentralObservabilityError(ValueError):
    """An argument of ``CentralObservability`` is invalid: which, its value, what is allowed.

    Raised before any resource is declared. Never carries a secret value.
    """

    def __init__(self, field_name: str, value: object, allowed: str) -> None:
        self.field = field_name
        super().__init__(f"invalid {field_name} {value!r}: {allowed}")


@dataclass(frozen=True)
class CentralObservabilityArgs:
    """Everything the cnc cluster's observability stack needs. Defaults are cheap and safe."""

    environment: str
    account_id: str
    region: str
    alert_routing: pulumi.Input[AlertRoutingSettings]
    grafana_admin_password: pulumi.Output[str]
    dashboards_dir: Path
    db_subnet_group: str
    db_security_group_ids: Sequence[str]
    oidc_provider_arn: str
    oidc_issuer: str
    backup_retention_days: int = 7
    # Production: protect=True on what holds data (buckets, database, namespace).
    protect: bool = False
    owner: str = "sre"
    team: str = "sre"
    namespace: str = "observability"
    # Where the cnc cluster's operator-run Alertmanager lives (ClusterMonitoring's
    # kube-prometheus-stack reads its configuration from the Secret declared here).
    alertmanager_namespace: str = "prometheus"
    # What creates that namespace (the cnc cluster's ClusterMonitoring): the Secret waits
    # for it. The stack can build it first: the bucket's name and ARN are known in advance
    # (``metrics_bucket_name``).
    alertmanager_depends_on: tuple[pulumi.Resource, ...] = ()
    # Hostnames served through the ingress controller; None keeps the service in-cluster.
    grafana_host: str | None = None
    loki_host: str | None = None
    ingress_class: str = "nginx"
    ingress_namespace: str = "ingress-nginx"
    # Thanos sidecar gRPC endpoints of the clusters (host:port) for recent data.
    thanos_store_endpoints: tuple[str, ...] = ()
    critical_stream_selectors: tuple[str, ...] = CRITICAL_STREAM_SELECTORS
    db_min_acu: float = 0.5
    db_max_acu: float = 2.0
    db_deletion_protection: bool = True
    node_selector: Mapping[str, str] = field(default_factory=lambda: dict(UTILITIES_NODE_SELECTOR))
    tolerations: tuple[Toleration, ...] = (UTILITIES_TOLERATION,)


_DNS_LABEL = re.compile(r"[a-z]([a-z0-9-]{0,38}[a-z0-9])?")
_ACCOUNT = re.compile(r"[0-9]{12}")
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]")
_OIDC_ARN = re.compile(r"arn:aws[a-z-]*:iam::[0-9]{12}:oidc-provider/(?P<issuer>.+)")
_SECURITY_GROUP = re.compile(r"sg-[0-9a-f]{8,17}")
_ENDPOINT = re.compile(r"[A-Za-z0-9.-]+:[0-9]{1,5}")
_SELECTOR = re.compile(r"\{\s*[a-zA-Z_][a-zA-Z0-9_]*\s*(=|!=|=~|!~)\s*\".*\"\s*(,.*)?\}")
# Aurora Serverless v2 capacity: 0 (auto-pause) or 0.5 ACU steps up to 256.
_MAX_ACU = 256.0
_MAX_BACKUP_DAYS = 35
PRODUCTION_MIN_BACKUP_DAYS = 7


def _check(ok: bool, field_name: str, value: object, allowed: str) -> None:
    if not ok:
        raise CentralObservabilityError(field_name, value, allowed)


def validate(name: str, args: CentralObservabilityArgs) -> None:
    """Refuse bad input with one error naming the input, its value and what is allowed."""
    _check(
        bool(_DNS_LABEL.fullmatch(name)) and "--" not in name,
        "name",
        name,
        "a lower-case DNS label of at most 40 characters without '--' (it names the "
        "database cluster and Kubernetes objects)",
    )
    _check(
        bool(_DNS_LABEL.fullmatch(args.environment)),
        "environment",
        args.environment,
        "a lower-case DNS label such as dev, staging or prod (it names the buckets)",
    )
    _check(bool(_ACCOUNT.fullmatch(args.account_id)), "account_id", args.account_id, "12 digits")
    _check(bool(_REGION.fullmatch(args.region)), "region", args.region, "an AWS region")
    match = _OIDC_ARN.fullmatch(args.oidc_provider_arn)
    _check(
        match is not None,
        "oidc_provider_arn",
        args.oidc_provider_arn,
        "arn:aws:iam::<account>:oidc-provider/<issuer>",
    )
    assert match is not None
    _check(
        match["issuer"] == args.oidc_issuer,
        "oidc_issuer",
        args.oidc_issuer,
        f"the issuer of oidc_provider_arn ({match['issuer']}), without https://",
    )
    _check(
        bool(args.db_subnet_group.strip()),
        "db_subnet_group",
        args.db_subnet_group,
        "a DB subnet group name",
    )
    groups = list(args.db_security_group_ids)
    _check(
        bool(groups) and all(_SECURITY_GROUP.fullmatch(g) for g in groups),
        "db_security_group_ids",
        groups,
        "one or more security group ids (sg-...)",
    )
    _validate_retention_and_capacity(args)
    _validate_kubernetes(args)


def _validate_retention_and_capacity(args: CentralObservabilityArgs) -> None:
    minimum = PRODUCTION_MIN_BACKUP_DAYS if args.protect else 1
    _check(
        minimum <= args.backup_retention_days <= _MAX_BACKUP_DAYS,
        "backup_retention_days",
        args.backup_retention_days,
        f"{minimum} to {_MAX_BACKUP_DAYS} days"
        + (" (a protected, production database keeps at least 7)" if args.protect else ""),
    )
    _check(
        args.protect is False or args.db_deletion_protection,
        "db_deletion_protection",
        args.db_deletion_protection,
        "True when protect is set (production)",
    )
    steps_ok = all((2 * v).is_integer() for v in (args.db_min_acu, args.db_max_acu))
    _check(
        steps_ok and 0.5 <= args.db_min_acu <= args.db_max_acu <= _MAX_ACU,
        "db_min_acu/db_max_acu",
        (args.db_min_acu, args.db_max_acu),
        f"multiples of 0.5 ACU with 0.5 <= min <= max <= {_MAX_ACU:g}",
    )


def _validate_kubernetes(args: CentralObservabilityArgs) -> None:
    for field_name in ("namespace", "alertmanager_namespace", "ingress_namespace"):
        value = getattr(args, field_name)
        _check(bool(_DNS_LABEL.fullmatch(value)), field_name, value, "a Kubernetes namespace name")
    for field_name in ("grafana_host", "loki_host"):
        value = getattr(args, field_name)
        _check(
            value is None or is_host_name(value),
            field_name,
            value,
            "None or a DNS host name such as grafana.example.com",
        )
    for endpoint in args.thanos_store_endpoints:
        _check(
            bool(_ENDPOINT.fullmatch(endpoint)),
            "thanos_store_endpoints",
            endpoint,
            "host:port of a Thanos store API (a sidecar's gRPC port, usually 10901)",
        )
    _check(
        bool(args.critical_stream_selectors)
        and all(_SELECTOR.fullmatch(s) for s in args.critical_stream_selectors),
        "critical_stream_selectors",
        args.critical_stream_selectors,
        'one or more LogQL stream selectors such as {retention="critical"}',
    )
    for label in ("owner", "team"):
        value = getattr(args, label)
        _check(bool(value.strip()), label, value, "a non-empty tag value")
