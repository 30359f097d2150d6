"""``sre env remind``: tell owners, the day before, that their environment expires."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape

from change_mgmt.cli.common import (
    EXIT_FAILED,
    EXIT_INVALID,
    FormatOption,
    OutputFormat,
    ProjectDirOption,
    at_option,
    err,
    fail,
    out,
    print_json,
    project_dir,
    user_errors,
)

if TYPE_CHECKING:
    from change_mgmt.environments.reminders import RemindReport

SCHEMA = "sre-platform/env-remind/v1"
WEBHOOK_ENV = "SRE_REMINDER_WEBHOOK_URL"  # = reminders.WEBHOOK_ENV (kept light here)


def remind_command(
    dry_run: bool = typer.Option(
        False, "--dry-run", help="List the reminders due; post nothing, record nothing."
    ),
    at: datetime | None = at_option(
        "Judge expiry as of this moment (ISO 8601 with offset, e.g. "
        "2026-12-01T09:00:00+00:00; default: now)."
    ),
    output: OutputFormat = FormatOption,
    directory: Path | None = ProjectDirOption,
) -> None:
    """Remind owners on Mattermost the day before their environment expires.

    Every request that expires within the next 24 hours (and has not expired) gets one
    message on the team channel through the incoming webhook in
    $SRE_REMINDER_WEBHOOK_URL: the environment, its owner as a mention, the expiry and
    how to extend it. Each reminder is sent once per environment and expiry time (the
    ledger remembers); moving expires_at makes a new one. A failed post is recorded as
    not sent and retried by the next run; it never stops the others. Run it hourly.

    Exit codes: 0 every due reminder is sent (or was before; --dry-run: listed); 1 a
    post failed (retried by the next run) or a request file cannot be read; 2 invalid
    input ($SRE_REMINDER_WEBHOOK_URL unset or not an https URL, a bad option).
    """
    now = (at or datetime.now(UTC)).astimezone(UTC)
    url = os.environ.get(WEBHOOK_ENV, "").strip() or None
    if url is None and not dry_run:
        fail(
            f"${WEBHOOK_ENV} is not set: set it to the team channel's Mattermost incoming "
            "webhook URL (a secret), or use --dry-run",
            EXIT_INVALID,
        )
    from change_mgmt.environments.reminders import send_reminders

    with user_errors():
        base = project_dir(directory)
        if url is not None and not dry_run:
            _check_url(url)
        report = send_reminders(base, now=now, webhook_url=url, dry_run=dry_run)
    if output is OutputFormat.json:
        print_json(_json(report))
    else:
        _text(report)
    if not report.ok:
        raise typer.Exit(EXIT_FAILED)


def _check_url(url: str) -> None:
    from change_mgmt.notify import WebhookError, validate_webhook_url

    try:
        validate_webhook_url(url)
    except WebhookError as exc:
        fail(f"${WEBHOOK_ENV}: {escape(str(exc))}", EXIT_INVALID)


def _json(report: RemindReport) -> dict[str, Any]:
    from change_mgmt.environments.reminders import REMIND_WITHIN
    from change_mgmt.environments.request import format_expiry

    return {
        "schema": SCHEMA,
        "at": format_expiry(report.at),
        "dry_run": report.dry_run,
        "window_hours": int(REMIND_WITHIN.total_seconds() // 3600),
        "reminders": [
            {
                "name": o.name,
                "path": o.path,
                "owner": o.owner,
                "mention": o.mention,
                "expires_at": format_expiry(o.expires_at),
                "result": o.result.value,
                "attempt": o.attempt,
                "possible_duplicate": o.possible_duplicate,
                "error": o.error,
            }
            for o in report.outcomes
        ],
        "skipped": [problem.as_dict() for problem in report.skipped],
    }


def _text(report: RemindReport) -> None:
    from change_mgmt.cli.layout import Field, print_records
    from change_mgmt.environments.reminders import Result, time_left
    from change_mgmt.environments.request import format_expiry

    colours = {Result.SENT: "green", Result.FAILED: "red", Result.WOULD_SEND: "yellow"}
    rows = [
        {
            "name": escape(o.name),
            "result": f"[{colours.get(o.result, 'dim')}]{o.result.value}[/]",
            "expires_at": format_expiry(o.expires_at),
            "left": time_left(o.expires_at - report.at),
            "owner": escape(o.mention or o.owner),
            "note": escape(o.error or ("may be a duplicate" if o.possible_duplicate else "")),
        }
        for o in report.outcomes
    ]
    if rows:
        fields = [Field("name"), Field("result"), Field("expires_at"), Field("left")]
        print_records(out, [*fields, Field("owner"), Field("note", prose=True)], rows)
    for problem in report.skipped:
        err.print(f"{escape(str(problem))} (not reminded: the request cannot be read)")
    prefix = "dry run: " if report.dry_run else ""
    if not rows:
        err.print(f"{prefix}no environment expires within the next 24 hours")
        return
    counts = ", ".join(
        f"{report.count(result)} {result.value}" for result in Result if report.count(result)
    )
    failed = report.count(Result.FAILED)
    retry = "; the next run retries the failed ones" if failed else ""
    err.print(f"{prefix}{len(rows)} reminder(s) due: {counts}{retry}")
