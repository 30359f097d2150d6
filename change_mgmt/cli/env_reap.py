"""``sre env reap``: destroy the environment stacks whose request expired or was deleted."""

from __future__ import annotations

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
    from change_mgmt.environments.reap import Reaped, ReapReport

SCHEMA = "sre-platform/env-reap/v1"
_COLOURS = {
    "destroyed": "green",
    "would-destroy": "yellow",
    "kept": "green",
    "failed": "red",
    "not-removed": "red",
    "busy": "red",
    "invalid": "red",
}


def reap_command(
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Only list what would be destroyed and why."
    ),
    parallel: int = typer.Option(
        4, "--parallel", "-p", min=1, max=32, metavar="N", help="Destroy at most N at once."
    ),
    at: datetime | None = at_option(
        "Judge expiry as of this moment (ISO 8601 with offset; default: now). A real "
        "run takes only a past moment: it may never destroy early."
    ),
    output: OutputFormat = FormatOption,
    directory: Path | None = ProjectDirOption,
) -> None:
    """Destroy every env-* stack whose request (stacks/environments/NAME.yaml in this
    checkout) was deleted or expired more than 10 minutes ago, then remove the stack.

    Other stacks are never touched; an active request keeps its stack; an invalid or
    unreadable request is reported and its stack kept. Each destroy is a change record;
    a failed one is reported, the others go on, and the next run retries it. One line
    per stack; a progress bar on a terminal. One reaper runs at a time.

    Exit codes: 0 every doomed stack destroyed and removed (or none); 1 a destroy or
    removal failed, a request is invalid, another reaper is running, or Pulumi could
    not list the stacks; 2 invalid input (a bad option, a future --at on a real run, no
    Pulumi CLI, no requests folder).
    """
    from change_mgmt.environments.locks import LockHeld
    from change_mgmt.environments.reap import ReapRefused, plan
    from change_mgmt.environments.stacks import PulumiUnavailable

    real_now = datetime.now(UTC)
    now = (at or real_now).astimezone(UTC)
    if not dry_run and now > real_now:
        fail(
            "--at in the future is only for --dry-run: a real run never destroys early",
            EXIT_INVALID,
        )
    base = project_dir(directory)
    with user_errors(ReapRefused, PulumiUnavailable):
        if dry_run:
            report = plan(base, now=now)
        else:
            try:
                report = _run(base, now, parallel, text=output is OutputFormat.text)
            except LockHeld as exc:
                fail(escape(str(exc)), EXIT_FAILED)
    if output is OutputFormat.json:
        print_json(reap_document(report))
    else:
        _print_summary(report)
    if not report.ok:
        raise typer.Exit(EXIT_FAILED)


def _run(base: Path, now: datetime, parallel: int, *, text: bool) -> ReapReport:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from change_mgmt.environments.reap import reap

    # The bar and the result lines share stdout, so they never garble each other.
    show_bar = text and out.is_terminal
    with Progress(
        TextColumn("destroying"),
        BarColumn(),
        MofNCompleteColumn(),
        console=out,
        disable=not show_bar,
        transient=True,
    ) as progress:
        task = progress.add_task("destroy", total=0)

        def started(count: int) -> None:
            progress.update(task, total=count)

        def finished(result: Reaped) -> None:
            progress.advance(task)
            if text:
                progress.console.print(_line(result), highlight=False)

        return reap(
            base,
            now=now,
            clock=lambda: datetime.now(UTC),
            parallel=parallel,
            on_start=started,
            on_result=finished,
        )


def _line(result: Reaped) -> str:
    judged = result.judged
    colour = _COLOURS.get(result.outcome, "white")
    text = f"[{colour}]{result.outcome}[/] {escape(judged.stack.name)}: {escape(judged.reason)}"
    if result.outcome == "destroyed":
        text += f"; {result.deleted} resource(s) deleted, stack removed"
    if result.change_id is not None:
        text += f" (change CHG-{result.change_id})"
    if result.error:
        text += f"\n    {escape(result.error)}"
    return text


def _print_summary(report: ReapReport) -> None:
    printed = {"destroyed", "failed", "not-removed", "busy"} if not report.dry_run else set()
    for result in report.results:
        if result.outcome not in printed:  # the destroys were printed as they finished
            out.print(_line(result), highlight=False)
    counts: dict[str, int] = {}
    for result in report.results:
        counts[result.outcome] = counts.get(result.outcome, 0) + 1
    summary = ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items()))
    ignored = (
        f"; {len(report.ignored)} other stack(s) not env-*, untouched" if report.ignored else ""
    )
    err.print(f"{'dry run: ' if report.dry_run else ''}{summary or 'no env-* stacks'}{ignored}")


def reap_document(report: ReapReport) -> dict[str, Any]:
    from change_mgmt.environments.reap import GRACE
    from change_mgmt.environments.request import format_expiry

    return {
        "schema": SCHEMA,
        "at": report.at.isoformat().replace("+00:00", "Z"),
        "dry_run": report.dry_run,
        "grace_minutes": int(GRACE.total_seconds() // 60),
        "ok": report.ok,
        "stacks": [
            {
                "stack": r.judged.stack.name,
                "environment": r.judged.name,
                "verdict": r.judged.verdict,
                "reason": r.judged.reason,
                "expires_at": format_expiry(r.judged.expires_at) if r.judged.expires_at else None,
                "outcome": r.outcome,
                "deleted": r.deleted,
                "change": r.change_id,
                "error": r.error,
            }
            for r in report.results
        ],
        "ignored": report.ignored,
    }
