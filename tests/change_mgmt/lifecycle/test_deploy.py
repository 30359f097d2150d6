"""``sre env up`` as a library: config, update, change record, refusals (stand-in pulumi)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from change_mgmt.documents import DocumentError
from change_mgmt.environments.deploy import DeployRefused, deploy_environment
from change_mgmt.environments.platform import PlatformConfigRefused
from change_mgmt.ledger.records import ChangeState
from change_mgmt.ledger.store import Ledger
from stacks.mock_engine import run_under_mocks
from stacks.production_guard import require_gate_receipt
from tests.change_mgmt.lifecycle.helpers import SHARED_DB_PASSWORD, hours, request_text
from tests.conftest import REPO_ROOT
from tests.fakes.pulumi_cli import calls_of, update_stack

pytestmark = pytest.mark.slow  # each test runs the stand-in pulumi many times


def _deploy(root, name="demo", lines=None):
    return deploy_environment(
        root,
        name,
        clock=lambda: datetime.now(UTC),
        on_output=(lines.append if lines is not None else lambda line: None),
    )


def test_up_creates_the_stack_sets_its_config_and_records_an_applied_change(
    checkout, backend, platform_config
) -> None:
    repo = checkout(demo=request_text("demo", hours(48)))
    fake = backend()
    outcome = _deploy(repo.root)
    assert outcome.applied and not outcome.already_applied
    assert outcome.changes == {"create": 5}
    assert outcome.outputs["url"] == "https://demo.test.example.com"
    assert outcome.outputs["dbPassword"] == "[secret]"  # never decrypted
    stack = fake.stacks()["env-demo"]
    assert stack["resources"] == 5
    config = stack["config"]
    assert config["sre-platform:vpcId"] == {"value": "vpc-0123456789abcdef0", "secret": False}
    assert json.loads(config["sre-platform:dbSecurityGroupIds"]["value"]) == [
        "sg-0123456789abcdef0"
    ]
    assert config["aws:region"]["value"] == "eu-west-1"
    assert "sre-platform:sharedDbAdminPassword" not in config  # not a multitenant database
    select, init = (call["args"][:2] for call in calls_of(fake.calls, "stack")[:2])
    assert (select, init) == (["stack", "select"], ["stack", "init"])  # created, as not found
    (up,) = calls_of(fake.calls, "up")
    assert up["args"][up["args"].index("--stack") + 1] == "env-demo"
    assert "--plan" not in up["args"]
    record = Ledger.for_repository(repo.root).get(outcome.record.id)
    assert record.state is ChangeState.applied and record.change_type == "standard"
    assert [t.to_state for t in Ledger.for_repository(repo.root).history(record.id)] == [
        ChangeState.proposed,
        ChangeState.applying,
        ChangeState.applied,
    ]
    assert record.commit is not None and len(record.digest) == 64


def test_a_second_run_on_the_same_commit_does_nothing_and_a_new_commit_deploys_again(
    checkout, backend, platform_config
) -> None:
    repo = checkout(demo=request_text("demo", hours(48)))
    fake = backend()
    first = _deploy(repo.root)
    again = _deploy(repo.root)
    assert again.already_applied and again.record.id == first.record.id
    assert len(calls_of(fake.calls, "up")) == 1
    repo.write("demo", request_text("demo", hours(72)))  # extended by a pull request
    extended = _deploy(repo.root)
    assert extended.applied and extended.record.id != first.record.id
    assert len(calls_of(fake.calls, "up")) == 2
    assert fake.stacks()["env-demo"]["resources"] == 5  # selected, not created again


def test_the_shared_database_password_is_set_as_a_secret_and_never_shown(
    checkout, backend, platform_config, monkeypatch
) -> None:
    repo = checkout(demo=request_text("demo", hours(24), database="aws-multitenant-rds-postgres"))
    fake = backend()
    with pytest.raises(PlatformConfigRefused, match="SRE_SHARED_DB_ADMIN_PASSWORD"):
        _deploy(repo.root)
    assert fake.called("up") == []
    monkeypatch.setenv("SRE_SHARED_DB_ADMIN_PASSWORD", SHARED_DB_PASSWORD)
    lines: list[str] = []
    outcome = _deploy(repo.root, lines=lines)
    stored = fake.stacks()["env-demo"]["config"]["sre-platform:sharedDbAdminPassword"]
    assert stored == {"value": SHARED_DB_PASSWORD, "secret": True}
    (secret_set,) = [c for c in calls_of(fake.calls, "config") if c["args"][1] == "set"]
    assert "--secret" in secret_set["args"]
    shown = "\n".join(lines) + repr(outcome)
    assert SHARED_DB_PASSWORD not in shown
    assert "[secret]" in "\n".join(lines)  # the stand-in echoes config: masked


def test_a_failed_update_is_a_failed_change_and_the_next_run_retries_it(
    checkout, backend, platform_config, monkeypatch
) -> None:
    monkeypatch.setenv("SRE_SHARED_DB_ADMIN_PASSWORD", SHARED_DB_PASSWORD)
    repo = checkout(demo=request_text("demo", hours(24), database="aws-multitenant-rds-postgres"))
    fake = backend({"env-demo": {"resources": 0, "up_fail": f"error: auth {SHARED_DB_PASSWORD}"}})
    failed = _deploy(repo.root)
    assert not failed.applied and failed.record.state is ChangeState.failed
    assert failed.error and "pulumi up of stack 'env-demo' failed" in failed.error
    assert SHARED_DB_PASSWORD not in failed.error
    update_stack(fake.bin_dir, "env-demo", up_fail=None)
    retried = _deploy(repo.root)
    assert retried.applied and retried.record.id == failed.record.id  # the same change
    states = [t.to_state for t in Ledger.for_repository(repo.root).history(failed.record.id)]
    assert states[-3:] == [ChangeState.failed, ChangeState.applying, ChangeState.applied]


def test_expired_unknown_and_invalid_requests_are_refused_before_pulumi_runs(
    checkout, backend, platform_config
) -> None:
    repo = checkout(
        old=request_text("old", hours(-1)),
        broken="name: broken\nowner: [not, an, email\n",
    )
    fake = backend()
    with pytest.raises(DeployRefused, match="expired at"):
        _deploy(repo.root, "old")
    with pytest.raises(DeployRefused, match="no request file"):
        _deploy(repo.root, "missing")
    with pytest.raises(DeployRefused, match="not an environment name"):
        _deploy(repo.root, "../../etc/passwd")
    with pytest.raises(DocumentError):
        _deploy(repo.root, "broken")
    assert fake.called("up") == []


def test_placeholders_and_bad_platform_values_are_refused(
    checkout, backend, platform_config, monkeypatch, tmp_path
) -> None:
    repo = checkout(demo=request_text("demo", hours(24)))
    backend()
    monkeypatch.delenv("SRE_ENV_PLATFORM_CONFIG")
    with pytest.raises(PlatformConfigRefused, match="placeholders") as refused:
        _deploy(repo.root)
    assert "sre-platform:vpcId" in str(refused.value)
    bad = tmp_path / "bad.yaml"
    bad.write_text(platform_config.read_text().replace("vpc-0123456789abcdef0", "not-a-vpc"))
    monkeypatch.setenv("SRE_ENV_PLATFORM_CONFIG", str(bad))
    with pytest.raises(PlatformConfigRefused, match="vpcId"):
        _deploy(repo.root)
    bad.write_text(platform_config.read_text() + "  sre-platform:grafanaHost: g.example.com\n")
    with pytest.raises(DocumentError) as unknown:
        _deploy(repo.root)
    assert "not a platform key" in str(unknown.value.problems[0])


def test_the_production_guard_lets_environment_stacks_update() -> None:
    """A real update (not a preview) of env-* stacks needs no gate receipt: their tier is
    test, whatever the environment is called."""
    for stack in ("env-demo", "env-prod-migration", "env-staging"):
        run_under_mocks(
            lambda: require_gate_receipt(REPO_ROOT),
            project="sre-platform",
            stack=stack,
            config={},
            preview=False,
            organization="acme",
        )
