"""``sre env remind`` through typer's runner: each exit code, both formats, no leaked URL."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from change_mgmt.cli.app import app
from tests.change_mgmt.notify.webhook_server import TOKEN, FakeWebhook
from tests.conftest import request_yaml

runner = CliRunner()
AT = "2026-11-27T09:00:00+00:00"


def sre(project: Path, *args: str, url: str | None = None) -> tuple[int, str, str]:
    env = {"SRE_PROJECT_DIR": str(project), "COLUMNS": "200", "SRE_REMINDER_WEBHOOK_URL": url}
    result = runner.invoke(app, ["env", "remind", *args], env=env)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def hook() -> Iterator[FakeWebhook]:
    with FakeWebhook() as server:
        yield server


@pytest.fixture
def project(git_project: Callable[..., Path]) -> Path:
    return git_project(
        soon=request_yaml("soon", expires_at="2026-11-27T21:00:00Z", owner="dana.kim@example.com"),
        later=request_yaml("later", expires_at="2026-11-30T09:00:00Z"),
    )


def test_sends_once_and_exits_0(project: Path, hook: FakeWebhook) -> None:
    code, stdout, stderr = sre(project, "--at", AT, url=hook.url)
    assert code == 0, stderr
    assert "soon" in stdout and "sent" in stdout and "@dana.kim" in stdout
    assert "1 reminder(s) due: 1 sent" in stderr
    code, stdout, stderr = sre(project, "--at", "2026-11-27T10:00:00+00:00", url=hook.url)
    assert code == 0, stderr
    assert "already-sent" in stdout
    assert len(hook.messages) == 1
    assert TOKEN not in stdout + stderr


def test_json_output(project: Path, hook: FakeWebhook) -> None:
    code, stdout, stderr = sre(project, "--at", AT, "--format", "json", url=hook.url)
    assert code == 0, stderr
    document = json.loads(stdout)
    assert document["schema"] == "sre-platform/env-remind/v1"
    assert document["at"] == "2026-11-27T09:00:00Z" and document["dry_run"] is False
    assert document["window_hours"] == 24 and document["skipped"] == []
    assert document["reminders"] == [
        {
            "name": "soon",
            "path": "stacks/environments/soon.yaml",
            "owner": "dana.kim@example.com",
            "mention": "@dana.kim",
            "expires_at": "2026-11-27T21:00:00Z",
            "result": "sent",
            "attempt": 1,
            "possible_duplicate": False,
            "error": None,
        }
    ]


def test_a_failed_post_exits_1_and_the_next_run_sends_it(project: Path, hook: FakeWebhook) -> None:
    hook.fail_next(503)
    code, stdout, stderr = sre(project, "--at", AT, url=hook.url)
    assert code == 1
    assert "failed" in stdout and "HTTP 503" in stdout
    assert "the next run retries the failed ones" in stderr
    assert TOKEN not in stdout + stderr and "/hooks/" not in stdout + stderr
    code, stdout, _ = sre(project, "--at", AT, "--format", "json", url=hook.url)
    assert code == 0
    assert json.loads(stdout)["reminders"][0]["attempt"] == 2
    assert len(hook.messages) == 1


def test_an_unreachable_webhook_exits_1_without_the_url(project: Path) -> None:
    with FakeWebhook() as gone:
        url = gone.url
    code, stdout, stderr = sre(project, "--at", AT, url=url)
    assert code == 1
    assert "could not connect" in stdout
    assert TOKEN not in stdout + stderr


def test_an_unreadable_request_exits_1(project: Path, hook: FakeWebhook) -> None:
    (project / "stacks" / "environments" / "broken.yaml").write_text("name: [\n")
    code, stdout, stderr = sre(project, "--at", AT, url=hook.url)
    assert code == 1
    assert "sent" in stdout and len(hook.messages) == 1
    assert "stacks/environments/broken.yaml" in stderr and "not reminded" in stderr


def test_no_webhook_url_exits_2(project: Path) -> None:
    code, _, stderr = sre(project, "--at", AT)
    assert code == 2
    assert "$SRE_REMINDER_WEBHOOK_URL is not set" in stderr and "--dry-run" in stderr
    assert not (project / ".sre").exists()


def test_a_blank_webhook_url_counts_as_unset(project: Path) -> None:
    assert sre(project, "--at", AT, url="  ")[0] == 2


def test_a_plain_http_webhook_url_exits_2_without_echoing_it(project: Path) -> None:
    code, stdout, stderr = sre(project, "--at", AT, url=f"http://chat.example.com/hooks/{TOKEN}")
    assert code == 2
    assert "must use https" in stderr
    assert TOKEN not in stdout + stderr and "chat.example.com" not in stdout + stderr


def test_a_bad_time_exits_2(project: Path, hook: FakeWebhook) -> None:
    code, _, stderr = sre(project, "--at", "tomorrow", url=hook.url)
    assert code == 2 and "--at" in stderr
    assert hook.requests == []


def test_dry_run_needs_no_url_and_posts_nothing(project: Path, hook: FakeWebhook) -> None:
    code, stdout, stderr = sre(project, "--dry-run", "--at", AT)
    assert code == 0, stderr
    assert "would-send" in stdout and "dry run: 1 reminder(s) due" in stderr
    assert not (project / ".sre").exists()
    code, stdout, _ = sre(project, "--dry-run", "--at", AT, url=hook.url)
    assert code == 0 and hook.requests == []


def test_nothing_due(project: Path, hook: FakeWebhook) -> None:
    code, stdout, stderr = sre(project, "--at", "2026-11-20T09:00:00+00:00", url=hook.url)
    assert code == 0 and stdout == ""
    assert "no environment expires within the next 24 hours" in stderr
    assert hook.requests == []
