"""GitOpsPlatform under Pulumi mocks: chart, HA, SSO, RBAC, secrets, clusters, apps.

The workload list below is this test's own reading of the argo-cd chart (which values
block configures which pods), not the component's, so a block it forgets fails here.
"""

from __future__ import annotations

import functools
import json
from dataclasses import replace
from typing import Any

import pulumi
import pytest
import yaml

from components.gitops import (
    TYPE_TOKEN,
    GitOpsApp,
    GitOpsCluster,
    GitOpsPlatform,
    GitOpsPlatformArgs,
    GitOpsPlatformError,
    GitOpsProject,
    GroupBinding,
    HelmParameter,
    IgnoreDifference,
    LabelRequirement,
    LabelSelector,
    OidcSettings,
    Permission,
    RbacRole,
    RepositoryCredential,
    ResourceKind,
    RootApp,
    SyncPolicy,
    ValuesRepository,
)
from components.gitops.documents import matching_clusters
from components.observability.cluster_monitoring import RULE_SELECTOR_LABELS
from policies.evaluate import evaluate, load_settings
from policies.rules.helm import version_problem
from stacks.mock_engine import DeclaredResource, MockRun, SecretValue, run_under_mocks
from tests.components.crd_schema import crd_problems
from tests.components.mock_values import plain, plain_strings
from tests.conftest import NOW, REPO_ROOT

NAME = "gitops-prod"
ACCOUNT = "123456789012"
ISSUER = "oidc.eks.eu-west-1.amazonaws.com/id/CNC0TEST"
CLIENT_SECRET = "oidc-Client-S3cret-7fQ2xLp9"
WEBHOOK_URL = "https://chat.example.com/hooks/mm8xk2p0qwhook"
REPO_PASSWORD = "ghp_" + "A1b2C3d4" * 5
SSH_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk\n-----END OPENSSH PRIVATE KEY-----"
SHIPPED = load_settings(REPO_ROOT / "policies").config
CA = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUMvakNDQWVhZ0F3SUJBZ0lCQURBTkJna3Foa2lHOXcwQkFRc0ZBREFWTVJNd0VRWURWUVFECg=="

RELEASE = "kubernetes:helm.sh/v3:Release"
SECRET = "kubernetes:core/v1:Secret"
NAMESPACE = "kubernetes:core/v1:Namespace"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
CUSTOM = {
    "Application": "kubernetes:argoproj.io/v1alpha1:Application",
    "ApplicationSet": "kubernetes:argoproj.io/v1alpha1:ApplicationSet",
    "AppProject": "kubernetes:argoproj.io/v1alpha1:AppProject",
}
CRD_FILES = {
    "Application": "argoproj.io_applications.yaml",
    "ApplicationSet": "argoproj.io_applicationsets.yaml",
    "AppProject": "argoproj.io_appprojects.yaml",
}
SECRET_TYPE = "argocd.argoproj.io/secret-type"
# The chart's values blocks that run containers (this test's reading of the chart).
WORKLOAD_BLOCKS = ("controller", "repoServer", "server", "applicationSet", "notifications")


def cluster(cluster_id: str, type_: str, **labels: str) -> GitOpsCluster:
    return GitOpsCluster(
        name=f"cloud-prod-{cluster_id}",
        cluster_id=cluster_id,
        type=type_,  # type: ignore[arg-type]
        server=f"https://{cluster_id.upper()}.gr7.eu-west-1.eks.amazonaws.com",
        ca_data=CA,
        role_arn=f"arn:aws:iam::{ACCOUNT}:role/argocd-deployer-{cluster_id}",
        labels=labels,
    )


CLUSTERS = (
    cluster("cnc-01", "cnc"),
    cluster("cust-01", "customer", region="eu-west-1"),
    cluster("cust-02", "customer", region="us-east-1", backup="disabled"),
)
VALUES_REPO = ValuesRepository("https://git.example.com/sre/values.git", "0" * 40)
ALLOY_SELECTOR = LabelSelector(
    {"cluster-type": "customer"},
    (
        LabelRequirement("region", "In", ("eu-west-1", "eu-central-1")),
        LabelRequirement("backup", "NotIn", ("disabled",)),
    ),
)
APPS = (
    GitOpsApp(
        name="kube-prometheus-stack",
        project="observability",
        repo_url="https://prometheus-community.github.io/helm-charts",
        chart="kube-prometheus-stack",
        revision="65.1.1",
        destination_namespace="prometheus",
        cluster_selector=LabelSelector({"cluster-type": "customer"}),
        values_files=("values/kps.yaml",),
        values_from=VALUES_REPO,
        release_name="kube-prometheus-stack",
        helm_parameters=(
            HelmParameter(
                "prometheus.prometheusSpec.externalLabels.clusterID",
                '{{index .metadata.labels "cluster-id"}}',
            ),
        ),
        sync_policy=SyncPolicy(
            automated=True, self_heal=True, sync_options=("ServerSideApply=true",)
        ),
        ignore_differences=(
            IgnoreDifference(
                kind="MutatingWebhookConfiguration",
                group="admissionregistration.k8s.io",
                jq_path_expressions=(".webhooks[]?.clientConfig.caBundle",),
            ),
        ),
    ),
    GitOpsApp(
        name="alloy",
        project="observability",
        repo_url="https://git.example.com/sre/gitops.git",
        path="charts/alloy",
        revision="v1.4.0",
        destination_namespace="prometheus",
        values_files=("values/alloy.yaml",),
        cluster_selector=ALLOY_SELECTOR,
    ),
)


def make_args(**overrides: Any) -> GitOpsPlatformArgs:
    """Must be called inside the mock run: the secret inputs are Outputs."""
    base = GitOpsPlatformArgs(
        environment="prod",
        url="https://argocd.example.com",
        oidc=OidcSettings(
            name="Keycloak",
            issuer="https://sso.example.com/realms/sre",
            client_id="argocd",
            client_secret=pulumi.Output.secret(CLIENT_SECRET),
        ),
        oidc_provider_arn=f"arn:aws:iam::{ACCOUNT}:oidc-provider/{ISSUER}",
        oidc_issuer=ISSUER,
        mattermost_webhook_url=pulumi.Output.secret(WEBHOOK_URL),
        clusters=CLUSTERS,
        apps=APPS,
        projects=(
            GitOpsProject(
                "observability",
                "Per-cluster observability utilities",
                cluster_resources=(
                    ResourceKind("apiextensions.k8s.io", "CustomResourceDefinition"),
                ),
            ),
        ),
        root_app=RootApp("https://git.example.com/sre/gitops.git", "bootstrap/prod", "v1.0.0"),
        repositories=(
            RepositoryCredential(
                "gitops",
                "https://git.example.com/sre",
                username="argocd",
                password=pulumi.Output.secret(REPO_PASSWORD),
            ),
            RepositoryCredential(
                "charts",
                "git@git.example.com:sre/charts.git",
                ssh_private_key=pulumi.Output.secret(SSH_KEY),
                template=False,
            ),
        ),
        group_bindings=(
            GroupBinding("sre", "admin"),
            GroupBinding("developers", "deployer"),
        ),
        roles=(
            RbacRole(
                "deployer",
                (Permission("applications", "sync", "observability/*"),),
            ),
        ),
        high_availability=True,
        protect=True,
    )
    return replace(base, **overrides)


def run(stack: str = "prod", **overrides: Any) -> MockRun:
    def program() -> None:
        GitOpsPlatform(NAME, make_args(**overrides))

    return run_under_mocks(program, project="sre-platform", stack=stack)


@functools.cache
def prod() -> MockRun:
    return run()


@functools.cache
def dev() -> MockRun:
    return run("dev", environment="dev", high_availability=False, protect=False)


def values(mock: MockRun) -> dict[str, Any]:
    return mock.one(RELEASE).inputs["values"]  # type: ignore[no-any-return]


def secret_named(mock: MockRun, name: str) -> DeclaredResource:
    (found,) = [s for s in mock.of_type(SECRET) if s.inputs["metadata"]["name"] == name]
    return found


def document(resource: DeclaredResource) -> dict[str, Any]:
    return {key: resource.inputs[key] for key in ("apiVersion", "kind", "metadata", "spec")}


# -- chart -------------------------------------------------------------------------------------


def test_the_chart_is_argo_cd_pinned_to_an_exact_version_in_argocd() -> None:
    release = prod().one(RELEASE)
    assert release.inputs["chart"] == "argo-cd"
    assert release.inputs["repositoryOpts"] == {"repo": "https://argoproj.github.io/argo-helm"}
    assert version_problem(release.inputs["version"]) is None
    assert release.inputs["namespace"] == "argocd"
    assert prod().one(NAMESPACE).inputs["metadata"]["name"] == "argocd"


def test_high_availability_follows_the_args() -> None:
    ha, single = values(prod()), values(dev())
    for block in ("controller", "repoServer", "server", "applicationSet"):
        assert ha[block]["replicas"] >= 2, block
        assert single[block]["replicas"] == 1, block
    assert ha["redis-ha"]["enabled"] is True
    assert single["redis-ha"]["enabled"] is False


def test_every_workload_has_requests_and_limits_and_runs_on_utilities_nodes() -> None:
    chart = values(prod())
    blocks = [chart[b]["resources"] for b in WORKLOAD_BLOCKS]
    blocks += [chart["redis"]["resources"], chart["redisSecretInit"]["resources"]]
    blocks += [chart["repoServer"]["copyutil"]["resources"]]
    blocks += [chart["redis-ha"][b]["resources"] for b in ("redis", "sentinel", "haproxy")]
    for resources in blocks:
        for section in ("requests", "limits"):
            assert set(resources[section]) == {"cpu", "memory"}, resources
    assert chart["global"]["nodeSelector"] == {"node-group": "utilities"}
    assert chart["global"]["tolerations"][0]["value"] == "utilities"
    assert chart["redis-ha"]["haproxy"]["nodeSelector"] == {"node-group": "utilities"}
    assert chart["dex"] == {"enabled": False}


def test_service_monitors_carry_the_labels_cluster_monitoring_selects() -> None:
    chart = values(prod())
    for block in WORKLOAD_BLOCKS:
        metrics = chart[block]["metrics"]
        assert metrics["enabled"] is True, block
        assert metrics["serviceMonitor"]["enabled"] is True, block
        assert metrics["serviceMonitor"]["additionalLabels"] == dict(RULE_SELECTOR_LABELS)


# -- SSO and RBAC ------------------------------------------------------------------------------


def test_oidc_references_the_client_secret_and_never_holds_it() -> None:
    mock = prod()
    oidc = yaml.safe_load(values(mock)["configs"]["cm"]["oidc.config"])
    assert oidc["issuer"] == "https://sso.example.com/realms/sre"
    assert oidc["clientID"] == "argocd"
    assert oidc["clientSecret"] == "$argocd-oidc:clientSecret"
    holder = secret_named(mock, "argocd-oidc")
    assert holder.inputs["metadata"]["labels"]["app.kubernetes.io/part-of"] == "argocd"
    assert isinstance(holder.inputs["stringData"], SecretValue)
    assert plain(holder.inputs["stringData"]) == {"clientSecret": CLIENT_SECRET}
    assert values(mock)["configs"]["cm"]["admin.enabled"] is False


def test_rbac_is_read_only_by_default_with_the_declared_lines() -> None:
    rbac = values(prod())["configs"]["rbac"]
    assert rbac["policy.default"] == "role:readonly"
    assert rbac["policy.csv"].splitlines() == [
        "p, role:deployer, applications, sync, observability/*, allow",
        "g, sre, role:admin",
        "g, developers, role:deployer",
    ]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"group_bindings": (GroupBinding("sre", "superuser"),)}, "group_bindings[0].role"),
        ({"roles": (RbacRole("admin", (Permission("applications", "get"),)),)}, "roles[0].name"),
        (
            {"roles": (RbacRole("x", (Permission("pods", "get"),)),)},
            "roles[0].permissions[0].resource",
        ),
        (
            {"roles": (RbacRole("x", (Permission("applications", "nuke"),)),)},
            "roles[0].permissions[0].action",
        ),
        ({"environment": "Prod"}, "environment"),
        ({"url": "http://argocd.example.com"}, "url"),
        ({"clusters": (replace(CLUSTERS[0], role_arn="token-abc"),)}, "clusters[0].role_arn"),
        (
            {"clusters": (replace(CLUSTERS[0], labels={"cluster-id": "x"}),)},
            "clusters[0].labels",
        ),
        ({"clusters": (CLUSTERS[0], CLUSTERS[0])}, "clusters[].name"),
        ({"apps": (replace(APPS[0], project="nope"),)}, "apps[0].project"),
        ({"apps": (replace(APPS[0], path="charts/x"),)}, "apps[0].chart/path"),
        (
            {"apps": (replace(APPS[0], cluster_selector=LabelSelector()),)},
            "apps[0].cluster_selector",
        ),
        (
            {
                "apps": (
                    replace(
                        APPS[0],
                        cluster_selector=LabelSelector(
                            match_expressions=(LabelRequirement("region", "In"),)
                        ),
                    ),
                )
            },
            "apps[0].cluster_selector.match_expressions[0]",
        ),
        (
            {
                "apps": (
                    replace(
                        APPS[0],
                        cluster_selector=LabelSelector(
                            match_expressions=(LabelRequirement("region", "Exists", ("x",)),)
                        ),
                    ),
                )
            },
            "apps[0].cluster_selector.match_expressions[0]",
        ),
        (
            {
                "apps": (
                    replace(
                        APPS[0],
                        cluster_selector=LabelSelector(
                            match_expressions=(
                                LabelRequirement("region", "Matches", ("x",)),  # type: ignore[arg-type]
                            )
                        ),
                    ),
                )
            },
            "apps[0].cluster_selector.match_expressions[0]",
        ),
        (
            {"apps": (replace(APPS[0], cluster_selector=LabelSelector({"region": "a b"})),)},
            "apps[0].cluster_selector.match_labels[region]",
        ),
        ({"apps": (replace(APPS[0], values_files=()),)}, "apps[0].values_from"),
        (
            {"apps": (replace(APPS[0], values_from=ValuesRepository("http://x.example", "v1")),)},
            "apps[0].values_from.repo_url",
        ),
        ({"apps": (replace(APPS[0], release_name="Kube_Prom"),)}, "apps[0].release_name"),
        (
            {"clusters": (replace(CLUSTERS[0], annotations={"bad key!": "x"}),)},
            "clusters[0].annotations",
        ),
        (
            {"apps": (replace(APPS[1], sync_policy=SyncPolicy(prune=True)),)},
            "apps[0].sync_policy",
        ),
        ({"apps": (replace(APPS[0], name="a" * 50),)}, "apps[0].name"),
        (
            {"repositories": (RepositoryCredential("r", "https://git.example.com"),)},
            "repositories[0]",
        ),
        ({"oidc_issuer": "oidc.example.com/other"}, "oidc_provider_arn"),
    ],
)
def test_bad_inputs_are_refused_naming_the_input(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(GitOpsPlatformError) as caught:
        run(**overrides)
    assert str(caught.value).startswith(f"invalid {field} ")
    assert caught.value.field == field


# -- secrets -----------------------------------------------------------------------------------


def test_no_credential_appears_in_plain_in_any_input() -> None:
    for resource in prod().resources:
        for text in plain_strings(resource.inputs):
            for credential in (CLIENT_SECRET, WEBHOOK_URL, REPO_PASSWORD, SSH_KEY):
                assert credential not in text, resource.name


def test_repository_credentials_are_labelled_secrets() -> None:
    mock = prod()
    template = secret_named(mock, "repo-gitops")
    assert template.inputs["metadata"]["labels"][SECRET_TYPE] == "repo-creds"
    data = template.inputs["stringData"]
    assert isinstance(data, SecretValue)
    assert plain(data) == {
        "type": "git",
        "url": "https://git.example.com/sre",
        "username": "argocd",
        "password": REPO_PASSWORD,
    }
    one = secret_named(mock, "repo-charts")
    assert one.inputs["metadata"]["labels"][SECRET_TYPE] == "repository"
    assert isinstance(one.inputs["stringData"], SecretValue)
    assert plain(one.inputs["stringData"])["sshPrivateKey"] == SSH_KEY


def test_notifications_post_to_the_webhook_from_the_secret() -> None:
    mock = prod()
    notifications = values(mock)["notifications"]
    assert notifications["secret"] == {"create": False}
    service = yaml.safe_load(notifications["notifiers"]["service.webhook.mattermost"])
    assert service["url"] == "$mattermost-webhook-url"
    holder = secret_named(mock, "argocd-notifications-secret")
    assert plain(holder.inputs["stringData"]) == {"mattermost-webhook-url": WEBHOOK_URL}
    assert isinstance(holder.inputs["stringData"], SecretValue)
    (subscription,) = notifications["subscriptions"]
    assert subscription == {
        "recipients": ["mattermost"],
        "triggers": ["on-sync-failed", "on-health-degraded"],
    }
    for trigger in subscription["triggers"]:
        (rule,) = yaml.safe_load(notifications["triggers"][f"trigger.{trigger}"])
        (template,) = rule["send"]
        body = yaml.safe_load(notifications["templates"][f"template.{template}"])
        assert body["webhook"]["mattermost"]["method"] == "POST"
        assert body["webhook"]["mattermost"]["body"].startswith('{"text": {{ toJson (printf ')


# -- clusters ----------------------------------------------------------------------------------


def cluster_secrets(mock: MockRun) -> list[DeclaredResource]:
    return [
        s
        for s in mock.of_type(SECRET)
        if s.inputs["metadata"]["labels"].get(SECRET_TYPE) == "cluster"
    ]


def test_every_cluster_secret_has_its_labels_and_iam_authentication() -> None:
    found = {plain(s.inputs["stringData"])["name"]: s for s in cluster_secrets(prod())}
    assert set(found) == {c.name for c in CLUSTERS}
    for registered in CLUSTERS:
        secret = found[registered.name]
        data = plain(secret.inputs["stringData"])
        labels = secret.inputs["metadata"]["labels"]
        assert labels["cluster-type"] == registered.type
        assert labels["cluster-id"] == registered.cluster_id
        assert registered.labels.items() <= labels.items()
        assert data["server"] == registered.server
        config = json.loads(data["config"])
        assert config == {
            "awsAuthConfig": {"clusterName": registered.name, "roleARN": registered.role_arn},
            "tlsClientConfig": {"insecure": False, "caData": CA},
        }


def test_no_static_cluster_token_anywhere() -> None:
    secrets = cluster_secrets(prod())
    assert len(secrets) == len(CLUSTERS)
    for secret in secrets:
        data = plain(secret.inputs["stringData"])
        assert set(data) == {"name", "server", "config"}
        config = json.loads(data["config"])
        assert set(config) == {"awsAuthConfig", "tlsClientConfig"}
        assert set(config["tlsClientConfig"]) == {"insecure", "caData"}
    for resource in prod().resources:
        texts = list(plain_strings(plain(resource.inputs)))
        assert not any("bearerToken" in text or "execProviderConfig" in text for text in texts)


def test_argo_cd_role_may_assume_only_the_clusters_roles() -> None:
    mock = prod()
    policy = json.loads(mock.one("aws:iam/rolePolicy:RolePolicy").inputs["policy"])
    (statement,) = policy["Statement"]
    assert statement["Action"] == "sts:AssumeRole"
    assert statement["Resource"] == sorted(c.role_arn for c in CLUSTERS)
    trust = json.loads(mock.one("aws:iam/role:Role").inputs["assumeRolePolicy"])
    subjects = trust["Statement"][0]["Condition"]["StringEquals"][f"{ISSUER}:sub"]
    assert subjects == [
        "system:serviceaccount:argocd:argocd-application-controller",
        "system:serviceaccount:argocd:argocd-server",
    ]
    annotations = values(mock)["controller"]["serviceAccount"]["annotations"]
    assert annotations["eks.amazonaws.com/role-arn"].startswith("arn:aws:")


# -- applications ------------------------------------------------------------------------------


def test_every_argo_cd_object_validates_against_the_upstream_crds() -> None:
    mock = prod()
    checked = 0
    for kind, type_token in CUSTOM.items():
        for resource in mock.of_type(type_token):
            assert crd_problems(document(resource), CRD_FILES[kind]) == [], resource.name
            checked += 1
    assert checked == 5  # observability + bootstrap projects, two sets, the root app


def test_a_misspelt_field_fails_the_crd_validation() -> None:
    """The check above can fail: an unknown field in a spec is refused."""
    resource = prod().one(CUSTOM["ApplicationSet"], f"{NAME}-appset-alloy")
    broken = document(resource)
    broken["spec"] = {**broken["spec"], "goTemplates": True}
    assert crd_problems(broken, CRD_FILES["ApplicationSet"]) != []


def test_application_sets_select_clusters_by_label_and_name_apps_per_cluster() -> None:
    resource = prod().one(CUSTOM["ApplicationSet"], f"{NAME}-appset-kube-prometheus-stack")
    spec = resource.inputs["spec"]
    assert spec["goTemplate"] is True
    assert spec["generators"] == [
        {"clusters": {"selector": {"matchLabels": {"cluster-type": "customer"}}}}
    ]
    template = spec["template"]
    assert (
        template["metadata"]["name"]
        == 'kube-prometheus-stack-sre-prod-{{index .metadata.labels "cluster-id"}}'
    )
    assert template["spec"]["destination"] == {"name": "{{.name}}", "namespace": "prometheus"}
    assert template["spec"]["syncPolicy"] == {
        "automated": {"prune": False, "selfHeal": True},
        "syncOptions": ["ServerSideApply=true"],
    }


def test_a_chart_reads_its_value_files_from_the_values_repository_as_a_second_source() -> None:
    resource = prod().one(CUSTOM["ApplicationSet"], f"{NAME}-appset-kube-prometheus-stack")
    template = resource.inputs["spec"]["template"]["spec"]
    assert "source" not in template
    assert template["sources"] == [
        {
            "repoURL": "https://prometheus-community.github.io/helm-charts",
            "targetRevision": "65.1.1",
            "chart": "kube-prometheus-stack",
            "helm": {
                "releaseName": "kube-prometheus-stack",
                "valueFiles": ["$values/values/kps.yaml"],
                "parameters": [
                    {
                        "name": "prometheus.prometheusSpec.externalLabels.clusterID",
                        "value": '{{index .metadata.labels "cluster-id"}}',
                    }
                ],
            },
        },
        {"repoURL": VALUES_REPO.repo_url, "targetRevision": VALUES_REPO.revision, "ref": "values"},
    ]


def test_a_path_source_reads_value_files_from_its_own_checkout() -> None:
    path_app = replace(APPS[1], name="local", values_from=None)
    resource = run(apps=(path_app,)).one(CUSTOM["ApplicationSet"], f"{NAME}-appset-local")
    assert resource.inputs["spec"]["template"]["spec"]["source"] == {
        "repoURL": "https://git.example.com/sre/gitops.git",
        "targetRevision": "v1.4.0",
        "path": "charts/alloy",
        "helm": {"valueFiles": ["values/alloy.yaml"]},
    }


def test_match_expressions_reach_the_cluster_generator_as_kubernetes_writes_them() -> None:
    resource = prod().one(CUSTOM["ApplicationSet"], f"{NAME}-appset-alloy")
    assert resource.inputs["spec"]["generators"] == [
        {
            "clusters": {
                "selector": {
                    "matchLabels": {"cluster-type": "customer"},
                    "matchExpressions": [
                        {
                            "key": "region",
                            "operator": "In",
                            "values": ["eu-west-1", "eu-central-1"],
                        },
                        {"key": "backup", "operator": "NotIn", "values": ["disabled"]},
                    ],
                }
            }
        }
    ]


@pytest.mark.parametrize(
    ("requirement", "selected"),
    [
        (LabelRequirement("region", "In", ("us-east-1",)), ["cust-02"]),
        # NotIn also holds where the key is absent (the cnc cluster has no region).
        (LabelRequirement("region", "NotIn", ("us-east-1",)), ["cnc-01", "cust-01"]),
        (LabelRequirement("backup", "Exists"), ["cust-02"]),
        (LabelRequirement("backup", "DoesNotExist"), ["cnc-01", "cust-01"]),
        (LabelRequirement("cluster-id", "Exists"), ["cnc-01", "cust-01", "cust-02"]),
    ],
)
def test_clusters_are_matched_with_kubernetes_semantics(
    requirement: LabelRequirement, selected: list[str]
) -> None:
    selector = LabelSelector(match_expressions=(requirement,))
    assert [c.cluster_id for c in matching_clusters(selector, CLUSTERS)] == selected


def test_projects_limit_sources_and_destinations_to_their_apps() -> None:
    spec = prod().one(CUSTOM["AppProject"], f"{NAME}-project-observability").inputs["spec"]
    # Every repository an Application reads, the values repository included.
    assert spec["sourceRepos"] == sorted({*(app.repo_url for app in APPS), VALUES_REPO.repo_url})
    # kube-prometheus-stack on both customer clusters; alloy only on cust-01 (cust-02 is
    # in us-east-1 and opts out of backups): same namespace.
    assert spec["destinations"] == [
        {"name": "cloud-prod-cust-01", "namespace": "prometheus"},
        {"name": "cloud-prod-cust-02", "namespace": "prometheus"},
    ]
    assert spec["clusterResourceWhitelist"] == [
        {"group": "apiextensions.k8s.io", "kind": "CustomResourceDefinition"}
    ]


def test_project_destinations_follow_match_expressions() -> None:
    only_alloy = run(apps=(APPS[1],)).one(CUSTOM["AppProject"], f"{NAME}-project-observability")
    assert only_alloy.inputs["spec"]["destinations"] == [
        {"name": "cloud-prod-cust-01", "namespace": "prometheus"}
    ]


def test_cluster_annotations_reach_the_cluster_secret() -> None:
    role = f"arn:aws:iam::{ACCOUNT}:role/thanos-cust-01"
    annotated = replace(CLUSTERS[1], annotations={"sre-platform/thanos-role-arn": role})
    mock = run(clusters=(CLUSTERS[0], annotated, CLUSTERS[2]))
    secrets = {s.inputs["metadata"]["name"]: s for s in cluster_secrets(mock)}
    assert secrets["cluster-cust-01"].inputs["metadata"]["annotations"] == {
        "sre-platform/thanos-role-arn": role
    }
    assert "annotations" not in secrets["cluster-cust-02"].inputs["metadata"]


def test_the_root_app_bootstraps_from_git_into_argocd_only() -> None:
    mock = prod()
    root = mock.one(CUSTOM["Application"], f"{NAME}-root").inputs["spec"]
    assert root["source"] == {
        "repoURL": "https://git.example.com/sre/gitops.git",
        "path": "bootstrap/prod",
        "targetRevision": "v1.0.0",
    }
    assert root["syncPolicy"]["automated"]["prune"] is False
    project = mock.one(CUSTOM["AppProject"], f"{NAME}-project-bootstrap").inputs["spec"]
    assert project["destinations"] == [
        {"server": "https://kubernetes.default.svc", "namespace": "argocd"}
    ]


def test_argo_cd_objects_wait_for_the_chart() -> None:
    mock = prod()
    release = mock.one(RELEASE)
    for type_token in CUSTOM.values():
        for resource in mock.of_type(type_token):
            assert release.urn in resource.dependencies, resource.name


# -- names, parents, policy pack ---------------------------------------------------------------


def test_children_are_named_after_the_component_and_parented_to_it() -> None:
    mock = prod()
    component = mock.one(TYPE_TOKEN, NAME)
    children = [r for r in mock.resources if r.type != TYPE_TOKEN]
    assert len(children) > 10
    for resource in children:
        assert resource.parent == component.urn, resource.name
        assert resource.name.startswith(f"{NAME}-"), resource.name


def test_the_namespace_has_network_policies() -> None:
    mock = prod()
    namespace = mock.one(NAMESPACE)
    policies = mock.of_type(NETWORK_POLICY)
    assert policies
    assert all(namespace.urn in p.property_dependencies["metadata"] for p in policies)


def test_the_production_policy_pack_passes_on_everything_declared() -> None:
    report = evaluate(prod().resources, stack="prod", config=SHIPPED, now=NOW)
    assert report.tier == "production"
    assert [(f.rule.id, f.resource_name, f.message) for f in report.findings] == []
    for rule in (
        "aws-required-tags",
        "production-stateful-protected",
        "k8s-namespace-network-policy",
        "helm-chart-pinned",
    ):
        assert rule in report.applicable


def test_without_its_network_policies_the_pack_would_fail() -> None:
    """The pack run above can fail: the namespace alone, unguarded, does."""
    unguarded = [r for r in prod().resources if r.type != NETWORK_POLICY]
    report = evaluate(unguarded, stack="prod", config=SHIPPED, now=NOW)
    assert "k8s-namespace-network-policy" in {f.rule.id for f in report.blocking}


def test_the_namespace_is_protected_when_asked() -> None:
    assert prod().one(NAMESPACE).protect is True
    assert dev().one(NAMESPACE).protect is False
