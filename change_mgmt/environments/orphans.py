"""AWS resources the platform tagged for a test environment that no longer exists.

A test environment's AWS resources carry ``managed-by=sre-platform`` and the name of their
environment (``components.test_environment.metadata.aws_tags``). Asked through the
Resource Groups Tagging API in every configured region, each tagged resource is judged
against its request in ``stacks/environments/``: no request (deleted, or a name no
request can have) or an expired one makes it an orphan, priced from the same table as
``sre env render`` (``policies/cost.py``). Resources without the environment tag belong
to the platform stacks and are never orphans; a request that cannot be read makes its
resources *undetermined*, not orphans (nothing is blamed on a file we cannot read).

boto3 is imported inside the functions that call AWS: the rest is plain data.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from change_mgmt.documents import DocumentError
from change_mgmt.environments.catalog import (
    REQUEST_SUFFIX,
    REQUESTS_DIR,
    EnvironmentState,
    load_request,
    state_of,
)
from change_mgmt.errors import SreError
from components.test_environment.metadata import MANAGED_BY
from policies.cost import PriceTable, default_price_table, estimate_monthly_cost

MANAGED_BY_TAG = "managed-by"
"""The tag key every component sets to :data:`MANAGED_BY` (policies/tagging.py requires it)."""
ENVIRONMENT_TAG = "test-environment"
"""The tag key naming a resource's test environment (set by ``aws_tags``, absent on the
platform stacks' resources)."""
EXPIRES_TAG = "expires-at"
TEAM_TAG = "team"
OWNER_TAG = "owner"

REGION_PATTERN = re.compile(r"^[a-z]{2}(-[a-z]+)+-[0-9]$")
"""An AWS region name (the pattern stacks/platform_stack_config.py holds ``region`` to)."""
_REQUEST_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$")
"""What a request name can be (a DNS label of at most 40 characters, see request.py)."""
PLATFORM_STACK_FILES = ("Pulumi.dev.yaml", "Pulumi.staging.yaml", "Pulumi.prod.yaml")
_REGION_KEYS = ("sre-platform:region", "aws:region")

Verdict = tuple[str, str, "datetime | None"]
"""(reason, detail, expiry): reason is ``expired``, ``deleted`` or ``undetermined``."""
ClientFactory = Callable[[str, str], Any]
"""``(service, region) → boto3 client``; tests may pass their own."""


class OrphanScanError(SreError):
    """AWS could not be asked (no credentials, access denied, unreachable endpoint)."""


class InvalidRegion(OrphanScanError):
    """A region given or configured is not an AWS region name (bad input)."""


@dataclass(frozen=True)
class TaggedResource:
    """One resource the tagging API reported, with its tags as a mapping."""

    arn: str
    region: str
    tags: Mapping[str, str]

    @property
    def service(self) -> str:
        return _arn_parts(self.arn)[0]

    @property
    def kind(self) -> str:
        """``service:type`` as AWS names it in ARNs (``s3:bucket``, ``rds:db``)."""
        service, kind, _ = _arn_parts(self.arn)
        return f"{service}:{kind}" if kind else service

    @property
    def resource_id(self) -> str:
        return _arn_parts(self.arn)[2]

    @property
    def environment(self) -> str | None:
        return self.tags.get(ENVIRONMENT_TAG)


def _arn_parts(arn: str) -> tuple[str, str, str]:
    """(service, resource type, resource id) of an ARN; S3 buckets are ``s3:bucket``."""
    parts = arn.split(":", 5)
    if len(parts) < 6:
        return ("unknown", "", arn)
    service, resource = parts[2], parts[5]
    for separator in (":", "/"):
        if separator in resource:
            kind, _, ident = resource.partition(separator)
            return (service, kind, ident)
    return (service, "bucket" if service == "s3" else "", resource)


@dataclass(frozen=True)
class Waste:
    """The estimated monthly cost of an orphan; ``monthly`` is None when not known."""

    monthly: float | None
    basis: str


@dataclass(frozen=True)
class Orphan:
    resource: TaggedResource
    reason: str  # "expired" | "deleted"
    detail: str
    expired_at: datetime | None
    waste: Waste


@dataclass(frozen=True)
class Undetermined:
    resource: TaggedResource
    problem: str


@dataclass
class OrphanReport:
    regions: list[str]
    checked_at: datetime
    table: PriceTable
    scanned: int = 0
    platform: int = 0
    active: int = 0
    orphans: list[Orphan] = field(default_factory=list)
    undetermined: list[Undetermined] = field(default_factory=list)

    @property
    def known_waste(self) -> float:
        return round(sum(o.waste.monthly or 0.0 for o in self.orphans), 2)

    @property
    def unpriced(self) -> int:
        return sum(1 for o in self.orphans if o.waste.monthly is None)


def configured_regions(project_dir: Path) -> list[str]:
    """The regions the project deploys to: the provider region of Pulumi.yaml (the test
    environments') and each platform stack's ``region`` in its Pulumi.<stack>.yaml."""
    found: list[str] = []
    files = [project_dir / "Pulumi.yaml", *(project_dir / name for name in PLATFORM_STACK_FILES)]
    for path in files:
        if not path.is_file():
            continue
        try:
            document = yaml.safe_load(path.read_text("utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise InvalidRegion(f"cannot read {path.name}: {exc}") from None
        config = document.get("config") if isinstance(document, dict) else None
        for key in _REGION_KEYS:
            value = (config or {}).get(key)
            if isinstance(value, dict):  # Pulumi.yaml: {value: ...} or {default: ...}
                value = value.get("value", value.get("default"))
            if value is not None:
                found.append(check_region(str(value), where=f"{path.name} {key}"))
    return list(dict.fromkeys(found))


def check_region(region: str, *, where: str = "--region") -> str:
    if not REGION_PATTERN.match(region):
        raise InvalidRegion(f"{where}: {region!r} is not an AWS region name like us-east-1")
    return region


def _boto3_client(service: str, region: str) -> Any:
    import boto3

    return boto3.client(service, region_name=region)


def _aws_errors() -> tuple[type[Exception], ...]:
    from botocore.exceptions import BotoCoreError, ClientError

    return (BotoCoreError, ClientError)


def _explain(region: str, exc: Exception) -> OrphanScanError:
    """One line saying what AWS refused, never a traceback (nor the request's signature)."""
    response = getattr(exc, "response", None)
    if isinstance(response, Mapping):
        error = response.get("Error") or {}
        code, message = error.get("Code", "error"), error.get("Message", "")
        return OrphanScanError(f"AWS in {region}: {code}: {message}".rstrip(": "))
    return OrphanScanError(f"AWS in {region}: {exc}")


_GONE = frozenset({"DBInstanceNotFound", "DBInstanceNotFoundFault", "NoSuchBucket"})


def _error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    error = response.get("Error") if isinstance(response, Mapping) else None
    return str(error.get("Code", "")) if isinstance(error, Mapping) else ""


def located(resource: TaggedResource, client: ClientFactory = _boto3_client) -> TaggedResource:
    """``resource`` with the region it lives in: an S3 bucket's ARN names none, and the
    tagging API may report a bucket from any region, so its location is asked."""
    if resource.kind != "s3:bucket":
        return resource
    try:
        answer = client("s3", resource.region).get_bucket_location(Bucket=resource.resource_id)
    except _aws_errors() as exc:
        if _error_code(exc) in _GONE:
            return resource
        raise _explain(resource.region, exc) from None
    # No constraint means us-east-1; "EU" is the legacy name of eu-west-1.
    constraint = answer.get("LocationConstraint") or "us-east-1"
    region = "eu-west-1" if constraint == "EU" else str(constraint)
    return replace(resource, region=region)


def scan_region(region: str, client: ClientFactory = _boto3_client) -> list[TaggedResource]:
    """Every resource in ``region`` tagged ``managed-by=sre-platform`` (all pages)."""
    try:
        tagging = client("resourcegroupstaggingapi", region)
        pages = tagging.get_paginator("get_resources").paginate(
            TagFilters=[{"Key": MANAGED_BY_TAG, "Values": [MANAGED_BY]}],
            ResourcesPerPage=100,
        )
        return [
            TaggedResource(
                arn=item["ResourceARN"],
                region=region,
                tags={tag["Key"]: tag["Value"] for tag in item.get("Tags", [])},
            )
            for page in pages
            for item in page.get("ResourceTagMappingList", [])
        ]
    except _aws_errors() as exc:
        raise _explain(region, exc) from None


def scan(regions: Sequence[str], client: ClientFactory = _boto3_client) -> list[TaggedResource]:
    """All regions' tagged resources, each once and in the region it lives in. An S3
    bucket's ARN names no region and the API may report it from any region: its location
    is asked, and a bucket outside ``regions`` is left out."""
    seen: dict[str, TaggedResource] = {}
    for region in regions:
        for resource in scan_region(region, client):
            seen.setdefault(resource.arn, resource)
    placed = [located(resource, client) for resource in seen.values()]
    return [resource for resource in placed if resource.region in regions]


def judge(
    resources: Iterable[TaggedResource], project_dir: Path, now: datetime, report: OrphanReport
) -> list[tuple[TaggedResource, str, str, datetime | None]]:
    """Sort each resource into platform, active, undetermined or orphan (with its reason,
    detail and expiry); the orphans are returned for pricing."""
    orphans: list[tuple[TaggedResource, str, str, datetime | None]] = []
    verdicts: dict[str, Verdict | None] = {}
    for resource in resources:
        report.scanned += 1
        name = resource.environment
        if name is None:
            report.platform += 1
            continue
        if name not in verdicts:
            verdicts[name] = _verdict(name, project_dir, now)
        verdict = verdicts[name]
        if verdict is None:
            report.active += 1
        elif verdict[0] == "undetermined":
            report.undetermined.append(Undetermined(resource, verdict[1]))
        else:
            orphans.append((resource, *verdict))
    return orphans


def _verdict(name: str, project_dir: Path, now: datetime) -> Verdict | None:
    """None for an active environment, else (reason, detail, expiry)."""
    if not _REQUEST_NAME.match(name):
        return ("deleted", "no request can have this name", None)
    shown = f"{REQUESTS_DIR}/{name}{REQUEST_SUFFIX}"
    path = project_dir / REQUESTS_DIR / f"{name}{REQUEST_SUFFIX}"
    if not path.exists():
        return ("deleted", f"no request {shown}", None)
    try:
        request = load_request(path, shown_path=shown).request
    except DocumentError as exc:
        return ("undetermined", f"{exc.problems[0]}", None)
    if state_of(request, now) is EnvironmentState.EXPIRED:
        return ("expired", f"{shown} expired", request.expires_at)
    return None


@dataclass(frozen=True)
class _Declared:
    """An orphan as policies.cost reads a declared resource (type token, name, inputs)."""

    type: str
    name: str
    inputs: Mapping[str, Any]


def _declared(resource: TaggedResource, client: ClientFactory) -> _Declared | None:
    """What the price table needs to know of ``resource``, asked of AWS where the ARN
    does not say it (an RDS instance's class and storage); None for a type not priced."""
    if resource.kind == "s3:bucket":
        # The table's assumed bucket sizes go by bucket name.
        bucket = resource.resource_id
        return _Declared("aws:s3/bucket:Bucket", bucket, {"bucket": bucket})
    if resource.kind == "iam:role":
        return _Declared("aws:iam/role:Role", resource.resource_id, {})
    if resource.kind == "rds:db":
        rds = client("rds", resource.region)
        found = rds.describe_db_instances(DBInstanceIdentifier=resource.resource_id)
        (instance,) = found["DBInstances"]
        inputs = {
            "instanceClass": instance.get("DBInstanceClass", ""),
            "allocatedStorage": instance.get("AllocatedStorage"),
        }
        return _Declared("aws:rds/instance:Instance", resource.resource_id, inputs)
    return None


def price(resource: TaggedResource, table: PriceTable, client: ClientFactory) -> Waste:
    """Monthly waste of ``resource`` from the price table; unknown, never 0, when the
    table has no price for it (a free type such as an IAM role is 0 and says so)."""
    try:
        declared = _declared(resource, client)
    except _aws_errors() as exc:
        if _error_code(exc) in _GONE:  # the tagging API lags behind deletions
            return Waste(None, f"{resource.kind} no longer found ({_error_code(exc)})")
        raise _explain(resource.region, exc) from None
    if declared is None:
        return Waste(None, f"no price for {resource.kind} in policies/prices.yaml")
    estimate = estimate_monthly_cost([declared], table)
    if estimate.unpriced:
        return Waste(None, f"no price for {declared.type} as declared")
    if not estimate.lines:
        return Waste(0.0, "free (no charge by itself)")
    (line,) = estimate.lines
    return Waste(line.monthly, line.basis)


def find_orphans(
    project_dir: Path,
    regions: Sequence[str],
    now: datetime,
    *,
    client: ClientFactory = _boto3_client,
    table: PriceTable | None = None,
) -> OrphanReport:
    """The orphans of ``project_dir``'s requests in ``regions`` as of ``now``."""
    report = OrphanReport(
        regions=list(dict.fromkeys(check_region(r) for r in regions)),
        checked_at=now,
        table=table or default_price_table(),
    )
    for resource, reason, detail, expired_at in judge(
        scan(report.regions, client), project_dir, now, report
    ):
        waste = price(resource, report.table, client)
        report.orphans.append(Orphan(resource, reason, detail, expired_at, waste))
    report.orphans.sort(key=lambda o: (o.resource.environment or "", o.resource.arn))
    return report
