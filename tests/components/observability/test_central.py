"""CentralObservability under Pulumi mocks: buckets, Thanos, Loki, Grafana, Aurora, secrets,
protection, charts, resources, names and the production policy pack."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml

from components.observability.alertmanager_config import (
    AlertRoutingSettings,
    render_alertmanager_config,
)
from components.observability.central import (
    ALERTMANAGER_CONFIG_KEY,
    TYPE_TOKEN,
    CentralObservability,
    CentralObservabilityArgs,
    CentralObservabilityError,
    alertmanager_config_secret_name,
    metrics_bucket_arn,
    metrics_bucket_name,
)
from components.observability.central_buckets import NONCURRENT_VERSION_DAYS
from components.observability.central_dashboards import SIDECAR_LABEL, SIDECAR_LABEL_VALUE
from components.observability.central_values import GRAFANA, LOKI, THANOS
from policies.evaluate import evaluate, load_settings
from stacks.mock_engine import MockRun, SecretValue, plausible_outputs, run_under_mocks
from tests.components.mock_values import plain, plain_strings
from tests.components.observability.samples import SECRETS, settings_input
from tests.conftest import NOW, REPO_ROOT

NAME = "central"
ACCOUNT = "123456789012"
REGION = "eu-west-1"
OIDC_ISSUER = "oidc.eks.eu-west-1.amazonaws.com/id/CNC0TEST"
ADMIN_PASSWORD = "Grafana-Admin-S3cret-9xQ2"
MOCK_DB_PASSWORD = "mock-password-"
DASHBOARDS = REPO_ROOT / "dashboards"
SHIPPED = load_settings(REPO_ROOT / "policies").config

BUCKET = "aws:s3/bucket:Bucket"
PUBLIC_ACCESS = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
ENCRYPTION = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
)
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
CLUSTER = "aws:rds/cluster:Cluster"
CLUSTER_INSTANCE = "aws:rds/clusterInstance:ClusterInstance"
ROLE = "aws:iam/role:Role"
RELEASE = "kubernetes:helm.sh/v3:Release"
SECRET = "kubernetes:core/v1:Secret"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
NAMESPACE = "kubernetes:core/v1:Namespace"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
PROTECTED_TYPES = {BUCKET, CLUSTER, CLUSTER_INSTANCE, NAMESPACE}


def make_args(**overrides: Any) -> CentralObservabilityArgs:
    """Must be called inside the mock run: the secret inputs are Outputs."""
    settings = AlertRoutingSettings.model_validate(settings_input())
    base = CentralObservabilityArgs(
        environment="prod",
        account_id=ACCOUNT,
        region=REGION,
        alert_routing=pulumi.Output.secret(settings),
        grafana_admin_password=pulumi.Output.secret(ADMIN_PASSWORD),
        dashboards_dir=DASHBOARDS,
        db_subnet_group="cloud-prod-db-subnets",
        db_security_group_ids=("sg-0123456789abcdef0",),
        oidc_provider_arn=f"arn:aws:iam::{ACCOUNT}:oidc-provider/{OIDC_ISSUER}",
        oidc_issuer=OIDC_ISSUER,
        backup_retention_days=14,
        protect=True,
    )
    return replace(base, **overrides)


def outputs(type_token: str, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    found = plausible_outputs(type_token, name, inputs)
    if type_token == CLUSTER:
        found["endpoint"] = f"{name}.cluster-mock.{REGION}.rds.amazonaws.com"
    return found


def run(stack: str = "prod", **overrides: Any) -> MockRun:
    def program() -> None:
        CentralObservability(NAME, make_args(**overrides))

    return run_under_mocks(
        program,
        project="sre-platform",
        stack=stack,
        outputs_for=outputs,
    )


@functools.cache
def prod() -> MockRun:
    return run()


@functools.cache
def dev() -> MockRun:
    return run("dev", environment="dev", protect=False, backup_retention_days=1)


def children(mock: MockRun) -> list[Any]:
    return [r for r in mock.resources if r.type != TYPE_TOKEN]


def release(mock: MockRun, role: str) -> Any:
    return mock.one(RELEASE, f"{NAME}-{role}")


# -- buckets ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "bucket_name"),
    [("metrics", "cloud-prod-prometheus-metrics"), ("logs", "cloud-prod-loki-logs")],
)
def test_each_bucket_is_private_encrypted_versioned_and_has_lifecycle_rules(
    role: str, bucket_name: str
) -> None:
    mock = prod()
    bucket = mock.one(BUCKET, f"{NAME}-{role}")
    assert bucket.inputs["bucket"] == bucket_name

    def side(type_token: str) -> Any:
        (found,) = [
            r
            for r in mock.of_type(type_token)
            if bucket.urn in r.property_dependencies.get("bucket", ())
        ]
        return found

    block = side(PUBLIC_ACCESS)
    flags = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    assert all(block.inputs[flag] is True for flag in flags)
    (rule,) = side(ENCRYPTION).inputs["rules"]
    assert rule["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "AES256"
    assert side(VERSIONING).inputs["versioningConfiguration"]["status"] == "Enabled"
    rules = {r["id"]: r for r in side(LIFECYCLE).inputs["rules"]}
    assert all(r["status"] == "Enabled" for r in rules.values())
    noncurrent = rules["expire-noncurrent-versions"]["noncurrentVersionExpiration"]
    assert noncurrent["noncurrentDays"] == NONCURRENT_VERSION_DAYS
    assert rules["abort-incomplete-uploads"]["abortIncompleteMultipartUpload"] == {
        "daysAfterInitiation": 1
    }
    assert not any("expiration" in r and "days" in r["expiration"] for r in rules.values()), (
        "current objects are the compactors' to expire, never S3's"
    )


def test_the_metrics_bucket_name_and_arn_are_outputs() -> None:
    mock = run_under_mocks(
        _exporting_program, project="sre-platform", stack="prod", outputs_for=outputs
    )
    assert mock.exports["metrics_bucket"] == "cloud-prod-prometheus-metrics"
    assert mock.exports["metrics_bucket_arn"].endswith(f":{NAME}-metrics")
    assert mock.exports["loki_push_url"] == (
        "http://loki-gateway.observability.svc.cluster.local:80/loki/api/v1/push"
    )
    assert mock.exports["grafana_url"] == "https://grafana.example.com"


def _exporting_program() -> None:
    component = CentralObservability(NAME, make_args(grafana_host="grafana.example.com"))
    for key in ("metrics_bucket", "metrics_bucket_arn", "loki_push_url", "grafana_url"):
        pulumi.export(key, getattr(component, key))


# -- Thanos and Loki -------------------------------------------------------------------------


def test_the_thanos_compactor_keeps_raw_7d_5m_30d_and_1h_365d() -> None:
    compactor = release(prod(), "thanos").inputs["values"]["compactor"]
    assert compactor["enabled"] is True
    assert (
        compactor["retentionResolutionRaw"],
        compactor["retentionResolution5m"],
        compactor["retentionResolution1h"],
    ) == ("7d", "30d", "365d")


def test_thanos_reads_the_metrics_bucket_with_keyless_s3_config() -> None:
    values = release(prod(), "thanos").inputs["values"]
    objstore = yaml.safe_load(values["objstoreConfig"])
    assert objstore["type"] == "S3"
    assert objstore["config"]["bucket"] == "cloud-prod-prometheus-metrics"
    assert objstore["config"]["region"] == REGION
    assert not {"access_key", "secret_key"} & set(objstore["config"])


def test_loki_keeps_critical_streams_30_days_and_the_rest_7_days() -> None:
    loki = release(prod(), "loki").inputs["values"]["loki"]
    assert loki["limits_config"]["retention_period"] == "168h"
    assert loki["limits_config"]["retention_stream"] == [
        {"selector": '{retention="critical"}', "priority": 1, "period": "720h"}
    ]
    assert loki["compactor"]["retention_enabled"] is True
    assert loki["compactor"]["delete_request_store"] == "s3"
    assert loki["storage"]["bucketNames"]["chunks"] == "cloud-prod-loki-logs"


# -- IRSA, no static keys --------------------------------------------------------------------

STATIC_KEY_NAMES = re.compile(r"(aws_?)?(access_?key(_?id)?|secret_?(access_?)?key)", re.I)


def _keys(value: Any) -> Iterator[str]:
    value = plain(value)
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _keys(item)
    elif isinstance(value, list):
        for item in value:
            yield from _keys(item)


def test_no_static_keys_anywhere_and_each_bucket_reader_has_its_own_irsa_role() -> None:
    mock = prod()
    assert not [r for r in mock.resources if r.type.startswith("aws:iam/accessKey")]
    for resource in mock.resources:
        assert not [k for k in _keys(resource.inputs) if STATIC_KEY_NAMES.fullmatch(k)]
    subjects = {}
    for role in mock.of_type(ROLE):
        (statement,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
        assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
        subjects[role.name] = statement["Condition"]["StringEquals"][f"{OIDC_ISSUER}:sub"]
    assert subjects == {
        f"{NAME}-thanos-storegateway": "system:serviceaccount:observability:thanos-storegateway",
        f"{NAME}-thanos-compactor": "system:serviceaccount:observability:thanos-compactor",
        f"{NAME}-loki": "system:serviceaccount:observability:loki",
    }
    thanos = release(mock, "thanos").inputs["values"]
    loki = release(mock, "loki").inputs["values"]
    annotation = "eks.amazonaws.com/role-arn"
    assert thanos["storegateway"]["serviceAccount"]["annotations"][annotation].endswith(
        f":{NAME}-thanos-storegateway"
    )
    assert thanos["compactor"]["serviceAccount"]["annotations"][annotation].endswith(
        f":{NAME}-thanos-compactor"
    )
    assert loki["serviceAccount"]["annotations"][annotation].endswith(f":{NAME}-loki")


def test_the_store_gateway_may_only_read_and_the_compactor_may_delete() -> None:
    policies = {
        r.name: json.loads(r.inputs["policy"])
        for r in prod().of_type("aws:iam/rolePolicy:RolePolicy")
    }
    read = {a for s in policies[f"{NAME}-thanos-storegateway-s3"]["Statement"] for a in s["Action"]}
    write = {a for s in policies[f"{NAME}-thanos-compactor-s3"]["Statement"] for a in s["Action"]}
    assert read == {"s3:ListBucket", "s3:GetObject"}
    assert {"s3:PutObject", "s3:DeleteObject"} <= write


# -- Grafana and dashboards ------------------------------------------------------------------


def test_grafana_has_thanos_and_loki_datasources_pointing_at_their_services() -> None:
    values = release(prod(), "grafana").inputs["values"]
    sources = {s["uid"]: s for s in values["datasources"]["datasources.yaml"]["datasources"]}
    assert set(sources) == {"thanos", "loki"}
    assert sources["thanos"]["type"] == "prometheus" and sources["thanos"]["isDefault"] is True
    assert sources["thanos"]["url"] == "http://thanos-query.observability.svc.cluster.local:9090"
    assert sources["loki"]["type"] == "loki"
    assert sources["loki"]["url"] == "http://loki-gateway.observability.svc.cluster.local:80"


def test_every_dashboard_file_is_valid_json_and_provisioned_for_the_sidecar() -> None:
    files = sorted(DASHBOARDS.glob("*.json"))
    assert files, "dashboards/ must hold at least the SLO overview"
    mock = prod()
    config_map = mock.one(CONFIG_MAP, f"{NAME}-dashboards")
    assert config_map.inputs["metadata"]["labels"][SIDECAR_LABEL] == SIDECAR_LABEL_VALUE
    assert sorted(config_map.inputs["data"]) == [path.name for path in files]
    for path in files:
        assert json.loads(config_map.inputs["data"][path.name]) == json.loads(path.read_text())
    sidecar = release(mock, "grafana").inputs["values"]["sidecar"]["dashboards"]
    assert (sidecar["enabled"], sidecar["label"], sidecar["labelValue"]) == (
        True,
        SIDECAR_LABEL,
        SIDECAR_LABEL_VALUE,
    )


def _datasource_uids(document: Any) -> Iterator[str]:
    if isinstance(document, dict):
        source = document.get("datasource")
        if isinstance(source, dict) and "uid" in source:
            yield source["uid"]
        for item in document.values():
            yield from _datasource_uids(item)
    elif isinstance(document, list):
        for item in document:
            yield from _datasource_uids(item)


def test_dashboards_use_provisioned_datasources_and_the_slo_overview_uses_sloth_series() -> None:
    for path in DASHBOARDS.glob("*.json"):
        assert set(_datasource_uids(json.loads(path.read_text()))) <= {"thanos", "loki"}, path
    overview = json.loads((DASHBOARDS / "slo-overview.json").read_text())
    exprs = " ".join(t["expr"] for panel in overview["panels"] for t in panel["targets"])
    for series in (
        "slo:period_error_budget_remaining:ratio",
        "slo:objective:ratio",
        "slo:error_budget:ratio",
        "slo:period_burn_rate:ratio",
        "slo:sli_error:ratio_rate5m",
    ):
        assert series in exprs
    assert "sloth_service" in exprs and "sloth_slo" in exprs


def test_a_bad_dashboard_is_refused_with_its_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "broken.json").write_text('{\n  "uid": "x",\n  "title": oops\n}\n')
    with pytest.raises(CentralObservabilityError) as caught:
        run(dashboards_dir=tmp_path)
    assert f"{tmp_path / 'broken.json'}:3" in str(caught.value)


# -- Aurora ----------------------------------------------------------------------------------


def test_grafana_database_is_encrypted_deletion_protected_serverless_v2_and_private() -> None:
    mock = prod()
    cluster = mock.one(CLUSTER)
    inputs = cluster.inputs
    assert (inputs["engine"], inputs["engineMode"]) == ("aurora-postgresql", "provisioned")
    assert inputs["serverlessv2ScalingConfiguration"] == {"minCapacity": 0.5, "maxCapacity": 2.0}
    assert inputs["storageEncrypted"] is True
    assert inputs["deletionProtection"] is True
    assert inputs["backupRetentionPeriod"] == 14
    assert inputs["dbSubnetGroupName"] == "cloud-prod-db-subnets"
    assert inputs["vpcSecurityGroupIds"] == ["sg-0123456789abcdef0"]
    writer = mock.one(CLUSTER_INSTANCE)
    assert writer.inputs["instanceClass"] == "db.serverless"
    assert writer.inputs["publiclyAccessible"] is False
    assert cluster.urn in writer.property_dependencies["clusterIdentifier"]
    host = release(mock, "grafana").inputs["values"]["grafana.ini"]["database"]["host"]
    assert host == f"{NAME}-grafana-db.cluster-mock.{REGION}.rds.amazonaws.com:5432"


def test_production_refuses_fewer_than_7_days_of_backups() -> None:
    with pytest.raises(CentralObservabilityError, match="backup_retention_days 6"):
        run(backup_retention_days=6)


# -- secrets ---------------------------------------------------------------------------------


def test_passwords_and_webhook_urls_are_never_plain_in_any_input() -> None:
    mock = prod()
    forbidden = (*SECRETS, ADMIN_PASSWORD, MOCK_DB_PASSWORD)
    leaks = [
        (resource.name, text)
        for resource in mock.resources
        for text in plain_strings(resource.inputs)
        if any(secret in text for secret in forbidden)
    ]
    assert leaks == []
    assert isinstance(mock.one(CLUSTER).inputs["masterPassword"], SecretValue)


def test_grafana_gets_its_passwords_from_secrets_not_from_values() -> None:
    mock = prod()
    values = release(mock, "grafana").inputs["values"]
    ref = values["envValueFrom"]["GF_DATABASE_PASSWORD"]["secretKeyRef"]
    db_secret = mock.one(SECRET, ref["name"])
    assert isinstance(db_secret.inputs["stringData"], SecretValue)
    assert plain(db_secret.inputs["stringData"])[ref["key"]].startswith(MOCK_DB_PASSWORD)
    admin = mock.one(SECRET, values["admin"]["existingSecret"])
    assert isinstance(admin.inputs["stringData"], SecretValue)
    assert plain(admin.inputs["stringData"])[values["admin"]["passwordKey"]] == ADMIN_PASSWORD


def test_the_alertmanager_secret_holds_the_rendered_configuration_as_a_secret() -> None:
    secret = prod().one(SECRET, alertmanager_config_secret_name(NAME))
    assert secret.inputs["metadata"]["namespace"] == "prometheus"
    assert isinstance(secret.inputs["stringData"], SecretValue)
    text = plain(secret.inputs["stringData"])[ALERTMANAGER_CONFIG_KEY]
    settings = AlertRoutingSettings.model_validate(settings_input())
    assert text == render_alertmanager_config(settings)


# -- protection, charts, resources, placement, names -----------------------------------------


def test_stateful_resources_are_protected_only_when_asked() -> None:
    protected = {r.type for r in prod().resources if r.protect}
    assert protected == PROTECTED_TYPES
    assert not [r.name for r in dev().resources if r.protect]


EXACT_VERSION = re.compile(r"^\d+\.\d+\.\d+$")


def test_every_chart_is_pinned_to_its_exact_version_and_repository() -> None:
    mock = prod()
    for role, chart in (("thanos", THANOS), ("loki", LOKI), ("grafana", GRAFANA)):
        inputs = release(mock, role).inputs
        assert (inputs["chart"], inputs["version"]) == (chart.name, chart.version)
        assert EXACT_VERSION.match(inputs["version"])
        assert inputs["name"] == chart.release
        if chart.repository is None:
            assert inputs["chart"].startswith("oci://")
        else:
            assert inputs["repositoryOpts"]["repo"] == chart.repository


# Every workload each chart deploys with our values (the others are switched off).
WORKLOADS = {
    "thanos": ("query", "storegateway", "compactor"),
    "loki": ("write", "read", "backend", "gateway"),
    "grafana": ("",),
}
SWITCHED_OFF = {
    "thanos": ("queryFrontend", "bucketweb", "ruler", "receive", "receiveDistributor"),
    "loki": ("chunksCache", "resultsCache", "lokiCanary", "test", "minio"),
    "grafana": ("testFramework",),
}


def _has_requests_and_limits(section: Any) -> bool:
    resources = section.get("resources") or {}
    return all(
        resources.get(kind, {}).get(what)
        for kind in ("requests", "limits")
        for what in ("cpu", "memory")
    )


@pytest.mark.parametrize("role", sorted(WORKLOADS))
def test_every_workload_has_requests_limits_and_the_utilities_placement(role: str) -> None:
    values = release(prod(), role).inputs["values"]
    for key in WORKLOADS[role]:
        section = values[key] if key else values
        assert _has_requests_and_limits(section), (role, key)
        assert section["nodeSelector"] == {"node-group": "utilities"}, (role, key)
        assert section["tolerations"] == [
            {"key": "dedicated", "operator": "Equal", "value": "utilities", "effect": "NoSchedule"}
        ]
    for key in SWITCHED_OFF[role]:
        assert values[key]["enabled"] is False, (role, key)
    if role == "loki":
        assert values["singleBinary"]["replicas"] == 0
        assert _has_requests_and_limits(values["sidecar"])
    if role == "grafana":
        assert _has_requests_and_limits(values["sidecar"])


def test_every_child_has_the_component_as_parent_and_a_name_from_it() -> None:
    mock = prod()
    (component,) = mock.of_type(TYPE_TOKEN)
    assert component.name == NAME
    for resource in children(mock):
        assert resource.parent == component.urn, resource.name
        assert resource.name.startswith(f"{NAME}-"), resource.name


def test_the_namespace_has_network_policies() -> None:
    mock = prod()
    namespace = mock.one(NAMESPACE)
    policies = mock.of_type(NETWORK_POLICY)
    assert policies
    assert all(namespace.urn in p.property_dependencies["metadata"] for p in policies)


# -- policy pack -----------------------------------------------------------------------------


def test_the_production_policy_pack_passes_on_everything_declared() -> None:
    mock = prod()
    report = evaluate(mock.resources, stack="prod", config=SHIPPED, now=NOW)
    assert report.tier == "production"
    assert [(f.rule.id, f.resource_name, f.message) for f in report.findings] == []
    for rule in (
        "aws-required-tags",
        "s3-bucket-versioned",
        "rds-backup-retention",
        "production-stateful-protected",
        "k8s-namespace-network-policy",
        "helm-chart-pinned",
    ):
        assert rule in report.applicable


def test_an_unprotected_copy_would_fail_the_production_pack() -> None:
    """The pack run above can fail: the same component without protection does."""
    report = evaluate(dev().resources, stack="prod", config=SHIPPED, now=NOW)
    assert "production-stateful-protected" in {f.rule.id for f in report.blocking}


# -- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"environment": "Prod"}, "environment"),
        ({"account_id": "12345"}, "account_id"),
        ({"oidc_issuer": "oidc.example.com/other"}, "oidc_issuer"),
        ({"db_security_group_ids": ()}, "db_security_group_ids"),
        ({"db_min_acu": 0.7}, "db_min_acu/db_max_acu"),
        ({"db_deletion_protection": False}, "db_deletion_protection"),
        ({"critical_stream_selectors": ("critical",)}, "critical_stream_selectors"),
        ({"thanos_store_endpoints": ("no-port",)}, "thanos_store_endpoints"),
    ],
)
def test_bad_inputs_are_refused_naming_the_input(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(CentralObservabilityError) as caught:
        run(**overrides)
    assert str(caught.value).startswith(f"invalid {field} ")


def test_the_metrics_bucket_arn_is_known_before_the_bucket_exists() -> None:
    """The stack may build the cnc cluster's ClusterMonitoring first (it creates the
    Alertmanager's namespace) from the name and ARN the bucket will have."""
    mock = prod()
    assert mock.one(BUCKET, f"{NAME}-metrics").inputs["bucket"] == metrics_bucket_name("prod")
    assert metrics_bucket_arn("prod") == "arn:aws:s3:::cloud-prod-prometheus-metrics"
