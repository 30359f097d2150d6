from __future__ import annotations

from policies.cost import default_price_table, estimate_monthly_cost
from policies.model import UNKNOWN
from stacks.mock_engine import DeclaredResource
from tests.policies.conftest import resource


def test_storage_unknown_at_preview_time_is_left_out_and_said_so() -> None:
    known = resource(
        "aws:rds/instance:Instance", "a", {"instanceClass": "db.t4g.medium", "allocatedStorage": 20}
    )
    unknown = resource(
        "aws:rds/instance:Instance",
        "b",
        {"instanceClass": "db.t4g.medium", "allocatedStorage": UNKNOWN},
    )
    lines = {line.resource: line for line in estimate_monthly_cost([known, unknown]).lines}
    assert lines["a"].monthly == round(0.065 * 730 + 20 * 0.115, 2)
    assert lines["b"].monthly == round(0.065 * 730, 2) and lines["b"].basis.endswith(
        "storage not known"
    )


def test_an_unknown_instance_class_is_unpriced_not_guessed() -> None:
    db = resource("aws:rds/instance:Instance", "a", {"instanceClass": UNKNOWN})
    estimate = estimate_monthly_cost([db])
    assert estimate.lines == [] and [r.name for r in estimate.unpriced] == ["a"]


def _declared(type_: str, name: str, **inputs: object) -> DeclaredResource:
    return DeclaredResource(
        type=type_, name=name, urn=f"urn::{name}", parent="", custom=True, inputs=dict(inputs)
    )


def test_platform_prices_aurora_at_minimum_acu_volumes_by_replica_and_buckets_by_name() -> None:
    table = default_price_table()
    cluster = _declared(
        "aws:rds/cluster:Cluster",
        "db",
        clusterIdentifier="db",
        serverlessv2ScalingConfiguration={"minCapacity": 2.0, "maxCapacity": 4.0},
    )
    writer = _declared(
        "aws:rds/clusterInstance:ClusterInstance",
        "db-1",
        clusterIdentifier="db",
        instanceClass="db.serverless",
    )
    release = _declared(
        "kubernetes:helm.sh/v3:Release",
        "loki",
        chart="loki",
        values={
            "write": {"replicas": 3, "persistence": {"size": "10Gi"}},
            "read": {"persistence": {"enabled": False, "size": "99Gi"}},
        },
    )
    metrics = _declared("aws:s3/bucket:Bucket", "m", bucket="cloud-prod-prometheus-metrics")
    lines = {
        line.resource: line
        for line in estimate_monthly_cost([cluster, writer, release, metrics], table).lines
    }
    acu = 2.0 * table.aurora_serverless_v2_acu_hour * table.hours_per_month
    assert lines["db-1"].monthly == round(acu, 2) and "minimum 2 ACU" in lines["db-1"].basis
    assert lines["loki"].monthly == round(30 * table.ebs_gp3_gb_month, 2)
    assert lines["m"].monthly == round(
        table.s3_assumed_gb_by_bucket["cloud-*-prometheus-metrics"] * table.s3_standard_gb_month, 2
    )
    assert lines["db"].monthly == round(table.aurora_assumed_gb * table.aurora_storage_gb_month, 2)
