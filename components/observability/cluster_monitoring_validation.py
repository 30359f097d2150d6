"""Validate ``ClusterMonitoringArgs`` before anything is declared.

Inputs that are ``pulumi.Output`` values (the bucket and Loki URL from
``CentralObservability``) are checked only when they are plain strings: an output is not
known until the engine resolves it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

from components.observability.cluster_monitoring_args import (
    ClusterMonitoringArgs,
    ClusterMonitoringError,
    ComputeResources,
)
from components.observability.cluster_monitoring_handover import CHARTS
from components.observability.cluster_prometheus import CHART as PROMETHEUS_CHART
from policies.naming import dns_label_problem, is_host_name

LOKI_PUSH_PATH = "/loki/api/v1/push"
# Blocks are cut every 2 hours; keeping less than that locally would lose data before
# the Thanos sidecar could upload it.
MIN_RETENTION_SECONDS = 2 * 3600

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_BUCKET_ARN = re.compile(r"^arn:aws[a-z-]*:s3:::(?P<bucket>[^/\s]+)$")
_OIDC_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:oidc-provider/(?P<issuer>\S+)$")
_EKS_ISSUER = re.compile(r"^oidc\.eks\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(\.cn)?/id/\w+$")
_REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$")
_STORAGE = re.compile(r"^[1-9][0-9]*(Gi|Ti)$")
# Prometheus' duration format, as the operator's CRD checks ``retention``.
_DURATION = re.compile(r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
_DURATION_SECONDS = (365 * 86400, 7 * 86400, 86400, 3600, 60, 1)
_CPU = re.compile(r"^(?P<number>[0-9]+(\.[0-9]+)?)(?P<unit>m?)$")
_MEMORY = re.compile(r"^(?P<number>[0-9]+)(?P<unit>Mi|Gi)$")
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
_LABEL_KEY = re.compile(
    r"^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
)
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$")
_TAG_VALUE = re.compile(r"^[\w .:/=+\-@]{1,256}$")
_TOLERATION_KEYS = frozenset({"key", "operator", "value", "effect"})
_TOLERATION_OPERATORS = ("Equal", "Exists")
_TAINT_EFFECTS = ("", "NoSchedule", "PreferNoSchedule", "NoExecute")


def validate(name: str, args: ClusterMonitoringArgs) -> None:
    """Raise ``ClusterMonitoringError`` for the first invalid input, else return."""
    for field, value in (
        ("name", name),
        ("environment", args.environment),
        ("cluster_id", args.cluster_id),
    ):
        if problem := dns_label_problem(value):
            raise ClusterMonitoringError(field, value, problem)
    _validate_bucket(args)
    _validate_oidc(args)
    bucket_region(args)
    if isinstance(args.loki_push_url, str):
        _validate_url("loki_push_url", args.loki_push_url, path_suffix=LOKI_PUSH_PATH)
    for index, url in enumerate(args.external_alertmanagers):
        _validate_url(f"external_alertmanagers[{index}]", url, path_suffix="")
    _validate_storage(args)
    _validate_scheduling(args)
    _validate_resources("prometheus_resources", args.prometheus_resources)
    _validate_resources("alloy_resources", args.alloy_resources)
    for field, namespaces in (
        ("query_namespaces", args.query_namespaces),
        ("critical_log_namespaces", args.critical_log_namespaces),
    ):
        for index, namespace in enumerate(namespaces):
            if problem := dns_label_problem(namespace):
                raise ClusterMonitoringError(f"{field}[{index}]", namespace, problem)
    _validate_alertmanager(args)
    _validate_argo_cd_charts(args)
    for field, value in (("owner", args.owner), ("team", args.team)):
        if not _TAG_VALUE.match(value) or not value.strip():
            raise ClusterMonitoringError(
                field, value, "must be an AWS tag value: 1-256 letters, digits, spaces, _.:/=+-@"
            )


def _validate_argo_cd_charts(args: ClusterMonitoringArgs) -> None:
    """Only the two charts; and the cnc cluster's Prometheus stays this component's: its
    Alertmanager serves the platform's routing tree and Thanos Query reads its sidecar,
    values the GitOps data does not carry."""
    for chart in sorted(args.argo_cd_charts):
        if chart not in CHARTS:
            raise ClusterMonitoringError(
                "argo_cd_charts", chart, f"must be among {', '.join(sorted(CHARTS))}"
            )
    if PROMETHEUS_CHART not in args.argo_cd_charts:
        return
    for field, value in (
        ("alertmanager", args.alertmanager),
        ("alertmanager_config_secret", args.alertmanager_config_secret),
        ("alertmanager_host", args.alertmanager_host),
        ("query_namespaces", args.query_namespaces),
    ):
        if value:
            raise ClusterMonitoringError(
                field,
                value,
                f"cluster {args.cluster_id!r}: Argo CD installs {PROMETHEUS_CHART} there "
                "(gitops/apps), so this component cannot configure it; "
                "keep the chart with ClusterMonitoring on that cluster",
            )


def bucket_region(args: ClusterMonitoringArgs) -> str:
    """The metrics bucket's region: ``bucket_region``, else the EKS issuer's region."""
    if args.bucket_region is not None:
        if not _REGION.match(args.bucket_region):
            raise ClusterMonitoringError(
                "bucket_region", args.bucket_region, "must be an AWS region such as us-east-1"
            )
        return args.bucket_region
    match = _EKS_ISSUER.match(args.oidc_issuer)
    if match is None:
        raise ClusterMonitoringError(
            "bucket_region",
            None,
            f"cannot be read from oidc_issuer {args.oidc_issuer!r} (not an EKS issuer "
            "oidc.eks.<region>.amazonaws.com/id/<id>): set bucket_region",
        )
    return match["region"]


def _validate_bucket(args: ClusterMonitoringArgs) -> None:
    bucket = args.metrics_bucket if isinstance(args.metrics_bucket, str) else None
    if bucket is not None and not _BUCKET.match(bucket):
        raise ClusterMonitoringError(
            "metrics_bucket", bucket, "must be an S3 bucket name (3-63 of a-z 0-9 . -)"
        )
    if not isinstance(args.metrics_bucket_arn, str):
        return
    match = _BUCKET_ARN.match(args.metrics_bucket_arn)
    if match is None:
        raise ClusterMonitoringError(
            "metrics_bucket_arn",
            args.metrics_bucket_arn,
            "must be the ARN of a bucket (arn:aws:s3:::<bucket>), not of objects in it",
        )
    if bucket is not None and match["bucket"] != bucket:
        raise ClusterMonitoringError(
            "metrics_bucket_arn",
            args.metrics_bucket_arn,
            f"must be the ARN of metrics_bucket {bucket!r}",
        )


def _validate_alertmanager(args: ClusterMonitoringArgs) -> None:
    _validate_alertmanager_ingress(args)
    secret = args.alertmanager_config_secret
    if secret is None:
        return
    if not args.alertmanager:
        raise ClusterMonitoringError(
            "alertmanager_config_secret", secret, "needs alertmanager=True (no Alertmanager runs)"
        )
    if not _SUBDOMAIN.match(secret):
        raise ClusterMonitoringError(
            "alertmanager_config_secret", secret, "must be a Secret name (a DNS subdomain)"
        )


def _validate_alertmanager_ingress(args: ClusterMonitoringArgs) -> None:
    host = args.alertmanager_host
    if host is None:
        return
    if not args.alertmanager:
        raise ClusterMonitoringError(
            "alertmanager_host", host, "needs alertmanager=True (no Alertmanager runs)"
        )
    if not is_host_name(host):
        raise ClusterMonitoringError(
            "alertmanager_host", host, "must be a DNS host name such as alertmanager.example.com"
        )
    if not _SUBDOMAIN.match(args.ingress_class):
        raise ClusterMonitoringError(
            "ingress_class", args.ingress_class, "must be an IngressClass name such as nginx"
        )
    if problem := dns_label_problem(args.ingress_namespace):
        raise ClusterMonitoringError("ingress_namespace", args.ingress_namespace, problem)


def _validate_oidc(args: ClusterMonitoringArgs) -> None:
    if not args.oidc_issuer or "://" in args.oidc_issuer:
        raise ClusterMonitoringError(
            "oidc_issuer", args.oidc_issuer, "must be the issuer's host/path without https://"
        )
    match = _OIDC_ARN.match(args.oidc_provider_arn)
    if match is None:
        raise ClusterMonitoringError(
            "oidc_provider_arn",
            args.oidc_provider_arn,
            "must be an IAM OIDC provider ARN (arn:aws:iam::<account>:oidc-provider/<issuer>)",
        )
    if match["issuer"] != args.oidc_issuer:
        raise ClusterMonitoringError(
            "oidc_provider_arn",
            args.oidc_provider_arn,
            f"must be the provider of oidc_issuer {args.oidc_issuer!r} (the same cluster)",
        )


def _validate_url(field: str, url: str, *, path_suffix: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ClusterMonitoringError(field, url, "must be an http:// or https:// URL with a host")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ClusterMonitoringError(
            field, url, "must not carry credentials, a query or a fragment (no static keys)"
        )
    if path_suffix and not parts.path.endswith(path_suffix):
        raise ClusterMonitoringError(field, url, f"must end with {path_suffix}")


def retention_seconds(retention: str) -> int | None:
    """``retention`` in seconds, or None when it is not a Prometheus duration."""
    match = _DURATION.match(retention)
    if not retention or match is None:
        return None
    return sum(
        int(n or 0) * unit for n, unit in zip(match.groups(), _DURATION_SECONDS, strict=True)
    )


def _validate_storage(args: ClusterMonitoringArgs) -> None:
    if not _STORAGE.match(args.prometheus_storage):
        raise ClusterMonitoringError(
            "prometheus_storage", args.prometheus_storage, "must be a size such as 50Gi or 1Ti"
        )
    seconds = retention_seconds(args.retention)
    if seconds is None or seconds < MIN_RETENTION_SECONDS:
        raise ClusterMonitoringError(
            "retention",
            args.retention,
            "must be a Prometheus duration of at least 2h such as 7d (units y w d h m s)",
        )
    if args.storage_class is not None and not _SUBDOMAIN.match(args.storage_class):
        raise ClusterMonitoringError(
            "storage_class", args.storage_class, "must be a StorageClass name such as gp3"
        )


def _validate_scheduling(args: ClusterMonitoringArgs) -> None:
    for key, value in args.node_selector.items():
        if not _LABEL_KEY.match(key) or not _LABEL_VALUE.match(value):
            raise ClusterMonitoringError(
                "node_selector", {key: value}, "must map label keys to label values"
            )
    for index, toleration in enumerate(args.tolerations):
        _validate_toleration(f"tolerations[{index}]", toleration)


def _validate_toleration(field: str, toleration: Mapping[str, str]) -> None:
    unknown = sorted(set(toleration) - _TOLERATION_KEYS)
    if unknown:
        raise ClusterMonitoringError(
            field, dict(toleration), f"has unknown keys {unknown}: use key, operator, value, effect"
        )
    operator = toleration.get("operator", "Equal")
    if operator not in _TOLERATION_OPERATORS:
        raise ClusterMonitoringError(field, dict(toleration), "operator must be Equal or Exists")
    if operator == "Exists" and toleration.get("value"):
        raise ClusterMonitoringError(field, dict(toleration), "operator Exists takes no value")
    if toleration.get("effect", "") not in _TAINT_EFFECTS:
        raise ClusterMonitoringError(
            field, dict(toleration), "effect must be NoSchedule, PreferNoSchedule or NoExecute"
        )


def _millicores(text: str) -> float | None:
    match = _CPU.match(text)
    if match is None:
        return None
    number = float(match["number"])
    return number if match["unit"] == "m" else number * 1000


def _mebibytes(text: str) -> int | None:
    match = _MEMORY.match(text)
    if match is None:
        return None
    return int(match["number"]) * (1024 if match["unit"] == "Gi" else 1)


def _validate_resources(field: str, resources: ComputeResources) -> None:
    _validate_pair(
        f"{field}.cpu", resources.cpu_request, resources.cpu_limit, _millicores, "500m or 2"
    )
    _validate_pair(
        f"{field}.memory",
        resources.memory_request,
        resources.memory_limit,
        _mebibytes,
        "512Mi or 2Gi",
    )


def _validate_pair(
    field: str, request: str, limit: str, parse: Callable[[str], float | None], example: str
) -> None:
    """A request and a limit are positive quantities, and the request is not above the limit."""
    amounts: list[float] = []
    for which, value in (("request", request), ("limit", limit)):
        amount = parse(value)
        if amount is None or amount <= 0:
            raise ClusterMonitoringError(
                f"{field}_{which}", value, f"must be a positive quantity such as {example}"
            )
        amounts.append(amount)
    if amounts[0] > amounts[1]:
        raise ClusterMonitoringError(
            f"{field}_request", request, f"must not exceed the limit {limit}"
        )
