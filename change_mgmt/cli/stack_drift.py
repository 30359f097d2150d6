"""``sre stack drift STACK``: a refresh preview that expects no changes; drift is told."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape

from change_mgmt.cli.common import (
    EXIT_FAILED,
    FormatOption,
    OutputFormat,
    ProjectDirOption,
    err,
    out,
    print_json,
    project_dir,
    user_errors,
)

if TYPE_CHECKING:
    from change_mgmt.ledger.records import ChangeRecord
    from change_mgmt.stack_drift import DriftReport

SCHEMA = "sre-platform/stack-drift/v1"


def drift_command(
    stack: str = typer.Argument(..., help="dev, staging or prod (also org/STACK)."),
    output: OutputFormat = FormatOption,
    directory: Path | None = ProjectDirOption,
) -> None:
    """Check STACK for drift: `pulumi preview --refresh --expect-no-changes` with the
    repository's policy pack. Drift is posted to the SRE channel ($SRE_DRIFT_WEBHOOK_URL,
    a Mattermost incoming webhook) and recorded as a proposed normal change; it is
    never applied here. A preview that fails or says nothing is not "no drift".

    Exit codes: 0 no drift; 1 drift found, or the preview failed (fail closed); 2
    invalid input (not a platform stack, a bad webhook URL, no Pulumi CLI).
    """
    from change_mgmt.gate.automation import PulumiUnavailable
    from change_mgmt.stack_drift import DriftCheckRefused, check_drift

    with (
        user_errors(DriftCheckRefused, PulumiUnavailable),
        err.status(f"refresh preview of {escape(stack)}…"),
    ):
        report = check_drift(project_dir(directory), stack, clock=lambda: datetime.now(UTC))
    if output is OutputFormat.json:
        print_json(drift_document(report))
    else:
        _print(report)
    if report.status != "no-drift":
        raise typer.Exit(EXIT_FAILED)


def drift_document(report: DriftReport) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "stack": report.stack,
        "status": report.status,
        "drifted": [
            {"op": c.op, "type": c.type, "name": c.name, "urn": c.urn} for c in report.drifted
        ],
        "failures": list(report.failures),
        "change": None
        if report.record is None
        else {
            "id": report.record.id,
            "ticket": report.record.ticket,
            "state": report.record.state.value,
        },
        "notified": report.notified,
        "notify_error": report.notify_error,
    }


def _change(record: ChangeRecord) -> dict[str, Any]:
    return {"id": record.id, "ticket": record.ticket, "state": record.state.value}


def _print(report: DriftReport) -> None:
    stack = escape(report.stack)
    if report.status == "no-drift":
        out.print(f"[green]no drift[/]: {stack} matches its code")
        return
    if report.status == "failed":
        out.print(f"[bold red]could not check[/] {stack}: the refresh preview failed")
        for failure in report.failures:
            out.print(f"  {escape(failure)}")
        return
    out.print(f"[bold red]drift[/] on {stack}: {len(report.drifted)} resource(s) differ")
    for change in report.drifted:
        out.print(f"  {escape(change.op)} {escape(change.type)} {escape(change.name)}")
    if report.record is not None:
        out.print(f"  recorded as change {report.record.ticket} (proposed; not applied)")
    if report.notified:
        out.print("  the SRE channel was told")
    elif report.notify_error:
        out.print(f"  [red]not told[/]: {escape(report.notify_error)}")
