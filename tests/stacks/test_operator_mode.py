"""Operator mode of the platform stacks under mocks: the Pulumi Kubernetes Operator in
the cnc cluster and one Stack per active environment request, or nothing at all."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pulumi_kubernetes as k8s
import pytest

from change_mgmt.environments.catalog import EnvironmentState, state_of
from change_mgmt.environments.operator_stack import head_commit, load_requests
from change_mgmt.environments.render import (
    RENDER_SECRET_PLACEHOLDERS,
    check_declared,
    project_config,
    with_secret_keys,
)
from components.pulumi_operator.component import TYPE_TOKEN
from policies.config import DEFAULT_CONFIG
from policies.evaluate import load_settings
from stacks.environment_operator import declare_environment_operator
from stacks.mock_engine import MockRun, run_under_mocks
from stacks.platform_config import StackConfigError
from stacks.platform_stack_config import PLATFORM_STACKS
from stacks.program import run_stack
from tests.components.crd_schema import crd_problems
from tests.components.mock_values import plain
from tests.conftest import NOW, REPO_ROOT, git, request_yaml

STACK = "kubernetes:pulumi.com/v1:Stack"
URL = "https://git.example.com/sre/sre-platform.git"
PLACEHOLDER_URL = "https://git.placeholder.example.com/sre/sre-platform.git"


def platform(stack: str, **overrides: str) -> MockRun:
    config = project_config(REPO_ROOT, stack)
    config.update({f"sre-platform:{key}": value for key, value in overrides.items()})
    return run_under_mocks(
        with_secret_keys(lambda: run_stack(REPO_ROOT), list(RENDER_SECRET_PLACEHOLDERS)),
        project="sre-platform",
        stack=stack,
        config=config,
        preview=True,
    )


@pytest.fixture(scope="module")
def operator_dev() -> MockRun:
    return platform("dev", pulumiOperator="true", operatorRepoUrl=URL)


def test_operator_mode_declares_the_operator_in_the_cnc_cluster(operator_dev: MockRun) -> None:
    by_urn = {r.urn: r for r in operator_dev.resources}
    (component,) = operator_dev.of_type(TYPE_TOKEN)
    assert component.name == "pulumi-operator-dev"
    children = operator_dev.children_of(component.urn)
    assert children
    for child in children:
        assert by_urn[child.provider.rpartition("::")[0]].name == "k8s-cnc-dev"


def test_one_stack_per_active_request_at_the_checkouts_commit(operator_dev: MockRun) -> None:
    now = datetime.now(UTC)
    active = {
        f"env-{r.name}"
        for r in load_requests(REPO_ROOT)
        if state_of(r, now) is not EnvironmentState.EXPIRED
    }
    found = {r.inputs["metadata"]["name"]: r for r in operator_dev.of_type(STACK)}
    assert set(found) == active
    for name, stack in found.items():
        spec = plain(stack.inputs["spec"])
        assert spec["stack"] == name
        assert (spec["projectRepo"], spec["commit"]) == (URL, head_commit(REPO_ROOT))
        resource = {
            "apiVersion": stack.inputs["apiVersion"],
            "kind": stack.inputs["kind"],
            "metadata": plain(stack.inputs["metadata"]),
            "spec": spec,
        }
        assert crd_problems(resource, "pulumi.com_stacks.yaml") == []


def test_the_pack_passes_with_operator_mode_on(operator_dev: MockRun) -> None:
    report = check_declared(operator_dev, load_settings(REPO_ROOT / "policies"))
    assert report.passed, report


@pytest.mark.parametrize("stack", PLATFORM_STACKS)
def test_without_operator_mode_there_is_no_operator_and_no_stack(stack: str) -> None:
    run = platform(stack)  # the shipped stack files leave it off
    assert run.of_type(TYPE_TOKEN) == []
    assert run.of_type(STACK) == []
    assert not [
        r
        for r in run.resources
        if r.type == "kubernetes:helm.sh/v3:Release"
        and "pulumi-kubernetes-operator" in str(r.inputs.get("chart"))
    ]


def test_a_bad_repository_url_names_the_key() -> None:
    with pytest.raises(StackConfigError, match="operatorRepoUrl"):
        platform("dev", pulumiOperator="true", operatorRepoUrl="http://git.example.com/x.git")


def _operator_program(root: Path, now: datetime) -> Callable[[], None]:
    """The operator part of the platform alone, over a throwaway checkout."""

    def program() -> None:
        cnc = k8s.Provider("k8s-cnc", context="cnc")
        declare_environment_operator(root, "dev", DEFAULT_CONFIG, cnc, now=now)

    return program


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _operator_run(
    root: Path, *, url: str = URL, preview: bool = True, now: datetime = NOW
) -> MockRun:
    return run_under_mocks(
        _operator_program(root, now),
        project="sre-platform",
        stack="dev",
        config={"sre-platform:operatorRepoUrl": url},
        preview=preview,
    )


@pytest.fixture
def checkout(git_project: Callable[..., Path]) -> Path:
    return git_project(
        live=request_yaml("live", expires_at=_stamp(NOW + timedelta(days=3))),
        soon=request_yaml("soon", expires_at=_stamp(NOW + timedelta(hours=3))),
        gone=request_yaml("gone", expires_at=_stamp(NOW - timedelta(hours=1))),
    )


def test_expired_requests_get_no_stack(checkout: Path) -> None:
    names = sorted(r.inputs["metadata"]["name"] for r in _operator_run(checkout).of_type(STACK))
    assert names == ["env-live", "env-soon"]
    later = NOW + timedelta(hours=4)  # "soon" has expired by then: its Stack goes
    names = sorted(
        r.inputs["metadata"]["name"] for r in _operator_run(checkout, now=later).of_type(STACK)
    )
    assert names == ["env-live"]


def test_an_invalid_request_stops_operator_mode_instead_of_destroying_it(checkout: Path) -> None:
    (checkout / "stacks" / "environments" / "live.yaml").write_text(
        request_yaml("live", size="huge")
    )
    git(checkout, "commit", "-qam", "break it")
    with pytest.raises(StackConfigError, match=r"stacks/environments/live\.yaml"):
        _operator_run(checkout)


def test_a_real_update_refuses_uncommitted_requests_and_a_preview_warns(checkout: Path) -> None:
    (checkout / "stacks" / "environments" / "extra.yaml").write_text(
        request_yaml("extra", expires_at=_stamp(NOW + timedelta(days=1)))
    )
    preview = _operator_run(checkout)
    assert "env-extra" in {r.inputs["metadata"]["name"] for r in preview.of_type(STACK)}
    with pytest.raises(StackConfigError, match=r"stacks/environments/extra\.yaml"):
        _operator_run(checkout, preview=False)


def test_a_real_update_refuses_the_placeholder_repository_url(checkout: Path) -> None:
    assert _operator_run(checkout, url=PLACEHOLDER_URL).of_type(STACK)  # previews run
    with pytest.raises(StackConfigError, match="operatorRepoUrl"):
        _operator_run(checkout, url=PLACEHOLDER_URL, preview=False)


def test_outside_a_git_checkout_operator_mode_cannot_pin_a_commit(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.yaml").write_text((REPO_ROOT / "Pulumi.yaml").read_text())
    with pytest.raises(StackConfigError, match="git"):
        _operator_run(tmp_path)
