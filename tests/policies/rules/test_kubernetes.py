"""The Kubernetes rules over hand-built resources, and over a shipped test environment."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from change_mgmt.environments.render import render_environment
from policies.config import DEFAULT_CONFIG
from policies.evaluate import as_resource
from policies.model import NOT_APPLICABLE, UNKNOWN, Resource, RuleContext, Violation
from policies.rules import helm, protection, test_environments
from policies.rules.kubernetes import (
    RULES,
    container_resources,
    image_pinned,
    image_problem,
    namespace_network_policy,
    no_privileged,
)

REPO_ROOT = Path(__file__).resolve().parents[3]
NOW = datetime(2026, 11, 27, tzinfo=UTC)
TEST_CTX = RuleContext(stack="env-demo", tier="test", config=DEFAULT_CONFIG, now=NOW)
PROD_CTX = RuleContext(stack="prod-us-east-1", tier="production", config=DEFAULT_CONFIG, now=NOW)
PARENT = "urn:pulumi:env-demo::sre-platform::sre:environments:TestEnvironment::demo"
MATTERMOST = "kubernetes:installation.mattermost.com/v1beta1:Mattermost"
DIGEST = "sha256:" + "a1" * 32


def urn(type_: str, name: str) -> str:
    return f"urn:pulumi:env-demo::sre-platform::sre:environments:TestEnvironment${type_}::{name}"


def resource(
    type_: str,
    name: str,
    inputs: dict[str, Any],
    *,
    property_dependencies: dict[str, tuple[str, ...]] | None = None,
) -> Resource:
    return Resource(
        type=type_,
        name=name,
        urn=urn(type_, name),
        inputs=inputs,
        parent=PARENT,
        property_dependencies=property_dependencies or {},
    )


def container(name: str = "app", image: str = "mattermost/app:10.11.2", **extra: Any) -> dict:
    spec: dict[str, Any] = {
        "name": name,
        "image": image,
        "resources": {
            "requests": {"cpu": "150m", "memory": "256Mi"},
            "limits": {"cpu": "300m", "memory": "512Mi"},
        },
    }
    spec.update(extra)
    return spec


def pod_spec(*containers: dict, **extra: Any) -> dict[str, Any]:
    return {"containers": list(containers) or [container()], **extra}


def deployment(name: str = "demo-app", spec: Any = None) -> Resource:
    return resource(
        "kubernetes:apps/v1:Deployment",
        name,
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "namespace": "demo"},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": {"app": name}},
                    "spec": pod_spec() if spec is None else spec,
                },
            },
        },
    )


def cronjob(spec: dict[str, Any]) -> Resource:
    return resource(
        "kubernetes:batch/v1:CronJob",
        "demo-cleanup",
        {
            "metadata": {"name": "cleanup", "namespace": "demo"},
            "spec": {
                "schedule": "0 3 * * *",
                "jobTemplate": {"spec": {"template": {"spec": spec}}},
            },
        },
    )


def pod(spec: dict[str, Any]) -> Resource:
    return resource(
        "kubernetes:core/v1:Pod", "demo-debug", {"metadata": {"namespace": "demo"}, "spec": spec}
    )


def mattermost(**spec_overrides: Any) -> Resource:
    spec: dict[str, Any] = {
        "image": "mattermost/mattermost-enterprise-edition",
        "version": "10.11.2",
        "replicas": 2,
        "ingress": {"enabled": True, "host": "demo.test.chat.example.com"},
        "scheduling": {
            "resources": {
                "requests": {"cpu": "150m", "memory": "256Mi"},
                "limits": {"cpu": "300m", "memory": "512Mi"},
            }
        },
        "database": {"external": {"secret": "demo-db"}},
    }
    spec.update(spec_overrides)
    return resource(
        MATTERMOST,
        "demo-mattermost",
        {
            "apiVersion": "installation.mattermost.com/v1beta1",
            "kind": "Mattermost",
            "metadata": {
                "name": "demo",
                "namespace": "demo",
                "labels": {"sre-platform/size": "1000users"},
            },
            "spec": spec,
        },
    )


def messages(outcome: object) -> list[str]:
    assert outcome is not NOT_APPLICABLE
    assert isinstance(outcome, list)
    return [violation.message for violation in outcome]


# --- k8s-container-resources -------------------------------------------------------------


def test_rules_are_exported_with_stable_ids() -> None:
    assert [rule.id for rule in RULES] == [
        "k8s-container-resources",
        "k8s-no-privileged",
        "k8s-image-pinned",
        "k8s-namespace-network-policy",
    ]
    assert [rule.severity for rule in RULES] == ["medium", "high", "medium", "high"]
    assert RULES[3].scope == "stack"


def test_resources_complete_deployment_passes() -> None:
    spec = pod_spec(container(), initContainers=[container("migrate")])
    assert container_resources.check(deployment(spec=spec), TEST_CTX) == []


def test_resources_missing_limits_names_workload_container_and_keys() -> None:
    app = container()
    del app["resources"]["limits"]["memory"]
    init = container("migrate")
    init["resources"] = {"requests": {"cpu": "50m", "memory": "64Mi"}}
    found = container_resources.check(
        deployment(spec=pod_spec(app, initContainers=[init])), TEST_CTX
    )
    assert messages(found) == [
        "Deployment 'demo-app' init container 'migrate' is missing resources.limits.cpu, "
        "resources.limits.memory",
        "Deployment 'demo-app' container 'app' is missing resources.limits.memory",
    ]
    assert all(v.urn == deployment().urn for v in found)  # type: ignore[union-attr]


def test_resources_absent_entirely_and_empty_values_count_as_missing() -> None:
    sidecar = container("proxy")
    del sidecar["resources"]
    app = container()
    app["resources"]["requests"]["cpu"] = ""
    found = messages(container_resources.check(deployment(spec=pod_spec(app, sidecar)), TEST_CTX))
    assert found == [
        "Deployment 'demo-app' container 'app' is missing resources.requests.cpu",
        "Deployment 'demo-app' container 'proxy' is missing resources.requests.cpu, "
        "resources.requests.memory, resources.limits.cpu, resources.limits.memory",
    ]


def test_resources_cronjob_and_pod_paths_are_read() -> None:
    bare = {"name": "job", "image": "busybox:1.36"}
    assert (
        "CronJob 'demo-cleanup' container 'job'"
        in messages(container_resources.check(cronjob(pod_spec(bare)), TEST_CTX))[0]
    )
    assert messages(container_resources.check(pod(pod_spec(bare)), TEST_CTX))[0].startswith(
        "Pod 'demo-debug' container 'job' is missing"
    )
    assert container_resources.check(cronjob(pod_spec(container())), TEST_CTX) == []


def test_resources_unnamed_container_is_named_by_position() -> None:
    unnamed = container()
    del unnamed["name"], unnamed["resources"]
    found = messages(
        container_resources.check(deployment(spec=pod_spec(container(), unnamed)), TEST_CTX)
    )
    assert found[0].startswith("Deployment 'demo-app' containers[1] is missing")


def test_resources_ephemeral_containers_are_not_asked_for_resources() -> None:
    spec = pod_spec(container(), ephemeralContainers=[{"name": "debug", "image": "busybox:1.36"}])
    assert container_resources.check(pod(spec), TEST_CTX) == []


@pytest.mark.parametrize(
    "spec",
    [
        UNKNOWN,
        pod_spec(UNKNOWN),
        pod_spec(container(resources=UNKNOWN)),
        pod_spec(container(resources={"requests": UNKNOWN, "limits": UNKNOWN})),
        pod_spec(
            container(
                resources={
                    "requests": {"cpu": UNKNOWN, "memory": "1Gi"},
                    "limits": {"cpu": "1", "memory": UNKNOWN},
                }
            )
        ),
        {"containers": UNKNOWN},
    ],
)
def test_resources_unknown_values_are_not_violations(spec: Any) -> None:
    assert container_resources.check(deployment(spec=spec), TEST_CTX) == []


def test_resources_unknown_section_still_reports_the_known_one() -> None:
    spec = pod_spec(container(resources={"requests": UNKNOWN, "limits": {"cpu": "1"}}))
    assert messages(container_resources.check(deployment(spec=spec), TEST_CTX)) == [
        "Deployment 'demo-app' container 'app' is missing resources.limits.memory"
    ]


@pytest.mark.parametrize(
    "type_",
    [
        "kubernetes:core/v1:Namespace",
        "kubernetes:core/v1:ConfigMap",
        "kubernetes:yaml/v2:ConfigGroup",
        "kubernetes:helm.sh/v3:Release",
        "kubernetes:apps/v1:DeploymentPatch",
        "aws:s3/bucket:Bucket",
    ],
)
def test_resources_not_applicable(type_: str) -> None:
    outcome = container_resources.check(resource(type_, "x", {"spec": {}}), TEST_CTX)
    assert outcome is NOT_APPLICABLE


def test_resources_mattermost_custom_resource() -> None:
    assert container_resources.check(mattermost(), TEST_CTX) == []
    found = messages(
        container_resources.check(
            mattermost(scheduling={"resources": {"requests": {"cpu": "150m", "memory": "1Gi"}}}),
            TEST_CTX,
        )
    )
    assert found == [
        "Mattermost 'demo-mattermost': app (spec.scheduling.resources) is missing "
        "limits.cpu, limits.memory"
    ]
    no_scheduling = mattermost()
    del no_scheduling.inputs["spec"]["scheduling"]
    assert (
        "app (spec.scheduling.resources) is missing requests.cpu, requests.memory"
        in (messages(container_resources.check(no_scheduling, TEST_CTX))[0])
    )


def test_resources_mattermost_operator_managed_services_and_extensions() -> None:
    managed = mattermost(
        database={"operatorManaged": {"replicas": 1, "storageSize": "10Gi"}},
        fileStore={
            "operatorManaged": {
                "replicas": 1,
                "resources": {
                    "requests": {"cpu": "150m", "memory": "256Mi"},
                    "limits": {"cpu": "300m", "memory": "512Mi"},
                },
            }
        },
        podExtensions={"initContainers": [{"name": "wait-db", "image": "busybox:1.36"}]},
    )
    found = messages(container_resources.check(managed, TEST_CTX))
    assert found == [
        "Mattermost 'demo-mattermost': operator-managed database "
        "(spec.database.operatorManaged.resources) is missing requests.cpu, requests.memory, "
        "limits.cpu, limits.memory",
        "Mattermost 'demo-mattermost' init container 'wait-db' "
        "(spec.podExtensions.initContainers) is missing resources.requests.cpu, "
        "resources.requests.memory, resources.limits.cpu, resources.limits.memory",
    ]


def test_resources_mattermost_unknown_spec_is_skipped() -> None:
    assert container_resources.check(mattermost(scheduling=UNKNOWN), TEST_CTX) == []
    unknown_spec = resource(MATTERMOST, "demo-mattermost", {"spec": UNKNOWN})
    assert container_resources.check(unknown_spec, TEST_CTX) == []


# --- k8s-no-privileged -------------------------------------------------------------------


def test_privileged_plain_workload_passes() -> None:
    hardened = container(
        securityContext={
            "privileged": False,
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]},
        }
    )
    assert no_privileged.check(deployment(spec=pod_spec(hardened)), PROD_CTX) == []


def test_privileged_container_and_host_namespaces_are_reported() -> None:
    spec = pod_spec(
        container("agent", securityContext={"privileged": True}),
        container("helper", securityContext={"capabilities": {"add": ["CAP_SYS_ADMIN"]}}),
        hostNetwork=True,
        hostPID=True,
        hostIPC=True,
        initContainers=[container("setup", securityContext={"capabilities": {"add": ["ALL"]}})],
    )
    daemonset = resource(
        "kubernetes:apps/v1:DaemonSet",
        "node-agent",
        {"metadata": {"namespace": "kube-system"}, "spec": {"template": {"spec": spec}}},
    )
    assert messages(no_privileged.check(daemonset, PROD_CTX)) == [
        "DaemonSet 'node-agent' pod spec sets hostNetwork: true",
        "DaemonSet 'node-agent' pod spec sets hostPID: true",
        "DaemonSet 'node-agent' pod spec sets hostIPC: true",
        "DaemonSet 'node-agent' init container 'setup' sets securityContext.capabilities.add: ALL",
        "DaemonSet 'node-agent' container 'agent' sets securityContext.privileged: true",
        "DaemonSet 'node-agent' container 'helper' sets "
        "securityContext.capabilities.add: CAP_SYS_ADMIN",
    ]


def test_privileged_escalation_alone_is_not_reported() -> None:
    # Unset means true for a non-restricted pod: judging only an explicit true would
    # punish the honest manifest (see the rule's comment).
    spec = pod_spec(container(securityContext={"allowPrivilegeEscalation": True}))
    assert no_privileged.check(deployment(spec=spec), PROD_CTX) == []


def test_privileged_host_switches_false_and_unknown_pass() -> None:
    spec = pod_spec(
        container(securityContext={"privileged": UNKNOWN}), hostNetwork=False, hostPID=UNKNOWN
    )
    assert no_privileged.check(cronjob(spec), PROD_CTX) == []
    assert no_privileged.check(deployment(spec=UNKNOWN), PROD_CTX) == []
    spec = pod_spec(container(securityContext=UNKNOWN))
    assert no_privileged.check(pod(spec), PROD_CTX) == []


def test_privileged_ephemeral_container_and_patch_are_judged() -> None:
    spec = pod_spec(
        container(),
        ephemeralContainers=[{"name": "debug", "securityContext": {"privileged": True}}],
    )
    assert messages(no_privileged.check(pod(spec), PROD_CTX)) == [
        "Pod 'demo-debug' ephemeral container 'debug' sets securityContext.privileged: true"
    ]
    patch = resource(
        "kubernetes:apps/v1:DeploymentPatch",
        "coredns-patch",
        {"spec": {"template": {"spec": {"hostNetwork": True}}}},
    )
    assert messages(no_privileged.check(patch, PROD_CTX)) == [
        "Deployment 'coredns-patch' pod spec sets hostNetwork: true"
    ]


def test_privileged_mattermost_pod_template() -> None:
    assert no_privileged.check(mattermost(), TEST_CTX) == []
    found = messages(
        no_privileged.check(
            mattermost(podTemplate={"containerSecurityContext": {"privileged": True}}), TEST_CTX
        )
    )
    assert found == [
        "Mattermost 'demo-mattermost' app container sets securityContext.privileged: true "
        "(spec.podTemplate.containerSecurityContext)"
    ]


def test_privileged_not_applicable() -> None:
    assert no_privileged.check(resource("aws:s3/bucket:Bucket", "b", {}), PROD_CTX) is (
        NOT_APPLICABLE
    )
    service = resource("kubernetes:core/v1:Service", "svc", {"spec": {"type": "ClusterIP"}})
    assert no_privileged.check(service, PROD_CTX) is NOT_APPLICABLE


# --- k8s-image-pinned --------------------------------------------------------------------


@pytest.mark.parametrize(
    "image",
    [
        "nginx:1.27.2",
        "docker.io/library/nginx:1.27.2-alpine",
        "registry:5000/team/app:2026.11.1",
        "ghcr.io/org/app@" + DIGEST,
        "ghcr.io/org/app:latest@" + DIGEST,
        "registry.example.com:443/app:v3",
    ],
)
def test_image_pinned_accepts(image: str) -> None:
    assert image_problem(image) is None


@pytest.mark.parametrize(
    ("image", "problem"),
    [
        ("nginx", "has no tag (it means latest)"),
        ("nginx:latest", "uses the mutable tag 'latest'"),
        ("nginx:LATEST", "uses the mutable tag 'latest'"),
        ("registry:5000/app", "has no tag (it means latest)"),
        ("registry:5000/team/app:", "has an empty tag"),
        ("app@sha256:abc", "has a malformed digest 'sha256:abc' (expected sha256:<64 hex digits>)"),
        ("", "is empty"),
    ],
)
def test_image_pinned_rejects(image: str, problem: str) -> None:
    assert image_problem(image) == problem


def test_image_pinned_reports_each_bad_container() -> None:
    spec = pod_spec(
        container("app", image="ghcr.io/org/app:1.4.0"),
        container("proxy", image="envoyproxy/envoy:latest"),
        initContainers=[container("migrate", image="registry:5000/migrate")],
    )
    found = messages(image_pinned.check(deployment(spec=spec), TEST_CTX))
    assert found == [
        "Deployment 'demo-app' init container 'migrate' image 'registry:5000/migrate' has no "
        "tag (it means latest)",
        "Deployment 'demo-app' container 'proxy' image 'envoyproxy/envoy:latest' uses the "
        "mutable tag 'latest'",
    ]


def test_image_pinned_missing_image_unknown_image_and_patches() -> None:
    no_image = container()
    del no_image["image"]
    assert messages(image_pinned.check(deployment(spec=pod_spec(no_image)), TEST_CTX)) == [
        "Deployment 'demo-app' container 'app' declares no image"
    ]
    assert image_pinned.check(deployment(spec=pod_spec(container(image=UNKNOWN))), TEST_CTX) == []
    patch_spec = {"containers": [{"name": "app", "env": [{"name": "X", "value": "1"}]}]}
    patch = resource(
        "kubernetes:apps/v1:DeploymentPatch",
        "app-patch",
        {"spec": {"template": {"spec": patch_spec}}},
    )
    assert image_pinned.check(patch, TEST_CTX) == []
    patch_spec["containers"][0]["image"] = "app:latest"  # type: ignore[index]
    assert "uses the mutable tag 'latest'" in messages(image_pinned.check(patch, TEST_CTX))[0]


def test_image_pinned_mattermost_version() -> None:
    assert image_pinned.check(mattermost(), TEST_CTX) == []
    assert image_pinned.check(mattermost(version=DIGEST), TEST_CTX) == []
    assert image_pinned.check(mattermost(version=UNKNOWN), TEST_CTX) == []
    assert image_pinned.check(mattermost(image=UNKNOWN, version="latest"), TEST_CTX) == []
    assert messages(image_pinned.check(mattermost(version="latest"), TEST_CTX)) == [
        "Mattermost 'demo-mattermost' image 'mattermost/mattermost-enterprise-edition': "
        "spec.version is the mutable tag 'latest'"
    ]
    assert messages(image_pinned.check(mattermost(version=""), TEST_CTX)) == [
        "Mattermost 'demo-mattermost' image 'mattermost/mattermost-enterprise-edition': "
        "spec.version is empty (the operator would pick its own default version)"
    ]
    missing = mattermost()
    del missing.inputs["spec"]["version"]
    assert "spec.version is empty" in messages(image_pinned.check(missing, TEST_CTX))[0]
    assert (
        "'sha256:12' is a malformed digest"
        in (messages(image_pinned.check(mattermost(version="sha256:12"), TEST_CTX))[0])
    )


def test_image_pinned_mattermost_extension_containers() -> None:
    extended = mattermost(podExtensions={"initContainers": [{"name": "wait", "image": "busybox"}]})
    assert messages(image_pinned.check(extended, TEST_CTX)) == [
        "Mattermost 'demo-mattermost' (spec.podExtensions.initContainers) init container "
        "'wait' image 'busybox' has no tag (it means latest)"
    ]


def test_image_pinned_not_applicable() -> None:
    configmap = resource("kubernetes:core/v1:ConfigMap", "cm", {"data": {"image": "x:latest"}})
    assert image_pinned.check(configmap, TEST_CTX) is NOT_APPLICABLE


# --- k8s-namespace-network-policy --------------------------------------------------------


def namespace(name: Any, resource_name: str = "demo") -> Resource:
    metadata = {} if name is None else {"name": name}
    return resource("kubernetes:core/v1:Namespace", resource_name, {"metadata": metadata})


def network_policy(
    namespace_value: Any, name: str = "demo-deny", deps: dict[str, tuple[str, ...]] | None = None
) -> Resource:
    metadata: dict[str, Any] = {"name": "deny-other-namespaces"}
    if namespace_value is not None:
        metadata["namespace"] = namespace_value
    return resource(
        "kubernetes:networking.k8s.io/v1:NetworkPolicy",
        name,
        {"metadata": metadata, "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}},
        property_dependencies=deps,
    )


def check_stack(resources: Sequence[Resource]) -> object:
    return namespace_network_policy.check(resources, TEST_CTX)


def test_network_policy_by_namespace_name() -> None:
    assert check_stack([namespace("demo"), network_policy("demo")]) == []


def test_network_policy_missing_names_namespace_and_urn() -> None:
    other = namespace("other", "other")
    found = check_stack([namespace("demo"), other, network_policy("demo")])
    assert found == [
        Violation(
            "namespace 'other' has no NetworkPolicy: declare one with metadata.namespace set to it",
            other.urn,
        )
    ]


def test_network_policy_in_default_namespace_does_not_count() -> None:
    found = messages(check_stack([namespace("demo"), network_policy(None)]))
    assert found == [
        "namespace 'demo' has no NetworkPolicy: declare one with metadata.namespace set to it"
    ]


def test_network_policy_tied_by_dependency_when_name_unknown() -> None:
    ns = namespace(UNKNOWN)
    tied = network_policy(UNKNOWN, deps={"metadata": (ns.urn,), "spec": ()})
    assert check_stack([ns, tied]) == []
    # Dependencies are known and point elsewhere: not this namespace's policy.
    elsewhere = network_policy(UNKNOWN, deps={"metadata": (urn("x:y:Z", "other"),)})
    found = messages(check_stack([ns, elsewhere]))
    assert found == [
        "namespace of resource 'demo' (name not known yet) has no NetworkPolicy: declare one "
        "with metadata.namespace set to it"
    ]


def test_network_policy_unknown_without_dependency_information_is_not_a_violation() -> None:
    assert check_stack([namespace(UNKNOWN), network_policy(UNKNOWN)]) == []
    assert check_stack([namespace("demo"), network_policy(UNKNOWN)]) == []
    assert check_stack([namespace("demo"), network_policy(UNKNOWN, deps={"metadata": ()})]) == []


def test_network_policy_literal_namespace_cannot_match_an_unknown_name() -> None:
    found = messages(check_stack([namespace(UNKNOWN), network_policy("demo")]))
    assert found == [
        "namespace of resource 'demo' (name not known yet) has no NetworkPolicy: declare one "
        "with metadata.namespace set to it"
    ]


def test_network_policy_autonamed_namespace_tied_by_dependency() -> None:
    ns = namespace(None, "scratch")
    assert check_stack([ns, network_policy("scratch-1a2b", deps={"metadata": (ns.urn,)})]) == []
    alone = messages(check_stack([ns]))
    assert alone[0].startswith("namespace of resource 'scratch' (name not known yet)")


def test_network_policy_not_applicable_without_namespaces() -> None:
    assert check_stack([network_policy("demo"), deployment()]) is NOT_APPLICABLE
    assert check_stack([]) is NOT_APPLICABLE


# --- regression net: a shipped environment passes ----------------------------------------


@cache
def shipped_environment() -> tuple[Resource, ...]:
    rendered = render_environment(REPO_ROOT, "pg-migration-1000")
    return tuple(as_resource(declared) for declared in rendered.resources)


def test_shipped_environment_passes_every_rule_of_these_modules() -> None:
    resources = shipped_environment()
    types = {r.type for r in resources}
    assert {MATTERMOST, "kubernetes:core/v1:Namespace", "aws:rds/instance:Instance"} <= types
    ctx = RuleContext(stack="env-pg-migration-1000", tier="test", config=DEFAULT_CONFIG, now=NOW)
    rules = (*RULES, *helm.RULES, *test_environments.RULES, *protection.RULES)
    applied: list[str] = []
    for rule in rules:
        if rule.scope == "stack":
            outcome = rule.check(list(resources), ctx)
            assert outcome == [] or outcome is NOT_APPLICABLE, (rule.id, outcome)
            applied += [rule.id] if outcome is not NOT_APPLICABLE else []
            continue
        for item in resources:
            outcome = rule.check(item, ctx)
            assert outcome == [] or outcome is NOT_APPLICABLE, (rule.id, item.urn, outcome)
            applied += [rule.id] if outcome is not NOT_APPLICABLE else []
    # The Mattermost resource meets every resource rule it concerns, the stack every
    # stack rule of the test tier (no Helm here; protection is production-only).
    assert sorted(applied) == [
        "k8s-container-resources",
        "k8s-image-pinned",
        "k8s-namespace-network-policy",
        "k8s-no-privileged",
        "test-env-monthly-cost",
        "test-env-size-cap",
    ]


def test_shipped_environment_policies_are_tied_to_their_namespace() -> None:
    resources = shipped_environment()
    (namespace_resource,) = [r for r in resources if r.type == "kubernetes:core/v1:Namespace"]
    policies = [r for r in resources if r.type == "kubernetes:networking.k8s.io/v1:NetworkPolicy"]
    assert len(policies) == 4
    # Dropping the policies exposes the namespace: the net above can catch a regression.
    without = [r for r in resources if r not in policies]
    ctx = RuleContext(stack="env-pg-migration-1000", tier="test", config=DEFAULT_CONFIG, now=NOW)
    found = namespace_network_policy.check(without, ctx)
    assert found == [
        Violation(
            "namespace 'pg-migration-1000' has no NetworkPolicy: declare one with "
            "metadata.namespace set to it",
            namespace_resource.urn,
        )
    ]
