"""Expiry reminders end to end: request files in a real git checkout, the real SQLite
ledger, and a webhook on loopback that records what it received."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from change_mgmt.environments.reminders import (
    REMIND_WITHIN,
    RemindReport,
    Result,
    human_time,
    mention_for,
    message,
    owner_label,
    send_reminders,
)
from change_mgmt.environments.request import EnvironmentRequest
from change_mgmt.ledger import Ledger
from change_mgmt.ledger.store import REMINDER_LEASE
from tests.change_mgmt.notify.webhook_server import TOKEN, FakeWebhook
from tests.conftest import git, request_yaml

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
SOON = "2026-11-27T21:00:00Z"  # 12 h after NOW: due
LATER = "2026-11-30T09:00:00Z"  # 3 days after NOW: not due yet
GONE = "2026-11-27T08:00:00Z"  # expired an hour before NOW: not reminded


@pytest.fixture
def hook() -> Iterator[FakeWebhook]:
    with FakeWebhook() as server:
        yield server


@pytest.fixture
def project(git_project: Callable[..., Path]) -> Path:
    return git_project(
        soon=request_yaml(
            "soon",
            expires_at=SOON,
            owner="dana.kim@example.com",
            purpose="private-purpose-text",
            labels="{ticket: BE-4182}",
        ),
        later=request_yaml("later", expires_at=LATER),
        gone=request_yaml("gone", expires_at=GONE),
    )


def run(project: Path, hook: FakeWebhook, at: datetime = NOW) -> RemindReport:
    return send_reminders(project, now=at, webhook_url=hook.url)


def write(project: Path, name: str, text: str) -> None:
    (project / "stacks" / "environments" / f"{name}.yaml").write_text(text)
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", f"update {name}")


def test_one_message_per_expiring_environment_across_repeated_runs(
    project: Path, hook: FakeWebhook
) -> None:
    first = run(project, hook)
    assert [(o.name, o.result) for o in first.outcomes] == [("soon", Result.SENT)]
    assert first.ok and first.outcomes[0].attempt == 1
    for hours in (0, 1, 5, 11):
        again = run(project, hook, NOW + timedelta(hours=hours, minutes=1))
        assert [(o.name, o.result) for o in again.outcomes] == [("soon", Result.ALREADY_SENT)]
    assert len(hook.messages) == 1
    [row] = Ledger.for_repository(project).reminders()
    assert (row.environment, row.state) == ("soon", "sent")


def test_the_message_says_who_what_when_and_how_to_extend_and_nothing_else(
    project: Path, hook: FakeWebhook
) -> None:
    run(project, hook)
    [posted] = hook.messages
    text = posted["text"]
    assert text.startswith("@dana.kim your test environment **soon** expires in 12 h 00 min")
    assert "2026-11-27T21:00:00Z" in text and "Friday 27 November 2026, 21:00 UTC" in text
    assert "`stacks/environments/soon.yaml`" in text and "`expires_at`" in text
    assert "at most 14 days" in text and "until 2026-12-11T09:00:00Z" in text
    [attachment] = posted["attachments"]
    fields = {f["title"]: f["value"] for f in attachment["fields"]}
    assert fields["Environment"] == "soon" and fields["Owner"] == "@dana.kim"
    assert fields["Expires at (UTC)"].startswith("2026-11-27T21:00:00Z")
    everything = str(posted)
    for private in ("private-purpose-text", "BE-4182", "example.com", "backend"):
        assert private not in everything


def test_a_webhook_that_fails_once_loses_nothing(project: Path, hook: FakeWebhook) -> None:
    hook.fail_next(503)
    failed = run(project, hook)
    [outcome] = failed.outcomes
    assert outcome.result is Result.FAILED and not failed.ok
    assert outcome.error and "HTTP 503" in outcome.error and TOKEN not in outcome.error
    [row] = Ledger.for_repository(project).reminders()
    assert row.state == "failed" and row.sent_at is None
    assert row.last_error and TOKEN not in row.last_error
    retried = run(project, hook, NOW + timedelta(hours=1))
    assert [(o.result, o.attempt) for o in retried.outcomes] == [(Result.SENT, 2)]
    assert retried.ok and len(hook.messages) == 1
    assert run(project, hook, NOW + timedelta(hours=2)).outcomes[0].result is Result.ALREADY_SENT
    assert len(hook.messages) == 1


def test_one_failure_never_stops_the_others(
    git_project: Callable[..., Path], hook: FakeWebhook
) -> None:
    project = git_project(
        alpha=request_yaml("alpha", expires_at=SOON, owner="ann.lee@example.com"),
        beta=request_yaml("beta", expires_at=SOON, owner="bob.ray@example.com"),
    )
    hook.fail_next(500)
    report = run(project, hook)
    assert [(o.name, o.result) for o in report.outcomes] == [
        ("alpha", Result.FAILED),
        ("beta", Result.SENT),
    ]
    report = run(project, hook, NOW + timedelta(hours=1))
    assert [(o.name, o.result) for o in report.outcomes] == [
        ("alpha", Result.SENT),
        ("beta", Result.ALREADY_SENT),
    ]
    assert sorted(t.split()[0] for t in hook.texts()) == ["@ann.lee", "@bob.ray"]


def test_a_refused_connection_is_a_failure_retried_later(project: Path, hook: FakeWebhook) -> None:
    with FakeWebhook() as gone:
        dead_url = gone.url
    report = send_reminders(project, now=NOW, webhook_url=dead_url)
    assert report.outcomes[0].result is Result.FAILED
    assert "could not connect" in (report.outcomes[0].error or "")
    assert run(project, hook).outcomes[0].result is Result.SENT


def test_an_extended_environment_is_reminded_before_its_new_expiry(
    project: Path, hook: FakeWebhook
) -> None:
    run(project, hook)
    write(project, "soon", request_yaml("soon", expires_at="2026-11-29T21:00:00Z"))
    assert run(project, hook, NOW + timedelta(hours=2)).outcomes == []
    report = run(project, hook, datetime(2026, 11, 28, 22, 0, tzinfo=UTC))
    assert [(o.name, o.result) for o in report.outcomes] == [("soon", Result.SENT)]
    assert len(hook.messages) == 2
    assert "2026-11-29T21:00:00Z" in hook.texts()[1]
    expiries = [r.expires_at for r in Ledger.for_repository(project).reminders("soon")]
    assert expiries == [
        datetime(2026, 11, 27, 21, tzinfo=UTC),
        datetime(2026, 11, 29, 21, tzinfo=UTC),
    ]


@pytest.mark.parametrize(
    ("left", "due"),
    [
        (REMIND_WITHIN + timedelta(seconds=1), False),
        (REMIND_WITHIN, True),
        (timedelta(seconds=1), True),
        (timedelta(0), False),  # expired at this very moment: the reaper's, not ours
        (-timedelta(hours=1), False),
    ],
)
def test_the_window_is_the_24_hours_before_expiry(
    project: Path, hook: FakeWebhook, left: timedelta, due: bool
) -> None:
    at = datetime(2026, 11, 27, 21, tzinfo=UTC) - left
    names = [o.name for o in run(project, hook, at).outcomes if o.name == "soon"]
    assert names == (["soon"] if due else [])
    assert sum("**soon**" in text for text in hook.texts()) == int(due)


def test_a_run_that_died_before_recording_is_taken_over_after_the_lease(
    project: Path, hook: FakeWebhook
) -> None:
    # A run claimed the reminder (and maybe posted it), then died before recording.
    ledger = Ledger.for_repository(project)
    assert ledger.claim_reminder("soon", datetime(2026, 11, 27, 21, tzinfo=UTC), now=NOW)
    soon_after = run(project, hook, NOW + REMINDER_LEASE - timedelta(minutes=1))
    assert [o.result for o in soon_after.outcomes] == [Result.IN_PROGRESS]
    assert soon_after.ok and hook.messages == []
    later = run(project, hook, NOW + REMINDER_LEASE + timedelta(minutes=1))
    [outcome] = later.outcomes
    assert outcome.result is Result.SENT and outcome.possible_duplicate and outcome.attempt == 2
    assert len(hook.messages) == 1


def test_two_runs_at_once_send_each_reminder_once(
    git_project: Callable[..., Path], hook: FakeWebhook
) -> None:
    names = [f"env-{n}" for n in range(6)]
    project = git_project(
        **{
            name: request_yaml(name, expires_at=SOON, owner=f"user{n}@example.com")
            for n, name in enumerate(names)
        }
    )
    Ledger.for_repository(project)
    hook.delay_seconds = 0.05  # every post takes a while: the runs overlap
    start = threading.Barrier(2)
    reports = []

    def one_run() -> None:
        start.wait(10)
        reports.append(run(project, hook))

    threads = [threading.Thread(target=one_run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(reports) == 2
    sent = [o.name for report in reports for o in report.outcomes if o.result is Result.SENT]
    assert sorted(sent) == names
    assert sorted(t.split()[0] for t in hook.texts()) == [f"@user{n}" for n in range(6)]


def test_an_unreadable_request_is_reported_and_the_others_still_go_out(
    project: Path, hook: FakeWebhook
) -> None:
    write(project, "broken", "name: broken\nowner: [not, an, email\n")
    report = run(project, hook)
    assert [o.result for o in report.outcomes] == [Result.SENT]
    assert [p.path for p in report.skipped] == ["stacks/environments/broken.yaml"]
    assert not report.ok


def test_a_request_the_policy_no_longer_allows_is_still_reminded(
    project: Path, hook: FakeWebhook
) -> None:
    (project / "policies").mkdir()
    (project / "policies" / "config.yaml").write_text(
        "test_environment:\n  allowed_sizes: [miniSingleton]\n"
    )
    write(project, "big", request_yaml("big", expires_at=SOON, size="25000users"))
    assert "big" in [o.name for o in run(project, hook).outcomes]


def test_dry_run_posts_and_records_nothing(project: Path, hook: FakeWebhook) -> None:
    report = send_reminders(project, now=NOW, webhook_url=None, dry_run=True)
    assert [(o.name, o.result) for o in report.outcomes] == [("soon", Result.WOULD_SEND)]
    assert hook.requests == [] and not Ledger.path_in(project).exists()
    run(project, hook)
    again = send_reminders(project, now=NOW, webhook_url=None, dry_run=True)
    assert [o.result for o in again.outcomes] == [Result.ALREADY_SENT]
    assert len(hook.requests) == 1


@pytest.mark.parametrize(
    ("owner", "mention"),
    [
        ("dana.kim@example.com", "@dana.kim"),
        ("Dana.Kim@example.com", "@dana.kim"),
        ("ravi_patel-2@example.com", "@ravi_patel-2"),
        ("ab@example.com", None),  # Mattermost user names have 3 characters at least
        ("a" * 23 + "@example.com", None),
        ("9lives@example.com", None),
        ("dana+test@example.com", None),
        ("channel@example.com", None),  # never a channel-wide mention
        ("all@example.com", None),
        ("here@example.com", None),
    ],
)
def test_mentions(owner: str, mention: str | None) -> None:
    assert mention_for(owner) == mention


def test_an_owner_without_a_mention_is_named_by_the_local_part_only() -> None:
    assert owner_label("channel@example.com") == "`channel`"
    assert owner_label("dana+test@example.com") == "`dana+test`"


def test_times_in_words() -> None:
    assert human_time(datetime(2026, 12, 2, 17, 0, tzinfo=UTC)) == (
        "Wednesday 2 December 2026, 17:00 UTC"
    )


def test_message_is_built_from_the_request_alone() -> None:
    request = EnvironmentRequest.model_validate(
        {
            "name": "demo",
            "owner": "here@example.com",
            "team": "qa",
            "purpose": "demo",
            "version": "10.11.2",
            "expires_at": "2026-11-27T09:30:00Z",
        }
    )
    text, _ = message(request, "stacks/environments/demo.yaml", NOW)
    assert text.startswith("`here` your test environment **demo** expires in 30 min")
    assert "@here" not in text
