"""Expiry reminders (``sre env remind``): the day before an environment expires, its
owner is told on the team's Mattermost channel, once per environment and expiry time.

Which environments: those whose request expires within the next 24 hours and has not
expired yet (``0 < expires_at - now <= 24 h``: the ``expiring`` state of ``sre env
list``). Run hourly, a reminder arrives 23 to 24 hours before the expiry; a request
made or extended to less than 24 hours gets its reminder on the next run.

Once: the ledger keeps one row per ``(environment, expires_at)``. A run claims the row
atomically before it posts and marks it sent after, so two runs at once never both
post; a failed post releases the claim and the next run sends it. A run that dies
between posting and recording leaves a claim that another run takes over once its
lease (15 minutes) has run out: that errs towards a duplicate reminder, never none.
Moving ``expires_at`` (an extension) makes a new row, hence a new reminder.

What a message says: the environment's name, its owner (as a Mattermost mention when
the email's local part is a possible Mattermost user name), the expiry (UTC, ISO 8601
and in words) and how to extend it. Nothing else of the request (purpose, variables,
labels) is posted, and the owner's email domain never is.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from change_mgmt.documents import DOCUMENT_FIELD, DocumentError, Problem
from change_mgmt.environments.catalog import (
    EXPIRING_WITHIN,
    REQUESTS_DIR,
    EnvironmentState,
    display_path,
    load_request,
    request_files,
    state_of,
)
from change_mgmt.environments.request import MAX_LIFETIME, EnvironmentRequest, format_expiry
from change_mgmt.ledger.store import Ledger
from change_mgmt.notify import WebhookError, post_message, validate_webhook_url

if TYPE_CHECKING:
    import httpx

WEBHOOK_ENV = "SRE_REMINDER_WEBHOOK_URL"
"""The environment variable holding the team channel's incoming webhook URL (a secret)."""
REMIND_WITHIN = EXPIRING_WITHIN
"""How long before its expiry an environment's owner is reminded (24 hours)."""
COLOR = "#e0a000"
_MATTERMOST_USER = re.compile(r"^[a-z][a-z0-9._-]{2,21}$")
_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]")
"""Shown in place of any character of a local part that Markdown could read."""
_SPECIAL_MENTIONS = frozenset({"all", "channel", "here", "everyone"})


class Result(StrEnum):
    """What happened to one due reminder."""

    SENT = "sent"
    FAILED = "failed"
    """The post failed: nothing is recorded as sent, the next run tries again."""
    ALREADY_SENT = "already-sent"
    IN_PROGRESS = "in-progress"
    """Another run claimed it moments ago and is posting it."""
    WOULD_SEND = "would-send"
    """Dry run: it would be sent now."""


@dataclass(frozen=True)
class Outcome:
    name: str
    path: str
    owner: str
    mention: str | None
    expires_at: datetime
    result: Result
    attempt: int | None = None
    possible_duplicate: bool = False
    """This run took over a claim a crashed run left: the owner may get it twice."""
    error: str | None = None


@dataclass
class RemindReport:
    at: datetime
    dry_run: bool
    outcomes: list[Outcome] = field(default_factory=list)
    skipped: list[Problem] = field(default_factory=list)
    """Request files that could not be read: their owners cannot be reminded."""

    @property
    def ok(self) -> bool:
        return not self.skipped and all(o.result is not Result.FAILED for o in self.outcomes)

    def count(self, result: Result) -> int:
        return sum(1 for outcome in self.outcomes if outcome.result is result)


@dataclass(frozen=True)
class _Due:
    request: EnvironmentRequest
    path: str


def mention_for(owner: str) -> str | None:
    """``@local-part`` of the owner's email when it can be a Mattermost user name
    (3-22 of ``a-z 0-9 . _ -``, starting with a letter; our users sign in with their
    email's local part), else ``None``. Never a channel-wide mention (``@channel``...)."""
    local = owner.rpartition("@")[0].lower()
    if not _MATTERMOST_USER.match(local) or local in _SPECIAL_MENTIONS:
        return None
    return f"@{local}"


def owner_label(owner: str) -> str:
    """How the owner is named in a message: the mention, else the plain local part."""
    mention = mention_for(owner)
    if mention:
        return mention
    local = _UNSAFE.sub("?", owner.rpartition("@")[0])
    return f"`{local}`"


def due_environments(base: Path, now: datetime) -> tuple[list[_Due], list[Problem]]:
    """Requests expiring within :data:`REMIND_WITHIN` of ``now``, and unreadable ones.

    The policy pack's settings are not applied: a request its size no longer fits is
    still an environment whose owner must hear of its expiry.
    """
    due: list[_Due] = []
    problems: list[Problem] = []
    for path in request_files(base / REQUESTS_DIR):
        shown = display_path(path, base)
        try:
            request = load_request(path, shown_path=shown, now=now).request
        except DocumentError as exc:
            problems.extend(exc.problems)
            continue
        except Exception as exc:  # one file's failure never hides the others
            problems.append(
                Problem(shown, 1, 1, DOCUMENT_FIELD, f"could not be read ({type(exc).__name__})")
            )
            continue
        if state_of(request, now) is EnvironmentState.EXPIRING:
            due.append(_Due(request, shown))
    return due, sorted(problems)


def message(
    request: EnvironmentRequest, path: str, now: datetime
) -> tuple[str, list[dict[str, Any]]]:
    """The text (self-sufficient, with the mention) and one Slack attachment."""
    expiry = format_expiry(request.expires_at)
    words = human_time(request.expires_at)
    left = time_left(request.expires_at - now)
    latest = format_expiry(now + MAX_LIFETIME)
    owner = owner_label(str(request.owner))
    extend = (
        f"To keep it, open a pull request that moves `expires_at` in `{path}` to a later "
        f"time: at most {MAX_LIFETIME.days} days after the pull request is validated "
        f"(today, until {latest}), and merge it before the environment expires. "
        "Otherwise the reaper destroys it once it has expired."
    )
    text = (
        f"{owner} your test environment **{request.name}** expires in {left}, "
        f"at {expiry} ({words}).\n{extend}"
    )
    attachment = {
        "fallback": f"Test environment {request.name} expires at {expiry}",
        "color": COLOR,
        "title": f"Test environment {request.name} expires in {left}",
        "fields": [
            {"title": "Environment", "value": request.name, "short": True},
            {"title": "Owner", "value": owner, "short": True},
            {"title": "Expires at (UTC)", "value": f"{expiry}\n{words}", "short": True},
            {"title": "How to extend", "value": extend, "short": False},
        ],
    }
    return text, [attachment]


def human_time(moment: datetime) -> str:
    """``Wednesday 2 December 2026, 17:00 UTC``."""
    return f"{moment:%A} {moment.day} {moment:%B %Y, %H:%M} UTC"


def time_left(delta: Any) -> str:
    minutes = max(int(delta.total_seconds()) // 60, 0)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"


def send_reminders(
    base: Path,
    *,
    now: datetime,
    webhook_url: str | None,
    dry_run: bool = False,
    client: httpx.Client | None = None,
) -> RemindReport:
    """Remind the owner of every environment that expires within 24 hours, once.

    ``dry_run`` posts and records nothing (it reads the ledger, if there is one, to
    tell which reminders were sent). Otherwise ``webhook_url`` is required; one failed
    post never stops the others, and a failure is left for the next run to retry.
    """
    due, problems = due_environments(base, now)
    report = RemindReport(at=now, dry_run=dry_run, skipped=problems)
    if dry_run:
        report.outcomes = _dry_run(base, due)
        return report
    if webhook_url is None:
        raise ValueError("a webhook URL is needed unless dry_run")
    validate_webhook_url(webhook_url)
    if not due:
        return report
    ledger = Ledger.for_repository(base)
    with _client(client) as http:
        for item in due:
            request = item.request
            claim = ledger.claim_reminder(request.name, request.expires_at, now=now)
            if claim is None:
                report.outcomes.append(_already(ledger, item))
                continue
            text, attachments = message(request, item.path, now)
            try:
                post_message(webhook_url, text, attachments=attachments, client=http)
            except Exception as exc:  # a failure never stops the others; retried next run
                error = str(exc) if isinstance(exc, WebhookError) else type(exc).__name__
                ledger.reminder_failed(claim, error, now=now)
                outcome = _outcome(item, Result.FAILED, error=error)
            else:
                ledger.reminder_sent(claim, now=now)
                outcome = _outcome(item, Result.SENT)
            report.outcomes.append(
                replace(outcome, attempt=claim.attempt, possible_duplicate=claim.taken_over)
            )
    return report


def _dry_run(base: Path, due: list[_Due]) -> list[Outcome]:
    sent: set[tuple[str, datetime]] = set()
    if Ledger.exists_in(base):
        ledger = Ledger.for_repository(base)
        sent = {(r.environment, r.expires_at) for r in ledger.reminders() if r.state == "sent"}
    return [
        _outcome(
            item,
            Result.ALREADY_SENT
            if (item.request.name, item.request.expires_at) in sent
            else Result.WOULD_SEND,
        )
        for item in due
    ]


def _already(ledger: Ledger, item: _Due) -> Outcome:
    rows = [
        r for r in ledger.reminders(item.request.name) if r.expires_at == item.request.expires_at
    ]
    state = rows[0].state if rows else "sent"
    return _outcome(item, Result.ALREADY_SENT if state == "sent" else Result.IN_PROGRESS)


def _outcome(item: _Due, result: Result, error: str | None = None) -> Outcome:
    owner = str(item.request.owner)
    return Outcome(
        name=item.request.name,
        path=item.path,
        owner=owner,
        mention=mention_for(owner),
        expires_at=item.request.expires_at,
        result=result,
        error=error,
    )


@contextmanager
def _client(client: httpx.Client | None) -> Iterator[httpx.Client]:
    """The caller's client, or one of our own for the whole run (closed after)."""
    if client is not None:
        yield client
        return
    from change_mgmt.http import new_client

    own = new_client()
    try:
        yield own
    finally:
        own.close()
