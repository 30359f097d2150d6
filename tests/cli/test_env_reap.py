"""``sre env reap`` on the command line: dry run, real run, JSON, exit codes."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from change_mgmt.cli.app import app
from tests.change_mgmt.lifecycle.helpers import hours, make_backend, make_checkout, request_text

pytestmark = pytest.mark.slow


@pytest.fixture
def setup(tmp_path, monkeypatch):
    repo = make_checkout(
        tmp_path,
        old=request_text("old", hours(-2)),
        live=request_text("live", hours(20)),
        broken="name: broken\nowner: dana.kim@example.com\nteam: [x\n",
    )
    stacks = {
        n: {"resources": 2, "config": {}} for n in ("env-old", "env-live", "env-broken", "prod")
    }
    fake = make_backend(tmp_path, monkeypatch)(stacks)
    return repo, fake


def _reap(root, *args: str):
    return CliRunner().invoke(app, ["env", "reap", *args, "--project-dir", str(root)])


def test_dry_run_json_lists_exactly_the_expired_and_exits_1_for_the_broken(setup) -> None:
    repo, fake = setup
    result = _reap(repo.root, "--dry-run", "--format", "json")
    assert result.exit_code == 1, result.output
    document = json.loads(result.stdout)
    assert document["schema"] == "sre-platform/env-reap/v1" and document["dry_run"]
    outcomes = {s["stack"]: s["outcome"] for s in document["stacks"]}
    assert outcomes == {"env-broken": "invalid", "env-live": "kept", "env-old": "would-destroy"}
    assert document["ignored"] == ["prod"] and document["grace_minutes"] == 10
    assert fake.called("destroy") == []


def test_the_real_run_destroys_exactly_the_expired_one_line_per_stack(setup) -> None:
    repo, fake = setup
    result = _reap(repo.root, "--parallel", "2")
    assert result.exit_code == 1  # the broken request is still reported
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert len([line for line in lines if line.startswith(("destroyed", "kept", "invalid"))]) == 3
    assert any(line.startswith("destroyed env-old") for line in lines)
    assert sorted(fake.stacks()) == ["env-broken", "env-live", "prod"]
    repo.delete("broken")
    clean = _reap(repo.root, "--format", "json")
    assert clean.exit_code == 0, clean.output
    assert {s["stack"]: s["outcome"] for s in json.loads(clean.stdout)["stacks"]} == {
        "env-broken": "destroyed",
        "env-live": "kept",
    }


def test_a_future_at_is_refused_on_a_real_run_but_answers_a_dry_run(setup) -> None:
    repo, fake = setup
    future = hours(48).isoformat()
    refused = _reap(repo.root, "--at", future)
    assert refused.exit_code == 2 and "never destroys early" in refused.output
    what_if = _reap(repo.root, "--dry-run", "--at", future, "--format", "json")
    outcomes = {s["stack"]: s["outcome"] for s in json.loads(what_if.stdout)["stacks"]}
    assert outcomes["env-live"] == "would-destroy"
    assert fake.called("destroy") == []


def test_bad_parallel_is_a_usage_error(setup) -> None:
    repo, _ = setup
    assert _reap(repo.root, "--parallel", "0").exit_code == 2
