"""The platform stacks dev, staging and prod, run under mocks from their stack files."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from change_mgmt.environments.render import (
    RENDER_SECRET_PLACEHOLDERS,
    check_declared,
    project_config,
    with_secret_keys,
)
from change_mgmt.gitops.apps import Application, ValuesRepo
from change_mgmt.gitops.clusters import Cluster
from change_mgmt.gitops.load import GitOpsEnvironment
from components.gitops import (
    GitOpsPlatformArgs,
    LabelRequirement,
    LabelSelector,
    OidcSettings,
    ValuesRepository,
)
from components.gitops import documents as gitops_documents
from components.gitops.validation import validate as validate_gitops
from policies.config import PACK_DIR
from policies.evaluate import load_settings
from stacks import mock_engine
from stacks.gitops_args import (
    GitOpsDataError,
    GitOpsInventory,
    argo_cd_charts,
    gitops_inventory,
    inventory_of,
)
from stacks.mock_engine import MockRun, SecretValue, run_under_mocks
from stacks.platform_config import StackConfigError
from stacks.platform_stack_config import PLATFORM_STACKS, SECRET_KEYS
from stacks.program import run_stack
from tests.components.crd_schema import crd_problems
from tests.conftest import REPO_ROOT

SECRETS = list(RENDER_SECRET_PLACEHOLDERS)
MONITORING = "sre:observability:ClusterMonitoring"
NAMESPACE = "kubernetes:core/v1:Namespace"
STATEFUL = ("aws:s3/bucket:Bucket", "aws:rds/cluster:Cluster", "aws:rds/clusterInstance:")


def _config(stack: str, **overrides: Any) -> dict[str, str]:
    config = project_config(REPO_ROOT, stack)
    for key, value in overrides.items():
        full = f"sre-platform:{key}"
        if value is None:
            config.pop(full, None)
        else:
            config[full] = value if isinstance(value, str) else json.dumps(value)
    return config


def _run(
    stack: str, config: dict[str, str] | None = None, secret_keys: list[str] = SECRETS
) -> MockRun:
    return run_under_mocks(
        with_secret_keys(lambda: run_stack(REPO_ROOT), secret_keys),
        project="sre-platform",
        stack=stack,
        config=_config(stack) if config is None else config,
        preview=True,
    )


def _clusters(stack: str) -> list[dict[str, Any]]:
    return list(json.loads(project_config(REPO_ROOT, stack)["sre-platform:clusters"]))


@pytest.fixture(scope="module", params=PLATFORM_STACKS)
def rendered(request: pytest.FixtureRequest) -> MockRun:
    return _run(str(request.param))


def test_every_stack_file_disables_the_default_providers() -> None:
    for stack in PLATFORM_STACKS:
        document = yaml.safe_load((REPO_ROOT / f"Pulumi.{stack}.yaml").read_text("utf-8"))
        disabled = document["config"]["pulumi:disable-default-providers"]
        assert isinstance(disabled, list) and "kubernetes" in disabled, stack


def test_one_kubernetes_provider_per_cluster_and_one_aws_provider(rendered: MockRun) -> None:
    providers = rendered.of_type("pulumi:providers:kubernetes")
    clusters = _clusters(rendered.stack)
    assert sorted(p.name for p in providers) == sorted(f"k8s-{c['id']}" for c in clusters)
    contexts = {p.name: p.inputs.get("context") for p in providers}
    assert contexts == {f"k8s-{c['id']}": c["kubeContext"] for c in clusters}
    (aws,) = rendered.of_type("pulumi:providers:aws")
    # A provider's list settings travel as JSON text.
    assert json.loads(aws.inputs["allowedAccountIds"]) == ["000000000000"]


def test_every_kubernetes_and_aws_resource_names_its_provider(rendered: MockRun) -> None:
    """The families whose default providers the stack files disable (random needs none)."""
    provider_urns = {r.urn: r.name for r in rendered.resources if r.type.startswith("pulumi:")}
    custom = [r for r in rendered.resources if r.type.startswith(("kubernetes:", "aws:"))]
    assert any(r.type.startswith("kubernetes:") for r in custom)
    for resource in custom:
        urn = resource.provider.rpartition("::")[0]
        assert urn in provider_urns, f"{resource.type} {resource.name}: {resource.provider!r}"
        family = resource.type.split(":", 1)[0]
        assert provider_urns[urn].startswith("k8s-" if family == "kubernetes" else family)


def _argo_cd_charts(stack: str) -> dict[str, frozenset[str]]:
    return argo_cd_charts(gitops_inventory(REPO_ROOT, stack))


def test_each_cluster_gets_monitoring_and_slo_rules_through_its_own_provider(
    rendered: MockRun,
) -> None:
    by_urn = {r.urn: r for r in rendered.resources}
    by_argo_cd = _argo_cd_charts(rendered.stack)
    for cluster in _clusters(rendered.stack):
        monitoring = rendered.one(MONITORING, f"monitoring-{cluster['id']}")
        children = rendered.children_of(monitoring.urn)
        assert {r.type for r in children} >= {NAMESPACE, "aws:iam/role:Role", SECRET}
        for child in children:
            provider = by_urn[child.provider.rpartition("::")[0]]
            family = child.type.split(":", 1)[0]
            assert provider.name == (
                f"k8s-{cluster['id']}" if family == "kubernetes" else f"aws-{rendered.stack}"
            )
        releases = [r for r in children if r.type == RELEASE]
        assert len(releases) == 2 - len(by_argo_cd.get(cluster["id"], ()))
        rule = rendered.one(
            "kubernetes:monitoring.coreos.com/v1:PrometheusRule",
            f"slo-rules-{cluster['id']}-mattermost-api",
        )
        assert by_urn[rule.provider.rpartition("::")[0]].name == f"k8s-{cluster['id']}"
    (central,) = rendered.of_type("sre:observability:CentralObservability")
    cnc = next(c for c in _clusters(rendered.stack) if c["type"] == "cnc")
    database = rendered.one("aws:rds/cluster:Cluster")
    assert database.parent == central.urn
    grafana = next(r for r in rendered.resources if r.name.endswith("-grafana"))
    assert by_urn[grafana.provider.rpartition("::")[0]].name == f"k8s-{cnc['id']}"


def _alertmanager_values(run: MockRun, cluster_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """``alertmanager`` and ``prometheus.prometheusSpec`` of a cluster's chart values."""
    release = run.one(
        "kubernetes:helm.sh/v3:Release", f"monitoring-{cluster_id}-kube-prometheus-stack"
    )
    chart = release.inputs["values"]
    return chart["alertmanager"], chart["prometheus"]["prometheusSpec"]


def test_customer_clusters_send_alerts_to_the_cnc_alertmanager_behind_its_ingress(
    rendered: MockRun,
) -> None:
    """Where ClusterMonitoring installs kube-prometheus-stack; where Argo CD does, the
    values repository's environment file carries the same alerting target."""
    host = project_config(REPO_ROOT, rendered.stack)["sre-platform:alertmanagerHost"]
    assert host == f"alertmanager.{rendered.stack}.placeholder.example.com"
    clusters = _clusters(rendered.stack)
    by_argo_cd = _argo_cd_charts(rendered.stack)
    pulumi_owned = [
        c for c in clusters if "kube-prometheus-stack" not in by_argo_cd.get(c["id"], ())
    ]
    assert [c["type"] for c in pulumi_owned] == ["cnc"]
    alertmanager, prometheus = _alertmanager_values(rendered, pulumi_owned[0]["id"])
    assert alertmanager["enabled"] is True
    assert alertmanager["ingress"]["enabled"] is True
    assert alertmanager["ingress"]["hosts"] == [host]
    assert "additionalAlertManagerConfigs" not in prometheus
    assert any(c["type"] == "customer" for c in clusters) == (rendered.stack != "dev")


def test_customer_clusters_without_argo_cd_send_alerts_to_the_cnc_alertmanager(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With no GitOps delivery, ClusterMonitoring installs the charts on every cluster."""
    real = gitops_inventory(REPO_ROOT, "prod")
    others = tuple(a for a in real.apps if a.chart not in ("kube-prometheus-stack", "alloy"))
    monkeypatch.setattr(
        "stacks.platform.gitops_inventory",
        lambda project_dir, env: dataclasses.replace(real, apps=others),
    )
    run = _run("prod")
    host = "alertmanager.prod.placeholder.example.com"
    for cluster in _clusters("prod"):
        if cluster["type"] == "customer":
            alertmanager, prometheus = _alertmanager_values(run, cluster["id"])
            assert alertmanager["enabled"] is False
            assert alertmanager["ingress"] == {"enabled": False}
            assert prometheus["additionalAlertManagerConfigs"] == [
                {"scheme": "https", "static_configs": [{"targets": [f"{host}:443"]}]}
            ]


@pytest.mark.parametrize("unset", [None, ""], ids=["removed", "empty default"])
def test_customer_clusters_without_alertmanager_host_name_the_command(unset: str | None) -> None:
    with pytest.raises(StackConfigError) as error:
        _run("prod", _config("prod", alertmanagerHost=unset))
    assert (
        "sre-platform:alertmanagerHost: customer clusters send their alerts to the cnc "
        "cluster's Alertmanager: set it to its hostname behind the cnc cluster's ingress "
        "(set it with `pulumi config set sre-platform:alertmanagerHost <value>`)"
    ) in str(error.value)


def test_a_single_cluster_stack_needs_no_alertmanager_host() -> None:
    (cluster,) = _clusters("dev")
    run = _run("dev", _config("dev", alertmanagerHost=""))
    alertmanager, prometheus = _alertmanager_values(run, cluster["id"])
    assert alertmanager["enabled"] is True
    assert alertmanager["ingress"] == {"enabled": False}
    assert "additionalAlertManagerConfigs" not in prometheus


def test_a_bad_alertmanager_host_names_the_key() -> None:
    with pytest.raises(StackConfigError) as error:
        _run("staging", _config("staging", alertmanagerHost="https://am.example.com"))
    assert "sre-platform:alertmanagerHost: String should match pattern" in str(error.value)


def _secret_values(value: Any) -> list[Any]:
    if isinstance(value, SecretValue):
        return [value.value]
    if isinstance(value, dict):
        return [v for item in value.values() for v in _secret_values(item)]
    if isinstance(value, list):
        return [v for item in value for v in _secret_values(item)]
    return []


def _plain_strings(value: Any) -> list[str]:
    if isinstance(value, SecretValue):
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _plain_strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in _plain_strings(item)]
    return []


def test_secrets_stay_secret_in_every_input(rendered: MockRun) -> None:
    secrets = [RENDER_SECRET_PLACEHOLDERS[f"sre-platform:{key}"] for key in SECRET_KEYS]
    seen_secret = False
    for resource in rendered.resources:
        for text in _plain_strings(resource.inputs):
            leaked = [s for s in secrets if s in text and s != "render-placeholder"]
            assert not leaked, f"{resource.type} {resource.name} holds a secret in clear"
            assert "render-placeholder" not in text, f"{resource.name} holds a password"
        seen_secret |= any("render-placeholder" in str(v) for v in _secret_values(resource.inputs))
    assert seen_secret  # the secrets did reach resources, as secrets


def test_prod_protects_what_holds_data_and_dev_does_not() -> None:
    prod, dev = _run("prod"), _run("dev")
    stateful = [r for r in prod.resources if r.type.startswith(STATEFUL)]
    assert len(stateful) >= 4 and all(r.protect for r in stateful)
    assert not any(r.protect for r in dev.resources)


def test_the_pack_passes_for_every_platform_stack(rendered: MockRun) -> None:
    settings = load_settings(REPO_ROOT / PACK_DIR, shown_dir=PACK_DIR)
    report = check_declared(rendered, settings)
    assert report.passed, [f.message for f in report.blocking]
    if rendered.stack == "prod":
        assert report.tier == "production" and not report.findings


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            {"accountId": "12345"},
            "sre-platform:accountId: String should match pattern '^[0-9]{12}$' "
            "(set it with `pulumi config set sre-platform:accountId <value>`)",
        ),
        (
            {"environment": None},
            "sre-platform:environment: Field required "
            "(set it with `pulumi config set sre-platform:environment <value>`)",
        ),
        (
            {"lokiHost": None},
            "sre-platform:lokiHost: customer clusters push their logs to the cnc cluster's "
            "Loki: set it to its hostname behind the cnc cluster's ingress "
            "(set it with `pulumi config set sre-platform:lokiHost <value>`)",
        ),
        (
            {"clusters": [{"id": "a", "type": "hub"}]},
            "sre-platform:clusters[0].type: Input should be 'cnc' or 'customer' "
            "(set it with `pulumi config set --path 'sre-platform:clusters[0].type' <value>`)",
        ),
    ],
)
def test_bad_config_names_the_key_and_the_command(overrides: dict[str, Any], expected: str) -> None:
    with pytest.raises(StackConfigError) as error:
        _run("prod", _config("prod", **overrides))
    assert expected in str(error.value)


def test_exactly_one_cnc_cluster_and_oidc_in_the_stacks_account() -> None:
    clusters = _clusters("prod")
    customers_only = [{**c, "type": "customer"} for c in clusters]
    with pytest.raises(StackConfigError, match="exactly one cluster must be of type cnc"):
        _run("prod", _config("prod", clusters=customers_only))
    elsewhere = [
        {
            **clusters[0],
            "oidcProviderArn": clusters[0]["oidcProviderArn"].replace(
                "000000000000", "111111111111"
            ),
        }
    ]
    with pytest.raises(StackConfigError, match=r"clusters\[0\].oidcProviderArn is in account"):
        _run("prod", _config("prod", clusters=elsewhere))


def test_a_plain_value_where_a_secret_belongs_is_refused() -> None:
    with pytest.raises(StackConfigError) as error:
        _run("prod", secret_keys=[k for k in SECRETS if not k.endswith("grafanaAdminPassword")])
    assert "sre-platform:grafanaAdminPassword: is plain config" in str(
        error.value
    ) and "`pulumi config set --secret sre-platform:grafanaAdminPassword <password>`" in str(
        error.value
    )


def test_a_missing_secret_names_the_secret_command() -> None:
    config = _config("prod")
    del config["sre-platform:alertOnCallWebhookUrl"]
    with pytest.raises(StackConfigError, match="alertOnCallWebhookUrl: not set"):
        _run("prod", config)


def test_a_bad_webhook_url_names_its_key_and_never_the_value() -> None:
    config = _config("prod", alertSreChannelWebhookUrl="http://chat.example.com/hooks/s3cr3t")
    with pytest.raises(StackConfigError) as error:
        _run("prod", config)
    assert "sre-platform:alertSreChannelWebhookUrl: must start with https://" in str(error.value)
    assert "s3cr3t" not in str(error.value)


def test_a_real_update_refuses_the_placeholder_account() -> None:
    def real(stack: str) -> MockRun:
        return run_under_mocks(
            with_secret_keys(lambda: run_stack(REPO_ROOT), SECRETS),
            project="sre-platform",
            stack=stack,
            config={**_config(stack), "sre-platform:gateReceiptSigners": "[]"},
            preview=False,
        )

    with pytest.raises(Exception, match="accountId"):
        real("dev")


def test_an_eks_cluster_is_reached_with_a_token_from_aws_eks_get_token(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    found = {
        "endpoint": "https://ABC.gr7.us-east-1.eks.amazonaws.com",
        "certificateAuthorities": [{"data": "Q0EtREFUQQ=="}],
    }
    monkeypatch.setattr(mock_engine._RecordingMocks, "call", lambda self, args: found)
    clusters = _clusters("dev")
    eks = [
        {k: v for k, v in clusters[0].items() if k != "kubeContext"}
        | {"eksClusterName": "cloud-dev-cnc"}
    ]
    run = _run("dev", _config("dev", clusters=eks))
    (provider,) = run.of_type("pulumi:providers:kubernetes")
    kubeconfig = provider.inputs["kubeconfig"]
    document = json.loads(kubeconfig.value if isinstance(kubeconfig, SecretValue) else kubeconfig)
    assert document["clusters"][0]["cluster"]["server"] == found["endpoint"]
    assert document["users"][0]["user"]["exec"]["args"][-4:] == [
        "--cluster-name",
        "cloud-dev-cnc",
        "--output",
        "json",
    ]


# GitOps inventory (stacks/gitops_args.py): gitops/ of each environment, as the
# GitOpsPlatform component takes it.


def _gitops_file(environment: str, kind: str) -> dict[str, Any]:
    path = REPO_ROOT / "gitops" / kind / f"{environment}.yaml"
    return dict(yaml.safe_load(path.read_text("utf-8")))


@pytest.mark.parametrize("environment", PLATFORM_STACKS)
def test_every_registered_cluster_becomes_a_component_cluster(environment: str) -> None:
    inventory = gitops_inventory(REPO_ROOT, environment)
    listed = _gitops_file(environment, "clusters")["clusters"]
    assert [c.name for c in inventory.clusters] == [c["name"] for c in listed]
    for cluster, entry in zip(inventory.clusters, listed, strict=True):
        assert (cluster.type, cluster.role_arn, cluster.server) == (
            entry["type"],
            entry["roleArn"],
            entry["server"],
        )
        # cluster-type and cluster-id come back from the component's own labels.
        assert gitops_documents.cluster_labels(cluster) == entry["labels"]


@pytest.mark.parametrize("environment", PLATFORM_STACKS)
def test_the_component_accepts_the_inventory_and_every_app_is_accounted_for(
    environment: str,
) -> None:
    inventory = gitops_inventory(REPO_ROOT, environment)
    listed = [a["name"] for a in _gitops_file(environment, "apps")["applications"]]
    assert sorted([a.name for a in inventory.apps] + list(inventory.left_out)) == sorted(listed)
    validate_gitops(f"gitops-{environment}", _gitops_args(environment, inventory))


def _gitops_args(environment: str, inventory: GitOpsInventory) -> GitOpsPlatformArgs:
    return GitOpsPlatformArgs(
        environment=environment,
        url=f"https://argocd.{environment}.placeholder.example.com",
        oidc=OidcSettings("SSO", "https://sso.placeholder.example.com", "argocd", "secret"),
        oidc_provider_arn="arn:aws:iam::000000000000:oidc-provider/oidc.example.com/id/X",
        oidc_issuer="oidc.example.com/id/X",
        mattermost_webhook_url="https://chat.example.com/hooks/x",
        clusters=inventory.clusters,
        apps=inventory.apps,
        projects=inventory.projects,
    )


def _environment(apps: list[dict[str, Any]], values_repo: bool) -> GitOpsEnvironment:
    cluster = _gitops_file("dev", "clusters")["clusters"][0]
    return GitOpsEnvironment(
        "dev",
        (Cluster.model_validate(cluster),),
        tuple(Application.model_validate(app) for app in apps),
        ValuesRepo(repoURL="https://git.example.com/sre/gitops.git", revision="v1")
        if values_repo
        else None,
    )


_PATH_APP = {
    "name": "team-api",
    "project": "team-a",
    "repoURL": "https://git.example.com/team-a/api.git",
    "path": "deploy",
    "revision": "v1.2.3",
    "valueFiles": ["values/dev.yaml"],
    "namespace": "team-a",
    "clusterSelector": {"matchLabels": {"cluster-type": "cnc"}},
    "syncPolicy": {"automated": True, "selfHeal": True},
    "ignoreDifferences": [{"group": "apps", "kind": "Deployment", "jsonPointers": ["/x"]}],
}


def test_a_matchlabels_app_becomes_an_application_set_in_its_teams_project() -> None:
    inventory = inventory_of(_environment([_PATH_APP], values_repo=True))
    (app,) = inventory.apps
    assert (app.name, app.project, app.path, app.chart) == ("team-api", "team-a", "deploy", None)
    assert (app.revision, app.destination_namespace) == ("v1.2.3", "team-a")
    assert app.values_files == ("values/dev.yaml",)
    assert app.cluster_selector == LabelSelector({"cluster-type": "cnc"})
    # A path source reads its value files from its own checkout: one source.
    assert app.values_from is None
    assert (app.sync_policy.automated, app.sync_policy.prune, app.sync_policy.self_heal) == (
        True,
        False,
        True,
    )
    (ignored,) = app.ignore_differences
    assert (ignored.group, ignored.kind, ignored.json_pointers) == ("apps", "Deployment", ("/x",))
    assert [p.name for p in inventory.projects] == ["team-a"]
    assert inventory.left_out == {}


def test_match_expressions_and_values_from_the_values_repo_are_declared() -> None:
    expressions = _PATH_APP | {
        "name": "everywhere",
        "clusterSelector": {
            "matchLabels": {"cluster-type": "cnc"},
            "matchExpressions": [{"key": "backup", "operator": "NotIn", "values": ["off"]}],
        },
    }
    values_from_repo = _PATH_APP | {
        "name": "chart-app",
        "path": None,
        "chart": "podinfo",
        "repoURL": "https://stefanprodan.github.io/podinfo",
    }
    inventory = inventory_of(_environment([expressions, values_from_repo], values_repo=True))
    assert inventory.left_out == {}
    everywhere, chart_app = inventory.apps
    assert everywhere.cluster_selector == LabelSelector(
        {"cluster-type": "cnc"}, (LabelRequirement("backup", "NotIn", ("off",)),)
    )
    assert chart_app.values_from == ValuesRepository("https://git.example.com/sre/gitops.git", "v1")
    # An app whose chart is not one ClusterMonitoring installs gets no handover.
    assert (chart_app.release_name, chart_app.helm_parameters) == (None, ())
    # Without valuesRepo the loader refuses chart valueFiles; built by hand, the app is
    # left out rather than declared without its values.
    alone = inventory_of(_environment([values_from_repo], values_repo=False))
    assert alone.apps == ()
    assert "valuesRepo" in alone.left_out["chart-app"]


@pytest.mark.parametrize("environment", PLATFORM_STACKS)
def test_every_shipped_application_is_declared(environment: str) -> None:
    inventory = gitops_inventory(REPO_ROOT, environment)
    listed = [a["name"] for a in _gitops_file(environment, "apps")["applications"]]
    assert inventory.left_out == {}
    assert [a.name for a in inventory.apps] == listed


def test_projects_get_the_cluster_resources_the_data_allows() -> None:
    inventory = gitops_inventory(REPO_ROOT, "prod")
    (sre,) = inventory.projects
    declared = _gitops_file("prod", "apps")["projects"]
    (entry,) = [p for p in declared if p["name"] == "sre"]
    assert [(k.group, k.kind) for k in sre.cluster_resources] == [
        (k["group"], k["kind"]) for k in entry["clusterResources"]
    ]
    assert ("apiextensions.k8s.io", "CustomResourceDefinition") in {
        (k.group, k.kind) for k in sre.cluster_resources
    }
    assert all("*" not in (k.group, k.kind) for k in sre.cluster_resources)


def test_a_bad_gitops_file_is_a_file_line_field_error(tmp_path: Path) -> None:
    (tmp_path / "gitops" / "clusters").mkdir(parents=True)
    source = (REPO_ROOT / "gitops" / "clusters" / "dev.yaml").read_text("utf-8")
    broken = source.replace("type: customer", "type: customr", 1)
    assert broken != source
    (tmp_path / "gitops" / "clusters" / "dev.yaml").write_text(broken, "utf-8")
    with pytest.raises(GitOpsDataError) as caught:
        gitops_inventory(tmp_path, "dev")
    line = broken.splitlines().index("    type: customr") + 1
    assert f"gitops/clusters/dev.yaml:{line}" in str(caught.value)
    assert "type" in str(caught.value)


# GitOpsPlatform in the cnc cluster of every platform stack.

GITOPS = "sre:gitops:GitOpsPlatform"
SECRET = "kubernetes:core/v1:Secret"
RELEASE = "kubernetes:helm.sh/v3:Release"
APPLICATION_SET = "kubernetes:argoproj.io/v1alpha1:ApplicationSet"
APP_PROJECT = "kubernetes:argoproj.io/v1alpha1:AppProject"


def _cnc(stack: str) -> str:
    return str(next(c["id"] for c in _clusters(stack) if c["type"] == "cnc"))


def test_argo_cd_and_a_cluster_secret_per_registered_cluster_in_the_cnc_cluster(
    rendered: MockRun,
) -> None:
    stack = rendered.stack
    component = rendered.one(GITOPS, f"gitops-{stack}")
    children = rendered.children_of(component.urn)
    cnc_provider = f"k8s-{_cnc(stack)}"
    kubernetes = [r for r in children if r.type.startswith("kubernetes:")]
    assert kubernetes and all(r.provider.split("::")[-2] == cnc_provider for r in kubernetes)
    monitoring = rendered.one("sre:observability:ClusterMonitoring", f"monitoring-{_cnc(stack)}")
    # depends_on a component means on its children: kube-prometheus-stack's release first.
    releases = [r.urn for r in rendered.children_of(monitoring.urn) if r.type == RELEASE]
    assert releases and set(releases) <= set(component.dependencies)
    (release,) = [r for r in children if r.type == RELEASE]
    assert release.inputs["chart"] == "argo-cd"
    registered = [c["name"] for c in _gitops_file(stack, "clusters")["clusters"]]
    secrets = {
        r.name: r.inputs["metadata"]["labels"]
        for r in children
        if r.type == SECRET and r.name.startswith(f"gitops-{stack}-cluster-")
    }
    assert sorted(secrets) == sorted(f"gitops-{stack}-cluster-{name}" for name in registered)
    assert all(labels["argocd.argoproj.io/secret-type"] == "cluster" for labels in secrets.values())


@pytest.mark.parametrize(("stack", "replicas"), [("dev", 1), ("staging", 2), ("prod", 2)])
def test_argo_cd_is_highly_available_in_staging_and_prod(stack: str, replicas: int) -> None:
    release = _run(stack).one(RELEASE, f"gitops-{stack}-argo-cd")
    values = release.inputs["values"]
    assert values["controller"]["replicas"] == replicas
    assert values["repoServer"]["replicas"] == replicas
    assert values["redis-ha"]["enabled"] is (replicas > 1)


def test_admin_groups_get_admin_and_everyone_else_read_only() -> None:
    release = _run("prod").one(RELEASE, "gitops-prod-argo-cd")
    rbac = release.inputs["values"]["configs"]["rbac"]
    assert rbac["policy.default"] == "role:readonly"
    assert "g, sre-admins, role:admin" in rbac["policy.csv"]


def test_every_shipped_application_is_an_application_set_in_the_cnc_cluster(
    rendered: MockRun,
) -> None:
    stack = rendered.stack
    listed = [a["name"] for a in _gitops_file(stack, "apps")["applications"]]
    appsets = rendered.of_type(APPLICATION_SET)
    assert sorted(a.name for a in appsets) == sorted(f"gitops-{stack}-appset-{n}" for n in listed)
    assert {a.provider.split("::")[-2] for a in appsets} == {f"k8s-{_cnc(stack)}"}
    assert [p.name for p in rendered.of_type(APP_PROJECT)] == [f"gitops-{stack}-project-sre"]
    for appset in appsets:
        assert crd_problems(_document(appset), "argoproj.io_applicationsets.yaml") == []
    project = rendered.one(APP_PROJECT, f"gitops-{stack}-project-sre")
    assert crd_problems(_document(project), "argoproj.io_appprojects.yaml") == []


def _document(resource: Any) -> dict[str, Any]:
    return {key: resource.inputs[key] for key in ("apiVersion", "kind", "metadata", "spec")}


def test_the_extra_application_of_a_team_gets_its_own_project(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = gitops_inventory(REPO_ROOT, "dev")
    extra = inventory_of(_environment([_PATH_APP], values_repo=False))
    combined = GitOpsInventory(
        real.clusters, real.projects + extra.projects, real.apps + extra.apps, real.left_out
    )
    monkeypatch.setattr("stacks.platform.gitops_inventory", lambda project_dir, env: combined)
    run = _run("dev")
    appset = run.one(APPLICATION_SET, "gitops-dev-appset-team-api")
    assert appset.provider.split("::")[-2] == "k8s-cnc-dev"
    assert sorted(p.name for p in run.of_type(APP_PROJECT)) == [
        "gitops-dev-project-sre",
        "gitops-dev-project-team-a",
    ]


# One owner per chart and cluster (components/observability/cluster_monitoring_handover.py).


def _delivered_by_argo_cd(run: MockRun) -> dict[str, set[str]]:
    """Cluster name → charts an ApplicationSet of the run sends there, computed from the
    declared generators and cluster Secrets (this test's own reading, not the stack's)."""
    labels = {
        s.inputs["metadata"]["name"].removeprefix("cluster-"): s.inputs["metadata"]["labels"]
        for s in run.of_type(SECRET)
        if s.inputs["metadata"]["labels"].get("argocd.argoproj.io/secret-type") == "cluster"
    }
    found: dict[str, set[str]] = {}
    for appset in run.of_type(APPLICATION_SET):
        spec = appset.inputs["spec"]
        template = spec["template"]["spec"]
        chart = (template.get("sources") or [template.get("source")])[0].get("chart")
        (generator,) = spec["generators"]
        selector = generator["clusters"]["selector"]
        for name, cluster_labels in labels.items():
            if _selects(selector, cluster_labels):
                found.setdefault(name, set()).add(chart)
    return found


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    for key, value in selector.get("matchLabels", {}).items():
        if labels.get(key) != value:
            return False
    for item in selector.get("matchExpressions", []):
        key, operator, values = item["key"], item["operator"], item.get("values", [])
        ok = {
            "In": key in labels and labels[key] in values,
            "NotIn": key not in labels or labels[key] not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }[operator]
        if not ok:
            return False
    return True


@pytest.mark.parametrize("stack", PLATFORM_STACKS)
def test_no_cluster_gets_a_monitoring_chart_from_both_pulumi_and_argo_cd(stack: str) -> None:
    run = _run(stack)
    by_argo_cd = _delivered_by_argo_cd(run)
    checked = 0
    for cluster in _clusters(stack):
        for chart in ("kube-prometheus-stack", "alloy"):
            by_pulumi = [
                r for r in run.of_type(RELEASE) if r.name == f"monitoring-{cluster['id']}-{chart}"
            ]
            argo = chart in by_argo_cd.get(cluster["id"], set())
            assert len(by_pulumi) + argo == 1, (cluster["id"], chart)
            checked += 1
    assert checked == 2 * len(_clusters(stack))
    # The customer clusters of staging and prod get both charts from Argo CD.
    customers = [c["id"] for c in _clusters(stack) if c["type"] == "customer"]
    assert all(by_argo_cd[c] >= {"kube-prometheus-stack", "alloy"} for c in customers)


def test_argo_cd_gets_the_per_cluster_values_clustermonitoring_would_have_set() -> None:
    run = _run("prod")
    appset = run.one(APPLICATION_SET, "gitops-prod-appset-kube-prometheus-stack")
    chart, values = appset.inputs["spec"]["template"]["spec"]["sources"]
    assert values["ref"] == "values"
    helm = chart["helm"]
    assert helm["releaseName"] == "kube-prometheus-stack"
    assert helm["valueFiles"] == [
        "$values/values/kube-prometheus-stack/common.yaml",
        "$values/values/kube-prometheus-stack/prod.yaml",
    ]
    parameters = {p["name"]: p["value"] for p in helm["parameters"]}
    assert parameters["prometheus.serviceAccount.annotations.eks\\.amazonaws\\.com/role-arn"] == (
        '{{index .metadata.annotations "sre-platform/thanos-role-arn"}}'
    )
    assert parameters["prometheus.prometheusSpec.externalLabels.clusterID"] == (
        '{{index .metadata.labels "cluster-id"}}'
    )
    # The annotations the templates read are on the monitored cluster's Secret.
    secret = run.one(SECRET, "gitops-prod-cluster-customer-prod-1")
    annotations = secret.inputs["metadata"]["annotations"]
    role = run.one("aws:iam/role:Role", "monitoring-customer-prod-1-thanos")
    assert annotations["sre-platform/thanos-role-arn"] == (
        f"arn:aws:mock:us-east-1:000000000000:{role.name}"
    )
    assert role.urn in secret.property_dependencies["metadata"]
    storage = next(c for c in _clusters("prod") if c["id"] == "customer-prod-1")
    assert annotations["sre-platform/prometheus-storage"] == storage.get(
        "prometheusStorage", "50Gi"
    )
    # A cluster registered with Argo CD only has no ClusterMonitoring, so no annotations.
    alone = run.one(SECRET, "gitops-prod-cluster-customer-prod-2")
    assert "annotations" not in alone.inputs["metadata"]


def test_argo_cd_may_not_take_over_the_cnc_clusters_prometheus(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = gitops_inventory(REPO_ROOT, "prod")
    everywhere = tuple(
        dataclasses.replace(a, cluster_selector=LabelSelector({"region": "us-east-1"}))
        if a.chart == "kube-prometheus-stack"
        else a
        for a in real.apps
    )
    monkeypatch.setattr(
        "stacks.platform.gitops_inventory",
        lambda project_dir, env: dataclasses.replace(real, apps=everywhere),
    )
    with pytest.raises(StackConfigError) as error:
        _run("prod")
    message = str(error.value)
    assert "cluster 'cnc-prod'" in message
    assert "kube-prometheus-stack" in message


def test_prod_protects_argo_cds_namespace() -> None:
    for stack, protected in (("prod", True), ("dev", False)):
        namespace = _run(stack).one("kubernetes:core/v1:Namespace", f"gitops-{stack}-namespace")
        assert namespace.protect is protected, stack


def test_the_oidc_client_secret_must_be_a_secret() -> None:
    with pytest.raises(StackConfigError) as error:
        _run("prod", secret_keys=[k for k in SECRETS if not k.endswith("argocdOidcClientSecret")])
    assert "sre-platform:argocdOidcClientSecret: is plain config" in str(error.value)
    config = _config("prod")
    del config["sre-platform:argocdOidcClientSecret"]
    with pytest.raises(StackConfigError, match="argocdOidcClientSecret: not set"):
        _run("prod", config)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            {"argocdHost": None},
            "sre-platform:argocdHost: Field required "
            "(set it with `pulumi config set sre-platform:argocdHost <value>`)",
        ),
        (
            {"argocdOidcIssuer": "sso.example.com"},
            "sre-platform:argocdOidcIssuer: String should match pattern",
        ),
        (
            {"argocdAdminGroups": [""]},
            "sre-platform:argocdAdminGroups[0]: String should have at least 1 character "
            "(set it with `pulumi config set --path 'sre-platform:argocdAdminGroups[0]' <value>`)",
        ),
    ],
)
def test_bad_argo_cd_config_names_the_key(overrides: dict[str, Any], expected: str) -> None:
    with pytest.raises(StackConfigError) as error:
        _run("prod", _config("prod", **overrides))
    assert expected in str(error.value)
