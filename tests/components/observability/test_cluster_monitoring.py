"""ClusterMonitoring under Pulumi mocks: charts, Prometheus, Thanos IRSA, Alloy, policies.

The workload lists below are this test's own reading of the two charts (which values
block configures which pod), not the component's tables, so a block the component
forgets fails here.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import replace
from typing import Any

import pulumi
import pytest
import yaml

from components.observability.cluster_monitoring import (
    RULE_SELECTOR_LABELS,
    TYPE_TOKEN,
    ClusterMonitoring,
    ClusterMonitoringArgs,
    ClusterMonitoringError,
    ComputeResources,
)
from policies.evaluate import evaluate, load_settings
from policies.rules.helm import version_problem
from policies.rules.kubernetes import missing_resources
from stacks.mock_engine import DeclaredResource, MockRun, SecretValue, run_under_mocks
from tests.components.mock_values import plain as unwrap
from tests.conftest import NOW, REPO_ROOT

NAME = "monitoring-c1"
ISSUER = "oidc.eks.eu-west-1.amazonaws.com/id/0A1B2C3D4E5F"
OIDC_ARN = f"arn:aws:iam::123456789012:oidc-provider/{ISSUER}"
BUCKET = "cloud-prod-prometheus-metrics"
BUCKET_ARN = f"arn:aws:s3:::{BUCKET}"
LOKI = "https://loki.cnc.example.com/loki/api/v1/push"
RELEASE = "kubernetes:helm.sh/v3:Release"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
SECRET = "kubernetes:core/v1:Secret"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
SHIPPED = load_settings(REPO_ROOT / "policies").config
UTILITIES_TAINT = {"key": "dedicated", "value": "utilities", "effect": "NoSchedule"}
OTHER_TAINT = {"key": "gpu", "value": "true", "effect": "NoSchedule"}

# values path -> what kind of pod it configures, per chart.
KPS_WORKLOADS: dict[tuple[str, ...], str] = {
    ("prometheus", "prometheusSpec"): "platform",
    ("alertmanager", "alertmanagerSpec"): "platform",
    ("prometheusOperator",): "platform",
    ("prometheusOperator", "admissionWebhooks", "patch"): "platform",
    ("kube-state-metrics",): "platform",
    ("prometheus-node-exporter",): "node agent",
}
# Containers with their own resources but the scheduling of the pod they sit in.
KPS_SIDECARS: tuple[tuple[str, ...], ...] = (
    ("prometheus", "prometheusSpec", "thanos"),
    ("prometheusOperator", "prometheusConfigReloader"),
)
ALLOY_WORKLOADS: dict[tuple[str, ...], str] = {("controller",): "node agent"}
ALLOY_CONTAINERS: tuple[tuple[str, ...], ...] = (("alloy",), ("configReloader",))


def make_args(**overrides: Any) -> ClusterMonitoringArgs:
    base = ClusterMonitoringArgs(
        environment="prod",
        cluster_id="c1",
        metrics_bucket=BUCKET,
        metrics_bucket_arn=BUCKET_ARN,
        oidc_provider_arn=OIDC_ARN,
        oidc_issuer=ISSUER,
        loki_push_url=LOKI,
    )
    return replace(base, **overrides)


def run_monitoring(
    args: ClusterMonitoringArgs, *, name: str = NAME, stack: str = "prod"
) -> MockRun:
    def program() -> None:
        component = ClusterMonitoring(name, args)
        pulumi.export("namespace", component.namespace)
        pulumi.export("thanos_role_arn", component.thanos_role_arn)

    return run_under_mocks(program, project="sre-platform", stack=stack)


@functools.cache
def default_run() -> MockRun:
    return run_monitoring(make_args())


def release(run: MockRun, chart: str) -> DeclaredResource:
    (found,) = [r for r in run.of_type(RELEASE) if r.inputs["chart"] == chart]
    return found


def values(run: MockRun, chart: str) -> dict[str, Any]:
    return dict(release(run, chart).inputs["values"])


def at(mapping: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    for key in path:
        mapping = mapping[key]
    return mapping


def walk(value: Any) -> Iterator[str]:
    """Every string, keys included, secrets unwrapped."""
    value = unwrap(value)
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from walk(item)


def tolerates(tolerations: list[Mapping[str, str]], taint: Mapping[str, str]) -> bool:
    """Kubernetes' matching of a taint by a list of tolerations."""
    for toleration in tolerations:
        if toleration.get("effect") not in (None, "", taint["effect"]):
            continue
        if toleration.get("operator", "Equal") == "Exists":
            if not toleration.get("key") or toleration["key"] == taint["key"]:
                return True
        elif toleration.get("key") == taint["key"] and toleration.get("value") == taint["value"]:
            return True
    return False


def objstore(run: MockRun) -> dict[str, Any]:
    secret = run.one(SECRET)
    assert isinstance(secret.inputs["stringData"], SecretValue)
    (text,) = unwrap(secret.inputs["stringData"]).values()
    return dict(yaml.safe_load(text))


# -- charts and namespace -------------------------------------------------------------------


def test_both_charts_are_pinned_to_exact_versions_from_their_repositories() -> None:
    run = default_run()
    pins = {
        r.inputs["chart"]: (r.inputs["version"], r.inputs["repositoryOpts"]["repo"])
        for r in run.of_type(RELEASE)
    }
    assert pins == {
        "kube-prometheus-stack": ("65.1.1", "https://prometheus-community.github.io/helm-charts"),
        "alloy": ("0.10.1", "https://grafana.github.io/helm-charts"),
    }
    assert all(version_problem(version) is None for version, _ in pins.values())


def test_everything_lives_in_namespace_prometheus() -> None:
    run = default_run()
    namespace = run.one("kubernetes:core/v1:Namespace")
    assert namespace.inputs["metadata"]["name"] == "prometheus"
    namespaced = [r for r in run.resources if r.type.startswith("kubernetes:") and r != namespace]
    assert namespaced
    for resource in namespaced:
        where = resource.inputs.get("namespace") or resource.inputs["metadata"]["namespace"]
        assert where == "prometheus", resource.name
    assert run.exports["namespace"] == "prometheus"


def test_releases_have_fixed_helm_names_and_roll_back_on_failure() -> None:
    for chart, name in (("kube-prometheus-stack", "kube-prometheus-stack"), ("alloy", "alloy")):
        inputs = release(default_run(), chart).inputs
        assert inputs["name"] == name
        assert inputs["atomic"] is True


# -- Prometheus -----------------------------------------------------------------------------


def test_prometheus_labels_its_cluster_keeps_seven_days_on_its_own_volume() -> None:
    spec = values(default_run(), "kube-prometheus-stack")["prometheus"]["prometheusSpec"]
    assert spec["externalLabels"] == {"clusterID": "c1"}
    assert spec["retention"] == "7d"
    claim = spec["storageSpec"]["volumeClaimTemplate"]["spec"]
    assert claim["resources"]["requests"]["storage"] == "50Gi"
    assert claim["accessModes"] == ["ReadWriteOnce"]
    assert "storageClassName" not in claim


def test_storage_retention_and_class_follow_the_args() -> None:
    run = run_monitoring(
        make_args(
            cluster_id="eu-7", prometheus_storage="200Gi", retention="3d12h", storage_class="gp3"
        )
    )
    spec = values(run, "kube-prometheus-stack")["prometheus"]["prometheusSpec"]
    assert spec["externalLabels"] == {"clusterID": "eu-7"}
    assert spec["retention"] == "3d12h"
    claim = spec["storageSpec"]["volumeClaimTemplate"]["spec"]
    assert (claim["resources"]["requests"]["storage"], claim["storageClassName"]) == (
        "200Gi",
        "gp3",
    )


def test_rules_and_monitors_of_every_namespace_are_selected_by_the_release_label() -> None:
    run = default_run()
    spec = values(run, "kube-prometheus-stack")["prometheus"]["prometheusSpec"]
    # The chart labels its own rules and monitors ``release: <helm release name>``.
    assert dict(RULE_SELECTOR_LABELS) == {
        "release": release(run, "kube-prometheus-stack").inputs["name"]
    }
    for kind in ("rule", "serviceMonitor", "podMonitor"):
        assert spec[f"{kind}SelectorNilUsesHelmValues"] is False
        assert spec[f"{kind}Selector"] == {"matchLabels": dict(RULE_SELECTOR_LABELS)}
        assert spec[f"{kind}NamespaceSelector"] == {}


def test_alertmanager_is_off_by_default_and_external_ones_receive_alerts() -> None:
    assert values(default_run(), "kube-prometheus-stack")["alertmanager"]["enabled"] is False
    spec = values(default_run(), "kube-prometheus-stack")["prometheus"]["prometheusSpec"]
    assert "additionalAlertManagerConfigs" not in spec
    run = run_monitoring(
        make_args(alertmanager=True, external_alertmanagers=("https://am.cnc.example.com/am",))
    )
    chart = values(run, "kube-prometheus-stack")
    assert chart["alertmanager"]["enabled"] is True
    assert chart["prometheus"]["prometheusSpec"]["additionalAlertManagerConfigs"] == [
        {
            "scheme": "https",
            "static_configs": [{"targets": ["am.cnc.example.com:443"]}],
            "path_prefix": "/am",
        }
    ]


# -- Thanos and IRSA ------------------------------------------------------------------------


def test_thanos_sidecar_reads_its_bucket_config_from_the_secret() -> None:
    run = default_run()
    thanos = values(run, "kube-prometheus-stack")["prometheus"]["prometheusSpec"]["thanos"]
    reference = thanos["objectStorageConfig"]["existingSecret"]
    secret = run.one(SECRET)
    assert secret.inputs["metadata"]["name"] == reference["name"] == "thanos-objstore-config"
    assert list(unwrap(secret.inputs["stringData"])) == [reference["key"]]
    assert objstore(run) == {
        "type": "S3",
        "config": {
            "bucket": BUCKET,
            "endpoint": "s3.eu-west-1.amazonaws.com",
            "region": "eu-west-1",
            "aws_sdk_auth": True,
        },
    }


def test_only_the_prometheus_service_account_of_this_cluster_can_assume_the_role() -> None:
    run = default_run()
    role = run.one(ROLE)
    account = values(run, "kube-prometheus-stack")["prometheus"]["serviceAccount"]
    assert account["create"] is True
    assert account["annotations"] == {"eks.amazonaws.com/role-arn": run.exports["thanos_role_arn"]}
    trust = json.loads(role.inputs["assumeRolePolicy"])
    assert trust["Statement"] == [
        {
            "Effect": "Allow",
            "Principal": {"Federated": OIDC_ARN},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": {
                    f"{ISSUER}:sub": f"system:serviceaccount:prometheus:{account['name']}",
                    f"{ISSUER}:aud": "sts.amazonaws.com",
                }
            },
        }
    ]


def test_the_role_may_touch_only_the_metrics_bucket() -> None:
    arn = "arn:aws:s3:::cloud-staging-prometheus-metrics"
    run = run_monitoring(make_args(metrics_bucket=arn.rsplit(":", 1)[1], metrics_bucket_arn=arn))
    (policy,) = run.of_type(ROLE_POLICY)
    assert policy.inputs["role"] == f"{run.one(ROLE).name}-id"
    document = json.loads(policy.inputs["policy"])
    actions, targets = set(), set()
    for statement in document["Statement"]:
        assert statement["Effect"] == "Allow"
        assert not {"NotAction", "NotResource"} & set(statement)
        actions |= set(statement["Action"])
        targets |= set(statement["Resource"])
    assert targets == {arn, f"{arn}/*"}
    assert {"s3:PutObject", "s3:GetObject", "s3:ListBucket"} <= actions
    assert all(action.startswith("s3:") and "*" not in action for action in actions)
    assert objstore(run)["config"]["bucket"] == "cloud-staging-prometheus-metrics"


_STATIC_KEY = re.compile(
    r"access_key|secret_key|session_token|aws_access_key_id|aws_secret_access_key|AKIA[0-9A-Z]{16}",
    re.IGNORECASE,
)


def test_no_static_keys_anywhere() -> None:
    run = default_run()
    assert not [r for r in run.resources if r.type.startswith("aws:iam/accessKey")]
    found = [(r.name, s) for r in run.resources for s in walk(r.inputs) if _STATIC_KEY.search(s)]
    assert found == []


def test_bucket_and_loki_url_may_be_outputs_of_the_central_stack() -> None:
    def program() -> None:
        ClusterMonitoring(
            NAME,
            make_args(
                metrics_bucket=pulumi.Output.from_input(BUCKET),
                metrics_bucket_arn=pulumi.Output.from_input(BUCKET_ARN),
                loki_push_url=pulumi.Output.from_input(LOKI),
            ),
        )

    run = run_under_mocks(program, project="sre-platform", stack="prod")
    assert objstore(run)["config"]["bucket"] == BUCKET
    assert f'url = "{LOKI}"' in values(run, "alloy")["alloy"]["configMap"]["content"]


# -- Alloy ----------------------------------------------------------------------------------


def test_alloy_pushes_this_nodes_pod_logs_to_loki_with_the_cluster_label() -> None:
    alloy = values(default_run(), "alloy")["alloy"]
    config = alloy["configMap"]["content"]
    assert alloy["configMap"]["create"] is True
    assert re.search(r'loki\.write "central" \{\s+endpoint \{\s+url = "' + re.escape(LOKI), config)
    assert re.search(r'external_labels = \{\s+clusterID = "c1",\s+\}', config)
    assert 'field = "spec.nodeName=" + env("NODE_NAME")' in config
    assert {
        "name": "NODE_NAME",
        "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}},
    } in alloy["extraEnv"]
    assert alloy["mounts"] == {"varlog": True}
    assert alloy["enableReporting"] is False


# -- scheduling and resources ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("chart", "workloads"),
    [("kube-prometheus-stack", KPS_WORKLOADS), ("alloy", ALLOY_WORKLOADS)],
)
def test_platform_pods_run_on_utilities_nodes_and_node_agents_on_every_node(
    chart: str, workloads: dict[tuple[str, ...], str]
) -> None:
    chart_values = values(default_run(), chart)
    for path, kind in workloads.items():
        block = at(chart_values, path)
        assert tolerates(block["tolerations"], UTILITIES_TAINT), path
        if kind == "platform":
            assert block["nodeSelector"] == {"node-group": "utilities"}, path
            assert not tolerates(block["tolerations"], OTHER_TAINT), path
        else:
            assert not block.get("nodeSelector"), path
            assert tolerates(block["tolerations"], OTHER_TAINT), path


def test_scheduling_follows_the_args() -> None:
    run = run_monitoring(
        make_args(
            node_selector={"pool": "observability"},
            tolerations=({"key": "pool", "operator": "Exists", "effect": "NoExecute"},),
        )
    )
    spec = values(run, "kube-prometheus-stack")["prometheus"]["prometheusSpec"]
    assert spec["nodeSelector"] == {"pool": "observability"}
    assert spec["tolerations"] == [{"key": "pool", "operator": "Exists", "effect": "NoExecute"}]


@pytest.mark.parametrize(
    ("chart", "paths"),
    [
        ("kube-prometheus-stack", (*KPS_WORKLOADS, *KPS_SIDECARS)),
        ("alloy", ALLOY_CONTAINERS),
    ],
)
def test_every_container_block_has_requests_and_limits(
    chart: str, paths: tuple[tuple[str, ...], ...]
) -> None:
    chart_values = values(default_run(), chart)
    for path in paths:
        resources = at(chart_values, path)["resources"]
        assert missing_resources(resources) == [], path


def test_prometheus_and_alloy_resources_follow_the_args() -> None:
    big = ComputeResources("2", "8Gi", "4", "16Gi")
    run = run_monitoring(make_args(prometheus_resources=big, alloy_resources=big))
    assert values(run, "kube-prometheus-stack")["prometheus"]["prometheusSpec"]["resources"] == {
        "requests": {"cpu": "2", "memory": "8Gi"},
        "limits": {"cpu": "4", "memory": "16Gi"},
    }
    assert values(run, "alloy")["alloy"]["resources"]["limits"] == {"cpu": "4", "memory": "16Gi"}


# -- structure, network policies, policy pack ------------------------------------------------


def test_every_child_is_parented_by_the_component_and_named_after_it() -> None:
    run = default_run()
    component = run.one(TYPE_TOKEN)
    children = [r for r in run.resources if r is not component]
    assert {r.parent for r in children} == {component.urn}
    assert all(r.name.startswith(f"{NAME}-") for r in children)


def test_two_clusters_in_one_program_do_not_collide() -> None:
    def program() -> None:
        for cluster in ("a", "b"):
            ClusterMonitoring(f"monitoring-{cluster}", make_args(cluster_id=cluster))

    run = run_under_mocks(program, project="sre-platform", stack="prod")
    urns = [r.urn for r in run.resources]
    assert len(urns) == len(set(urns)) == 2 * len(default_run().resources)


def test_network_policies_admit_only_the_namespace_and_the_webhook_and_block_metadata() -> None:
    run = default_run()
    specs = {r.inputs["metadata"]["name"]: r.inputs["spec"] for r in run.of_type(NETWORK_POLICY)}
    assert set(specs) == {
        "deny-other-namespaces",
        "allow-operator-webhook",
        "egress-block-metadata",
    }
    assert specs["deny-other-namespaces"]["ingress"] == [{"from": [{"podSelector": {}}]}]
    assert specs["allow-operator-webhook"]["ingress"] == [
        {"ports": [{"protocol": "TCP", "port": 10250}]}
    ]
    (egress,) = specs["egress-block-metadata"]["egress"]
    assert egress["to"][0]["ipBlock"] == {"cidr": "0.0.0.0/0", "except": ["169.254.169.254/32"]}


def test_query_namespaces_may_reach_prometheus_and_the_sidecar() -> None:
    run = run_monitoring(make_args(query_namespaces=("thanos",)))
    (policy,) = [
        r for r in run.of_type(NETWORK_POLICY) if r.inputs["metadata"]["name"] == "allow-query"
    ]
    (rule,) = policy.inputs["spec"]["ingress"]
    assert rule["from"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "thanos"}}}
    ]
    assert sorted(port["port"] for port in rule["ports"]) == [9090, 10901]


AM_HOST = "alertmanager.cnc.example.com"


@functools.cache
def exposed_run() -> MockRun:
    return run_monitoring(
        make_args(
            alertmanager=True,
            alertmanager_host=AM_HOST,
            ingress_class="internal-nginx",
            ingress_namespace="ingress-internal",
        )
    )


def policy_specs(run: MockRun) -> dict[str, Any]:
    return {r.inputs["metadata"]["name"]: r.inputs["spec"] for r in run.of_type(NETWORK_POLICY)}


def test_the_alertmanager_is_served_at_its_host_through_the_given_ingress_class() -> None:
    alertmanager = values(exposed_run(), "kube-prometheus-stack")["alertmanager"]
    # kube-prometheus-stack builds the rules from lists of hosts and paths (strings).
    assert alertmanager["ingress"] == {
        "enabled": True,
        "ingressClassName": "internal-nginx",
        "hosts": [AM_HOST],
        "paths": ["/"],
        "pathType": "Prefix",
        "tls": [{"secretName": "alertmanager-tls", "hosts": [AM_HOST]}],
    }
    assert alertmanager["alertmanagerSpec"]["externalUrl"] == f"https://{AM_HOST}"
    defaults = run_monitoring(make_args(alertmanager=True, alertmanager_host=AM_HOST))
    ingress = values(defaults, "kube-prometheus-stack")["alertmanager"]["ingress"]
    assert ingress["ingressClassName"] == "nginx"


def test_only_the_ingress_controllers_namespace_reaches_the_alertmanager_port() -> None:
    specs = policy_specs(exposed_run())
    policy = specs.pop("allow-ingress-alertmanager")
    assert policy["podSelector"] == {"matchLabels": {"app.kubernetes.io/name": "alertmanager"}}
    assert policy["policyTypes"] == ["Ingress"]
    assert policy["ingress"] == [
        {
            "from": [
                {
                    "namespaceSelector": {
                        "matchLabels": {"kubernetes.io/metadata.name": "ingress-internal"}
                    }
                }
            ],
            "ports": [{"protocol": "TCP", "port": 9093}],
        }
    ]
    # The namespace's other policies are those of an unexposed Alertmanager.
    assert specs == policy_specs(default_run())


@pytest.mark.parametrize("alertmanager", [False, True])
def test_without_a_host_nothing_is_exposed(alertmanager: bool) -> None:
    run = run_monitoring(make_args(alertmanager=alertmanager)) if alertmanager else default_run()
    chart = values(run, "kube-prometheus-stack")["alertmanager"]
    assert chart["ingress"] == {"enabled": False}
    assert "externalUrl" not in chart["alertmanagerSpec"]
    assert "allow-ingress-alertmanager" not in policy_specs(run)


@pytest.mark.parametrize("stack", ["prod", "staging", "dev"])
def test_the_policy_pack_passes_with_the_alertmanager_exposed(stack: str) -> None:
    run = run_monitoring(
        make_args(environment=stack, alertmanager=True, alertmanager_host=AM_HOST), stack=stack
    )
    report = evaluate(run.resources, stack=stack, config=SHIPPED, now=NOW)
    assert [(f.rule.id, f.resource_name, f.message) for f in report.findings] == []


@pytest.mark.parametrize("stack", ["prod", "staging", "dev"])
def test_the_policy_pack_passes(stack: str) -> None:
    run = run_monitoring(make_args(environment=stack), stack=stack)
    report = evaluate(run.resources, stack=stack, config=SHIPPED, now=NOW)
    assert [(f.rule.id, f.resource_name, f.message) for f in report.findings] == []
    assert {
        "k8s-namespace-network-policy",
        "helm-chart-pinned",
        "aws-required-tags",
    } <= report.applicable


def test_without_its_network_policies_the_pack_would_refuse_the_namespace() -> None:
    run = default_run()
    stripped = [r for r in run.resources if r.type != NETWORK_POLICY]
    report = evaluate(stripped, stack="prod", config=SHIPPED, now=NOW)
    assert [f.rule.id for f in report.blocking] == ["k8s-namespace-network-policy"]


# -- bad input ------------------------------------------------------------------------------

BAD_ARGS = [
    ({"cluster_id": "C_1"}, "cluster_id", "DNS label"),
    ({"environment": ""}, "environment", "must not be empty"),
    ({"metrics_bucket": "Bad_Bucket"}, "metrics_bucket", "S3 bucket name"),
    (
        {"metrics_bucket_arn": "arn:aws:s3:::other-bucket"},
        "metrics_bucket_arn",
        "of metrics_bucket",
    ),
    ({"metrics_bucket_arn": f"{BUCKET_ARN}/*"}, "metrics_bucket_arn", "not of objects"),
    ({"oidc_issuer": f"https://{ISSUER}"}, "oidc_issuer", "without https://"),
    (
        {
            "oidc_provider_arn": "arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/OTHER"
        },
        "oidc_provider_arn",
        "the same cluster",
    ),
    (
        {
            "oidc_issuer": "issuer.example.com/x",
            "oidc_provider_arn": "arn:aws:iam::123456789012:oidc-provider/issuer.example.com/x",
        },
        "bucket_region",
        "set bucket_region",
    ),
    ({"bucket_region": "Europe"}, "bucket_region", "AWS region"),
    ({"loki_push_url": "https://loki.example.com/"}, "loki_push_url", "/loki/api/v1/push"),
    (
        {"loki_push_url": "https://u:p@loki.example.com/loki/api/v1/push"},
        "loki_push_url",
        "no static keys",
    ),
    ({"loki_push_url": "ftp://loki.example.com/loki/api/v1/push"}, "loki_push_url", "http"),
    ({"external_alertmanagers": ("am.example.com",)}, "external_alertmanagers[0]", "http"),
    ({"prometheus_storage": "50G"}, "prometheus_storage", "50Gi"),
    ({"retention": "1h"}, "retention", "at least 2h"),
    ({"retention": "seven days"}, "retention", "Prometheus duration"),
    ({"storage_class": "GP3"}, "storage_class", "StorageClass"),
    ({"tolerations": ({"key": "x", "operator": "In"},)}, "tolerations[0]", "Equal or Exists"),
    ({"tolerations": ({"key": "x", "tolerationSeconds": "1"},)}, "tolerations[0]", "unknown keys"),
    ({"node_selector": {"node group": "x"}}, "node_selector", "label"),
    (
        {"prometheus_resources": ComputeResources("4", "2Gi", "2", "4Gi")},
        "prometheus_resources.cpu_request",
        "must not exceed the limit 2",
    ),
    (
        {"alloy_resources": ComputeResources("100m", "256MB", "1", "1Gi")},
        "alloy_resources.memory_request",
        "positive quantity",
    ),
    ({"query_namespaces": ("Thanos",)}, "query_namespaces[0]", "DNS label"),
    ({"team": ""}, "team", "AWS tag value"),
    ({"critical_log_namespaces": ("a|b",)}, "critical_log_namespaces[0]", "DNS label"),
    ({"alertmanager_config_secret": "routing"}, "alertmanager_config_secret", "alertmanager=True"),
    (
        {"alertmanager": True, "alertmanager_config_secret": "Routing!"},
        "alertmanager_config_secret",
        "Secret name",
    ),
    ({"alertmanager_host": "am.example.com"}, "alertmanager_host", "alertmanager=True"),
    (
        {"alertmanager": True, "alertmanager_host": "https://am.example.com"},
        "alertmanager_host",
        "DNS host name",
    ),
    ({"alertmanager": True, "alertmanager_host": "am"}, "alertmanager_host", "DNS host name"),
    (
        {"alertmanager": True, "alertmanager_host": "am.example.com", "ingress_class": "Nginx"},
        "ingress_class",
        "IngressClass name",
    ),
    (
        {
            "alertmanager": True,
            "alertmanager_host": "am.example.com",
            "ingress_namespace": "ingress_nginx",
        },
        "ingress_namespace",
        "DNS label",
    ),
]


@pytest.mark.parametrize(("overrides", "field", "fragment"), BAD_ARGS)
def test_bad_args_give_one_clear_error_before_anything_is_declared(
    overrides: dict[str, Any], field: str, fragment: str
) -> None:
    errors: list[ClusterMonitoringError] = []

    def program() -> None:
        try:
            ClusterMonitoring(NAME, make_args(**overrides))
        except ClusterMonitoringError as error:
            errors.append(error)

    run = run_under_mocks(program, project="sre-platform", stack="prod")
    assert run.resources == []
    (error,) = errors
    message = str(error)
    assert error.field == field
    assert message.startswith(f"invalid {field} ")
    assert fragment in message
    assert "\n" not in message


def test_a_bad_component_name_is_refused() -> None:
    with pytest.raises(ClusterMonitoringError, match=r"^invalid name 'Monitoring C1': "):
        run_monitoring(make_args(), name="Monitoring C1")


# -- what the central stack relies on -------------------------------------------------------


def test_the_cnc_alertmanager_reads_the_central_routing_secret() -> None:
    run = run_monitoring(make_args(alertmanager=True, alertmanager_config_secret="routing"))
    spec = values(run, "kube-prometheus-stack")["alertmanager"]["alertmanagerSpec"]
    assert (spec["useExistingSecret"], spec["configSecret"]) == (True, "routing")
    default = values(default_run(), "kube-prometheus-stack")["alertmanager"]["alertmanagerSpec"]
    assert "configSecret" not in default


def test_the_sidecar_service_exists_only_for_query_namespaces() -> None:
    assert values(default_run(), "kube-prometheus-stack")["prometheus"]["thanosService"] == {
        "enabled": False
    }
    run = run_monitoring(make_args(query_namespaces=("observability",)))
    assert values(run, "kube-prometheus-stack")["prometheus"]["thanosService"] == {"enabled": True}


def _rule_blocks(config: str) -> list[str]:
    return re.findall(r"rule \{(.*?)\}", config, flags=re.DOTALL)


def test_critical_namespaces_and_labelled_pods_get_the_critical_retention_label() -> None:
    config = values(
        run_monitoring(make_args(critical_log_namespaces=("mattermost", "kube-system"))), "alloy"
    )["alloy"]["configMap"]["content"]
    retention_rules = [
        rule for rule in _rule_blocks(config) if 'target_label  = "retention"' in rule
    ]
    assert len(retention_rules) == 2
    pod_rule, namespace_rule = retention_rules
    assert '["__meta_kubernetes_pod_label_sre_platform_log_retention"]' in pod_rule
    assert 'regex         = "critical"' in pod_rule
    assert 'regex         = "mattermost|kube-system"' in namespace_rule
    assert all('replacement   = "critical"' in rule for rule in retention_rules)
    default = values(default_run(), "alloy")["alloy"]["configMap"]["content"]
    assert "mattermost" not in default
