"""The env-<name> stack program, run under mocks for every shipped request file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pulumi
import pytest

from change_mgmt.environments.catalog import request_files
from change_mgmt.environments.render import project_config
from components.test_environment import TYPE_TOKEN
from stacks.mock_engine import MockRun, SecretValue, run_under_mocks
from stacks.platform_config import (
    PROJECT_FILE,
    PlatformConfig,
    StackConfigError,
    placeholder_defaults,
)
from stacks.platform_stack_config import OperatorConfig, PlatformStackConfig
from stacks.program import run_stack
from stacks.test_environment import RequestFileError
from tests.components.crd_schema import crd_problems
from tests.conftest import REPO_ROOT, request_yaml

SHIPPED = request_files(REPO_ROOT / "stacks" / "environments")

# What an operator sets for a real cluster: every placeholder of Pulumi.yaml replaced.
REAL_SETTINGS = {
    "sre-platform:vpcId": "vpc-0f3e2d1c0b9a87654",
    "sre-platform:dbSubnetGroup": "acme-test-private-db",
    "sre-platform:dbSecurityGroupIds": '["sg-0f3e2d1c0b9a87655"]',
    "sre-platform:testDomain": "test.chat.acme.net",
    "sre-platform:sharedDbEndpoint": "acme-shared.cluster-c1x2y3.us-east-1.rds.amazonaws.com",
    "sre-platform:sharedBucket": "acme-test-shared-files",
    "sre-platform:testTlsSecret": "ingress-nginx/wildcard-test-chat-acme-net",
    "sre-platform:oidcProviderArn": (
        "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABC123"
    ),
}
# The audit of Pulumi.yaml: the defaults that only stand in for a real cluster's values.
PLACEHOLDER_KEYS = [
    "vpcId",
    "dbSubnetGroup",
    "dbSecurityGroupIds",
    "testDomain",
    "sharedDbEndpoint",
    "sharedBucket",
    "testTlsSecret",
    "oidcProviderArn",
]
# Placeholders only the platform stacks (dev, staging, prod) read.
PLATFORM_ONLY_PLACEHOLDER_KEYS = [
    "accountId",
    "githubRepository",
    "operatorRepoUrl",
    "evidenceBucket",
]


def _real_config(stack: str, project: Path = REPO_ROOT, **overrides: str) -> dict[str, str]:
    return {**project_config(project, stack), **REAL_SETTINGS, **overrides}


def _run(
    project: Path, stack: str, config: dict[str, str] | None = None, *, preview: bool = True
) -> MockRun:
    return run_under_mocks(
        lambda: run_stack(project),
        project="sre-platform",
        stack=stack,
        config=project_config(REPO_ROOT, stack) if config is None else config,
        preview=preview,
    )


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_every_shipped_request_builds(path: Path) -> None:
    run = _run(REPO_ROOT, f"env-{path.stem}")
    component = run.one(TYPE_TOKEN, path.stem)
    namespace = run.one("kubernetes:core/v1:Namespace")
    assert namespace.inputs["metadata"]["name"] == path.stem
    assert namespace.parent == component.urn
    assert run.one("pulumi:providers:kubernetes").inputs["context"] == "cloud-test"
    assert run.exports["url"] == f"https://{path.stem}.test.chat.example.com"
    assert run.exports["namespace"] == path.stem
    assert run.exports["databaseEndpoint"] is None or isinstance(
        run.exports["databaseEndpoint"], SecretValue
    )


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_every_shipped_mattermost_resource_validates_against_the_crd(path: Path) -> None:
    run = _run(REPO_ROOT, f"env-{path.stem}")
    cr = run.one("kubernetes:installation.mattermost.com/v1beta1:Mattermost").inputs
    assert crd_problems(cr) == []
    assert cr["spec"]["ingress"]["tlsSecret"] == f"{path.stem}-tls"


def test_a_request_without_a_database_gets_postgresql_on_the_shared_cluster(
    tmp_path: Path,
) -> None:
    project = _project_with(tmp_path, "x", request_yaml("x", expires_at="2099-01-01T00:00:00Z"))
    run = _run(project, "env-x")
    provider = run.one("pulumi:providers:postgresql")
    assert run.one("postgresql:index/database:Database").provider.startswith(provider.urn)
    cr = run.one("kubernetes:installation.mattermost.com/v1beta1:Mattermost").inputs
    assert cr["spec"]["database"] == {"external": {"secret": "x-db"}}


def test_the_wildcard_certificate_is_read_from_the_configured_secret() -> None:
    config = project_config(REPO_ROOT, "env-plugin-demo")
    config["sre-platform:testTlsSecret"] = "cert-manager/wildcard-test"
    run = _run(REPO_ROOT, "env-plugin-demo", config)
    (source,) = [r for r in run.resources if r.is_read]
    assert source.read_id == "cert-manager/wildcard-test"


def test_multitenant_database_uses_a_postgres_provider_with_secret_password() -> None:
    run = _run(REPO_ROOT, "env-plugin-demo")
    provider = run.one("pulumi:providers:postgresql")
    assert (
        provider.inputs["host"]
        == "cloud-test-multitenant-db.cluster-mock.us-east-1.rds.amazonaws.com"
    )
    assert isinstance(provider.inputs["password"], SecretValue)
    assert run.one("postgresql:index/database:Database").provider.startswith(provider.urn)


def test_stack_without_request_file_fails_with_a_pointer() -> None:
    with pytest.raises(RequestFileError, match="no request file .*nope.yaml.*sre env new"):
        _run(REPO_ROOT, "env-nope")


def test_unknown_stack_family_is_refused() -> None:
    with pytest.raises(pulumi.RunError, match="no program for stack 'prod-db'"):
        _run(REPO_ROOT, "prod-db")


def test_bad_platform_config_names_the_key() -> None:
    config = project_config(REPO_ROOT, "env-pg-migration-1000")
    config["sre-platform:testDomain"] = "not a domain"
    del config["sre-platform:cluster"]
    with pytest.raises(StackConfigError) as raised:
        _run(REPO_ROOT, "env-pg-migration-1000", config)
    message = str(raised.value)
    assert "sre-platform:testDomain" in message and "sre-platform:cluster" in message
    assert "pulumi config set" in message


def test_multitenant_database_needs_the_admin_secret() -> None:
    config = project_config(REPO_ROOT, "env-plugin-demo")
    del config["sre-platform:sharedDbAdminPassword"]
    with pytest.raises(StackConfigError, match="sharedDbAdminPassword is not set"):
        _run(REPO_ROOT, "env-plugin-demo", config)


def _project_with(tmp_path: Path, name: str, text: str) -> Path:
    shutil.copy(REPO_ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    (tmp_path / "stacks" / "environments").mkdir(parents=True)
    (tmp_path / "stacks" / "environments" / f"{name}.yaml").write_text(text)
    return tmp_path


def test_expired_request_previews_but_does_not_deploy(tmp_path: Path) -> None:
    project = _project_with(tmp_path, "old", request_yaml("old", expires_at="2020-01-01T00:00:00Z"))
    assert _run(project, "env-old", preview=True).one(TYPE_TOKEN, "old")
    with pytest.raises(RequestFileError, match="expired at 2020-01-01T00:00:00Z"):
        _run(project, "env-old", _real_config("env-old", project), preview=False)


def test_the_placeholders_are_marked_in_pulumi_yaml_and_are_platform_keys() -> None:
    marked = placeholder_defaults(REPO_ROOT / PROJECT_FILE)
    assert list(marked) == PLACEHOLDER_KEYS + PLATFORM_ONLY_PLACEHOLDER_KEYS
    environment = {info.alias for info in PlatformConfig.model_fields.values()}
    platform = {
        info.alias
        for model in (PlatformStackConfig, OperatorConfig)
        for info in model.model_fields.values()
    }
    assert set(PLACEHOLDER_KEYS) <= environment
    assert set(PLATFORM_ONLY_PLACEHOLDER_KEYS) <= platform - environment
    assert set(REAL_SETTINGS) == {f"sre-platform:{key}" for key in PLACEHOLDER_KEYS}


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_a_real_update_with_placeholders_stops_and_names_every_key(path: Path) -> None:
    stack = f"env-{path.stem}"
    with pytest.raises(StackConfigError) as raised:
        _run(REPO_ROOT, stack, preview=False)
    message = str(raised.value)
    for key in PLACEHOLDER_KEYS:
        assert f"pulumi config set --stack {stack} sre-platform:{key} <value" in message
    assert message.count("pulumi config set") == len(PLACEHOLDER_KEYS)


def test_a_preview_with_placeholders_proceeds() -> None:
    run = _run(REPO_ROOT, "env-plugin-demo", preview=True)
    assert run.exports["url"] == "https://plugin-demo.test.chat.example.com"


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_a_real_update_with_real_settings_proceeds(path: Path) -> None:
    stack = f"env-{path.stem}"
    run = _run(REPO_ROOT, stack, _real_config(stack), preview=False)
    assert run.exports["url"] == f"https://{path.stem}.test.chat.acme.net"


def test_only_the_keys_still_on_placeholders_are_named() -> None:
    config = _real_config(
        "env-plugin-demo",
        **{
            # one real security group added to the placeholder one is still a placeholder
            "sre-platform:dbSecurityGroupIds": '["sg-0f3e2d1c0b9a87655", "sg-0a1b2c3d4e5f60719"]',
            "sre-platform:vpcId": "vpc-0a1b2c3d4e5f60718",
        },
    )
    with pytest.raises(StackConfigError) as raised:
        _run(REPO_ROOT, "env-plugin-demo", config, preview=False)
    commands = [line.split()[5] for line in str(raised.value).splitlines()[1:]]
    assert commands == ["sre-platform:vpcId", "sre-platform:dbSecurityGroupIds"]


def test_a_bad_tls_secret_reference_names_the_key() -> None:
    config = project_config(REPO_ROOT, "env-plugin-demo")
    config["sre-platform:testTlsSecret"] = "wildcard-without-namespace"
    with pytest.raises(StackConfigError, match=r"sre-platform:testTlsSecret: String should match"):
        _run(REPO_ROOT, "env-plugin-demo", config)


def test_invalid_request_file_stops_the_program_with_its_problems(tmp_path: Path) -> None:
    project = _project_with(tmp_path, "broken", "name: broken\nsise: 1\n")
    with pytest.raises(RequestFileError, match="sise: unknown field; did you mean 'size'"):
        _run(project, "env-broken")


def test_stack_config_file_overrides_project_defaults(tmp_path: Path) -> None:
    project = _project_with(tmp_path, "x", request_yaml("x", expires_at="2099-01-01T00:00:00Z"))
    (project / "Pulumi.env-x.yaml").write_text(
        "config:\n  sre-platform:testDomain: other.example.org\n"
        "  sre-platform:sharedDbAdminPassword:\n    secure: v1:abc\n"
    )
    config = project_config(project, "env-x")
    assert config["sre-platform:testDomain"] == "other.example.org"
    assert config["sre-platform:sharedDbAdminPassword"] == "render-placeholder"
    assert _run(project, "env-x", config).exports["url"] == "https://x.other.example.org"


def test_an_unreadable_project_file_is_named(tmp_path: Path) -> None:
    broken = tmp_path / "Pulumi.yaml"
    broken.write_text("config: [unclosed\n")
    with pytest.raises(StackConfigError, match=f"cannot read {broken}"):
        placeholder_defaults(broken)
