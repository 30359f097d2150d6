"""Estimated monthly cost of a declared resource set, from a documented price table.

An estimate, not a bill: on-demand list prices for one region, a stated assumption for
storage we cannot know in advance, and cluster capacity priced by the resource requests
the environment reserves. Every resource either gets a priced line, is known to be free,
or is listed as unpriced, so nothing is silently left out.

It lives with the policy rules because the test-environment cost cap is a rule: the
pack, ``sre policy check`` and ``sre env render`` all price with this one table.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from importlib import resources
from typing import Any, Protocol

import yaml
from pydantic import BaseModel, ConfigDict


class Declared(Protocol):
    """What pricing reads of a resource (a mock-run resource or a policy Resource)."""

    @property
    def type(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def inputs(self) -> Mapping[str, Any]: ...


MATTERMOST_TYPE = "kubernetes:installation.mattermost.com/v1beta1:Mattermost"
AURORA_CLUSTER_TYPE = "aws:rds/cluster:Cluster"
AURORA_INSTANCE_TYPE = "aws:rds/clusterInstance:ClusterInstance"
HELM_RELEASE_TYPE = "kubernetes:helm.sh/v3:Release"
SERVERLESS_CLASS = "db.serverless"


class PriceTable(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    region: str
    currency: str
    as_of: str
    source: str
    hours_per_month: float
    rds_postgres_instance_hourly: dict[str, float]
    rds_gp3_storage_gb_month: float
    s3_standard_gb_month: float
    s3_assumed_gb: float
    cluster_vcpu_hour: float
    cluster_memory_gb_hour: float
    s3_assumed_gb_by_bucket: dict[str, float]
    aurora_serverless_v2_acu_hour: float
    aurora_serverless_v2_assumed_acu: float
    aurora_storage_gb_month: float
    aurora_assumed_gb: float
    ebs_gp3_gb_month: float
    free_types: list[str]

    def assumed_bucket_gb(self, bucket: object) -> float:
        """The assumed size of the bucket named ``bucket`` (the first pattern it matches)."""
        name = bucket if isinstance(bucket, str) else ""
        return next(
            (
                gb
                for pattern, gb in self.s3_assumed_gb_by_bucket.items()
                if fnmatchcase(name, pattern)
            ),
            self.s3_assumed_gb,
        )


def default_price_table() -> PriceTable:
    text = resources.files("policies").joinpath("prices.yaml").read_text("utf-8")
    return PriceTable.model_validate(yaml.safe_load(text))


@dataclass(frozen=True)
class CostLine:
    resource: str
    type: str
    monthly: float
    basis: str


@dataclass
class CostEstimate:
    table: PriceTable
    lines: list[CostLine] = field(default_factory=list)
    unpriced: list[Declared] = field(default_factory=list)

    @property
    def monthly_total(self) -> float:
        return round(sum(line.monthly for line in self.lines), 2)


_QUANTITY = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(m|Ki|Mi|Gi|Ti|k|M|G|T)?$")
_SCALE = {
    None: 1.0,
    "m": 1e-3,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "Ki": 2.0**10,
    "Mi": 2.0**20,
    "Gi": 2.0**30,
    "Ti": 2.0**40,
}


def parse_quantity(text: object) -> float:
    """A Kubernetes quantity (``150m``, ``256Mi``, ``2``) as a plain number."""
    match = _QUANTITY.match(str(text).strip())
    if not match:
        raise ValueError(f"not a Kubernetes quantity: {text!r}")
    return float(match.group(1)) * _SCALE[match.group(2)]


def _dig(data: Mapping[str, Any], *path: str) -> Any:
    current: Any = data
    for key in path:
        if not isinstance(current, Mapping):
            return None
        current = current.get(key)
    return current


def _rds_line(resource: Declared, table: PriceTable) -> CostLine | None:
    instance_class = str(resource.inputs.get("instanceClass", ""))
    hourly = table.rds_postgres_instance_hourly.get(instance_class)
    if hourly is None:
        return None
    storage = resource.inputs.get("allocatedStorage")
    # Storage not known at preview time (or not given) is left out, and the basis says so.
    known = isinstance(storage, int | float) and not isinstance(storage, bool)
    storage_gb = float(storage) if known else 0.0  # type: ignore[arg-type]
    monthly = hourly * table.hours_per_month + storage_gb * table.rds_gp3_storage_gb_month
    storage_basis = (
        f"{storage_gb:g} GB gp3 × ${table.rds_gp3_storage_gb_month}/GB-month"
        if known
        else "storage not known"
    )
    basis = f"{instance_class} ${hourly}/h × {table.hours_per_month:g} h + {storage_basis}"
    return CostLine(resource.name, resource.type, round(monthly, 2), basis)


def _bucket_line(resource: Declared, table: PriceTable) -> CostLine:
    assumed = table.assumed_bucket_gb(resource.inputs.get("bucket"))
    monthly = assumed * table.s3_standard_gb_month
    basis = f"assumed {assumed:g} GB S3 Standard × ${table.s3_standard_gb_month}/GB-month"
    return CostLine(resource.name, resource.type, round(monthly, 2), basis)


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _minimum_acu(cluster: Declared | None) -> float | None:
    if cluster is None:
        return None
    return _number(_dig(cluster.inputs, "serverlessv2ScalingConfiguration", "minCapacity"))


def _cluster_of(instance: Declared, clusters: Sequence[Declared]) -> Declared | None:
    """The Aurora cluster of ``instance``: by identifier, else the only one declared (a
    preview does not know the identifier of a cluster not yet created)."""
    wanted = instance.inputs.get("clusterIdentifier")
    for cluster in clusters:
        if isinstance(wanted, str) and wanted == cluster.inputs.get("clusterIdentifier"):
            return cluster
    return clusters[0] if len(clusters) == 1 else None


def _aurora_instance_line(
    instance: Declared, clusters: Sequence[Declared], table: PriceTable
) -> CostLine | None:
    if instance.inputs.get("instanceClass") != SERVERLESS_CLASS:
        return None
    acu = _minimum_acu(_cluster_of(instance, clusters))
    shown = "minimum" if acu is not None else "assumed minimum"
    acu = table.aurora_serverless_v2_assumed_acu if acu is None else acu
    hourly = table.aurora_serverless_v2_acu_hour
    monthly = acu * hourly * table.hours_per_month
    basis = (
        f"Serverless v2 at its {shown} {acu:g} ACU × ${hourly}/ACU-h × {table.hours_per_month:g} h"
    )
    return CostLine(instance.name, instance.type, round(monthly, 2), basis)


def _aurora_cluster_line(cluster: Declared, table: PriceTable) -> CostLine:
    monthly = table.aurora_assumed_gb * table.aurora_storage_gb_month
    basis = (
        f"assumed {table.aurora_assumed_gb:g} GB Aurora storage × "
        f"${table.aurora_storage_gb_month}/GB-month (compute: its instances)"
    )
    return CostLine(cluster.name, cluster.type, round(monthly, 2), basis)


def _claimed_gib(values: object) -> float:
    """GiB of volumes a chart's values claim: ``persistence.size`` (unless disabled) and
    ``storageSpec.volumeClaimTemplate`` storage, × the ``replicas``/``replicaCount`` of
    the block that declares them."""
    if isinstance(values, list):
        return sum(_claimed_gib(item) for item in values)
    if not isinstance(values, Mapping):
        return 0.0
    replicas = _number(values.get("replicas", values.get("replicaCount", 1))) or 1.0
    sizes = []
    persistence = values.get("persistence")
    if isinstance(persistence, Mapping) and persistence.get("enabled", True) is not False:
        sizes.append(persistence.get("size"))
    sizes.append(
        _dig(
            values, "storageSpec", "volumeClaimTemplate", "spec", "resources", "requests", "storage"
        )
    )
    total = 0.0
    for size in sizes:
        try:
            total += parse_quantity(size) / 2.0**30 * replicas if size is not None else 0.0
        except ValueError:
            continue
    return total + sum(_claimed_gib(child) for child in values.values())


def _release_line(resource: Declared, table: PriceTable) -> CostLine | None:
    values = resource.inputs.get("values")
    if not isinstance(values, Mapping):
        return None  # secret or unknown values: cannot be read
    gib = _claimed_gib(values)
    if gib == 0:
        return None
    chart = resource.inputs.get("chart", "chart")
    basis = (
        f"{chart}: {gib:g} GiB EBS gp3 volumes × ${table.ebs_gp3_gb_month}/GB-month "
        "(storage only; its pods run on the cluster's utilities nodes)"
    )
    return CostLine(resource.name, resource.type, round(gib * table.ebs_gp3_gb_month, 2), basis)


def _mattermost_line(resource: Declared, table: PriceTable) -> CostLine | None:
    spec = resource.inputs.get("spec")
    if not isinstance(spec, Mapping):
        return None
    replicas = spec.get("replicas")
    requests = _dig(spec, "scheduling", "resources", "requests")
    if not isinstance(replicas, int | float) or not isinstance(requests, Mapping):
        return None
    try:
        vcpu = parse_quantity(requests["cpu"])
        memory_gb = parse_quantity(requests["memory"]) / 2.0**30
    except (KeyError, ValueError):
        return None
    hourly = replicas * (vcpu * table.cluster_vcpu_hour + memory_gb * table.cluster_memory_gb_hour)
    basis = (
        f"{replicas:g} app replica(s) × ({vcpu:g} vCPU × ${table.cluster_vcpu_hour}/h + "
        f"{memory_gb:.2f} GB × ${table.cluster_memory_gb_hour}/h) × {table.hours_per_month:g} h"
    )
    return CostLine(resource.name, resource.type, round(hourly * table.hours_per_month, 2), basis)


def estimate_monthly_cost(
    resources_declared: Iterable[Declared], table: PriceTable | None = None
) -> CostEstimate:
    table = table or default_price_table()
    estimate = CostEstimate(table=table)
    free = set(table.free_types)
    declared = list(resources_declared)
    clusters = [
        r
        for r in declared
        if r.type == AURORA_CLUSTER_TYPE and "serverlessv2ScalingConfiguration" in r.inputs
    ]
    for resource in declared:
        line: CostLine | None
        if resource.type == "aws:rds/instance:Instance":
            line = _rds_line(resource, table)
        elif resource.type == "aws:s3/bucket:Bucket":
            line = _bucket_line(resource, table)
        elif resource.type == MATTERMOST_TYPE:
            line = _mattermost_line(resource, table)
        elif resource.type == AURORA_INSTANCE_TYPE:
            line = _aurora_instance_line(resource, clusters, table)
        elif resource.type == AURORA_CLUSTER_TYPE and resource in clusters:
            line = _aurora_cluster_line(resource, table)
        elif resource.type == HELM_RELEASE_TYPE:
            line = _release_line(resource, table)
        elif resource.type in free:
            continue
        else:
            line = None
        if line is None:
            estimate.unpriced.append(resource)
        else:
            estimate.lines.append(line)
    return estimate
