"""PulumiOperator under Pulumi mocks: the pinned chart, namespaces, network, identity and
the Stack resources it is given."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from change_mgmt.environments.operator_stack import OperatorStackSettings, operator_stack
from change_mgmt.environments.request import EnvironmentRequest
from components.pulumi_operator import (
    ContainerResources,
    PulumiOperatorArgs,
    PulumiOperatorError,
)
from components.pulumi_operator.component import TYPE_TOKEN, PulumiOperator
from components.pulumi_operator.names import (
    OPERATOR_NAMESPACE,
    STACKS_NAMESPACE,
    WORKSPACE_SERVICE_ACCOUNT,
)
from policies.evaluate import evaluate, load_settings
from policies.rules.helm import version_problem
from stacks.mock_engine import MockRun, run_under_mocks
from tests.components.crd_schema import crd_problems
from tests.components.mock_values import plain
from tests.conftest import NOW, REPO_ROOT

NAME = "pulumi-operator-dev"
ROLE_ARN = "arn:aws:iam::123456789012:role/environment-deployer"
SETTINGS = OperatorStackSettings(
    "https://git.example.com/sre/sre-platform.git", "3f1c2a9b8e7d6c5b4a39281706f5e4d3c2b1a098"
)
RELEASE = "kubernetes:helm.sh/v3:Release"
STACK = "kubernetes:pulumi.com/v1:Stack"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"


def document(name: str, **fields: Any) -> dict[str, Any]:
    request = EnvironmentRequest.model_validate(
        {
            "name": name,
            "owner": "dev@example.com",
            "team": "backend",
            "purpose": "testing",
            "version": "10.11.2",
            "expires_at": NOW + timedelta(days=3),
            **fields,
        },
        context={"now": NOW},
    )
    return operator_stack(request, SETTINGS)


def stacks(*names: str) -> dict[str, dict[str, Any]]:
    return {f"env-{name}": document(name) for name in names}


def run(args: PulumiOperatorArgs) -> MockRun:
    def program() -> None:
        PulumiOperator(NAME, args)

    return run_under_mocks(program, project="sre-platform", stack="dev")


@pytest.fixture(scope="module")
def declared() -> MockRun:
    return run(
        PulumiOperatorArgs(
            environment="dev", stacks=stacks("alpha", "beta"), workspace_role_arn=ROLE_ARN
        )
    )


def test_the_chart_is_pulumis_at_one_exact_version(declared: MockRun) -> None:
    (release,) = declared.of_type(RELEASE)
    assert release.inputs["chart"] == "oci://ghcr.io/pulumi/helm-charts/pulumi-kubernetes-operator"
    assert release.inputs["version"] == "2.9.0"
    assert version_problem(release.inputs["version"]) is None
    assert release.inputs["namespace"] == OPERATOR_NAMESPACE
    assert release.inputs["atomic"] is True


def test_the_operator_has_requests_and_limits(declared: MockRun) -> None:
    (release,) = declared.of_type(RELEASE)
    values = (
        json.loads(release.inputs["values"])
        if isinstance(release.inputs["values"], str)
        else release.inputs["values"]
    )
    resources = values["resources"]
    assert set(resources) == {"requests", "limits"}
    assert set(resources["requests"]) == set(resources["limits"]) == {"cpu", "memory"}


def test_each_namespace_gets_network_policies_and_workspaces_admit_only_the_operator(
    declared: MockRun,
) -> None:
    namespaces = {
        r.inputs["metadata"]["name"] for r in declared.of_type("kubernetes:core/v1:Namespace")
    }
    assert namespaces == {OPERATOR_NAMESPACE, STACKS_NAMESPACE}
    by_namespace: dict[str, dict[str, Any]] = {}
    for policy in declared.of_type(NETWORK_POLICY):
        meta = policy.inputs["metadata"]
        by_namespace.setdefault(meta["namespace"], {})[meta["name"]] = policy.inputs["spec"]
    assert set(by_namespace) == namespaces
    for policies in by_namespace.values():
        assert {"deny-other-namespaces", "egress-block-metadata"} <= set(policies)
        egress = policies["egress-block-metadata"]["egress"][0]["to"][0]["ipBlock"]
        assert egress["except"] == ["169.254.169.254/32"]
    operator_rule = by_namespace[STACKS_NAMESPACE]["allow-operator"]["ingress"][0]
    selector = operator_rule["from"][0]["namespaceSelector"]["matchLabels"]
    assert selector == {"kubernetes.io/metadata.name": OPERATOR_NAMESPACE}
    assert operator_rule["ports"] == [{"protocol": "TCP", "port": 50051}]


def test_the_workspaces_identity_may_only_check_who_calls_it(declared: MockRun) -> None:
    (account,) = declared.of_type("kubernetes:core/v1:ServiceAccount")
    assert account.inputs["metadata"]["name"] == WORKSPACE_SERVICE_ACCOUNT
    assert account.inputs["metadata"]["namespace"] == STACKS_NAMESPACE
    assert account.inputs["metadata"]["annotations"] == {"eks.amazonaws.com/role-arn": ROLE_ARN}
    (binding,) = declared.of_type("kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding")
    assert binding.inputs["roleRef"]["name"] == "system:auth-delegator"
    assert binding.inputs["subjects"] == [
        {"kind": "ServiceAccount", "name": WORKSPACE_SERVICE_ACCOUNT, "namespace": STACKS_NAMESPACE}
    ]
    rbac = [r for r in declared.resources if "rbac.authorization.k8s.io" in r.type]
    assert [r.type.rsplit(":", 1)[1] for r in rbac] == ["ClusterRoleBinding"]  # no roles of ours


def test_no_role_arn_no_annotation() -> None:
    (account,) = run(PulumiOperatorArgs(environment="dev")).of_type(
        "kubernetes:core/v1:ServiceAccount"
    )
    assert not account.inputs["metadata"].get("annotations")


def test_one_stack_per_document_after_the_chart_and_the_identity(declared: MockRun) -> None:
    by_urn = {r.urn: r for r in declared.resources}
    found = declared.of_type(STACK)
    assert sorted(r.inputs["metadata"]["name"] for r in found) == ["env-alpha", "env-beta"]
    for stack in found:
        waits_for = {by_urn[u].type for u in stack.dependencies if u in by_urn}
        assert {RELEASE, "kubernetes:core/v1:ServiceAccount"} <= waits_for
        resource = {
            "apiVersion": stack.inputs["apiVersion"],
            "kind": stack.inputs["kind"],
            "metadata": plain(stack.inputs["metadata"]),
            "spec": plain(stack.inputs["spec"]),
        }
        assert crd_problems(resource, "pulumi.com_stacks.yaml") == []
        assert resource["spec"]["destroyOnFinalize"] is True
        assert resource["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "sre-platform"


def test_every_child_is_parented_and_named_after_the_component(declared: MockRun) -> None:
    (component,) = declared.of_type(TYPE_TOKEN)
    children = [r for r in declared.resources if r is not component]
    assert children
    for child in children:
        assert child.parent == component.urn, child.name
        assert child.name.startswith(f"{NAME}-"), child.name


def test_the_policy_pack_finds_nothing_mandatory(declared: MockRun) -> None:
    settings = load_settings(REPO_ROOT / "policies")
    report = evaluate(
        declared.resources, stack="dev", config=settings.config, waivers=settings.waivers
    )
    assert report.passed, report


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (PulumiOperatorArgs(environment="Dev"), "DNS label"),
        (PulumiOperatorArgs(environment="dev", workspace_role_arn="role/x"), "IAM role ARN"),
        (
            PulumiOperatorArgs(
                environment="dev", resources=ContainerResources("lots", "1Gi", "1", "1Gi")
            ),
            "quantity",
        ),
        (
            PulumiOperatorArgs(environment="dev", stacks={"env-a": document("b")}),
            "metadata.name",
        ),
    ],
)
def test_invalid_args_are_refused_before_anything_is_declared(
    args: PulumiOperatorArgs, message: str
) -> None:
    declared: list[str] = []

    def program() -> None:
        try:
            PulumiOperator(NAME, args)
        except PulumiOperatorError as exc:
            declared.append(str(exc))

    recorded = run_under_mocks(program, project="sre-platform", stack="dev")
    assert recorded.resources == []
    assert declared and message in declared[0]


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("metadata", "namespace"), "default", "metadata.namespace"),
        (("spec", "serviceAccountName"), "default", "serviceAccountName"),
        (("spec", "destroyOnFinalize"), False, "destroyOnFinalize"),
        (("kind",), "Program", "pulumi.com/v1 Stack"),
    ],
)
def test_a_stack_outside_what_the_component_grants_is_refused(
    path: tuple[str, ...], value: Any, message: str
) -> None:
    bad = document("alpha")
    target = bad
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(PulumiOperatorError, match=message):
        run(PulumiOperatorArgs(environment="dev", stacks={"env-alpha": bad}))
