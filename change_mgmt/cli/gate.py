"""``sre gate``: may this preview of a production stack be applied, and if not, why not."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

import typer
from rich.markup import escape

from change_mgmt.cli.common import (
    EXIT_INVALID,
    ProjectDirOption,
    at_option,
    err,
    fail,
    out,
    print_json,
    project_dir,
    user_errors,
)
from change_mgmt.evidence.location import EvidenceConfigError
from change_mgmt.gate.automation import PulumiUnavailable
from change_mgmt.gate.report import (
    base_line,
    gate_document,
    gate_markdown,
    next_steps,
    preview_problem,
    risky_first,
)
from change_mgmt.gate.run import GateOutcome, GateRequest, run_gate
from change_mgmt.preview import PreviewError

EXIT_OPEN = 0
EXIT_CLOSED = 3
TEXT_STEPS = 25

_LEVEL_STYLE = {
    "low": "green",
    "medium": "yellow",
    "high": "bold red",
    "critical": "bold white on red",
}


class GateFormat(StrEnum):
    text = "text"
    json = "json"
    markdown = "markdown"


def gate_command(
    stack: str = typer.Option(
        ..., "--stack", "-s", help="The stack to gate, e.g. prod or acme/sre-platform/prod."
    ),
    preview: Path | None = typer.Option(
        None,
        "--preview",
        metavar="FILE",
        help=(
            "Output of `pulumi preview --json`: one document (text before and after it is "
            "ignored); an event log belongs to --events."
        ),
        exists=True,
        dir_okay=False,
    ),
    events: Path | None = typer.Option(
        None,
        "--events",
        metavar="FILE",
        help=(
            "An engine event log: `pulumi preview --event-log FILE`, one event per line, "
            "ending with the engine's summary (carries policy violations)."
        ),
        exists=True,
        dir_okay=False,
    ),
    output_format: GateFormat = typer.Option(
        GateFormat.text,
        "--format",
        "-f",
        help=(
            "text for people, json for machines (stable; see docs/gate-json.md), markdown "
            "for a PR comment."
        ),
    ),
    emergency: bool = typer.Option(
        False, "--emergency", help="Break glass: fewer approvals, always recorded; needs --reason."
    ),
    reason: str | None = typer.Option(
        None,
        "--reason",
        metavar="TEXT",
        help="Why this is an emergency (required with --emergency).",
    ),
    author: str | None = typer.Option(
        None,
        "--author",
        metavar="EMAIL",
        help=(
            "The change's author, checked for four eyes (default: $SRE_CHANGE_AUTHOR, else "
            "the author of the newest commit that changes more than approval records)."
        ),
    ),
    at: datetime | None = at_option(
        "What-if: assess as of this moment (ISO 8601 with offset; default: now). Never "
        "changes the recorded assessment nor approves the record."
    ),
    base_ref: str | None = typer.Option(
        None,
        "--base-ref",
        metavar="BRANCH",
        help=(
            "The protected base branch: a branch or remote-tracking branch, never a tag "
            "(CI: origin/main; default $SRE_BASE_REF). The risk policy, freeze calendar and "
            "approvers.yaml are read as they are there, so a change cannot relax its own "
            "rules. Without it, approvers still come from origin/main when this clone has "
            "it, else main."
        ),
    ),
    exit_zero: bool = typer.Option(
        False,
        "--exit-zero",
        help="Exit 0 whenever the gate ran, open or closed (report only, e.g. a PR comment step).",
    ),
    project: Path | None = ProjectDirOption,
) -> None:
    """Gate a preview: risk, reasons, required approvals, and whether it may be applied.

    Give the preview as a file (--preview or --events); without either, the preview is
    run through the Pulumi Automation API when the Pulumi CLI is installed, and its plan
    is saved under .sre/plans/ for `pulumi up --plan`.

    Records the change in the local ledger (.sre/ledger.sqlite3; see `sre changes`).
    With $SRE_EVIDENCE_URL (s3://BUCKET), also archives the redacted preview, plan and
    JSON report there and names them on the record; a failed upload closes the gate
    (docs/evidence.md).

    A preview that failed (error diagnostics, a failed result) or is incomplete (no
    summaryEvent, fewer steps than its summary counts) closes the gate; input that is not
    a preview at all, or the wrong format for the flag, is bad input.

    Exit codes: 0 the gate is open, 3 it is closed (0 with --exit-zero), 2 bad input or
    usage, 1 other failure.
    """
    if preview is not None and events is not None:
        fail("give either --preview or --events, not both", EXIT_INVALID)
    if emergency and not (reason or "").strip():
        fail('--emergency needs --reason "<what is broken and why this cannot wait>"', EXIT_INVALID)
    if reason and not emergency:
        fail(
            "--reason is only for emergency changes; add --emergency or drop --reason", EXIT_INVALID
        )
    if at is not None and at.tzinfo is None:
        fail("--at needs a time zone offset, e.g. 2026-12-01T09:00:00+00:00", EXIT_INVALID)
    request = GateRequest(
        project_dir=project_dir(project),
        stack=stack,
        now=datetime.now(UTC),
        assess_at=at,
        preview=preview,
        events=events,
        emergency=emergency,
        reason=reason,
        author=author,
        base_ref=base_ref,
    )
    with user_errors(EvidenceConfigError), _no_cyclic_gc():
        try:
            if preview is None and events is None:
                with err.status(f"Running pulumi preview of {stack}…"):
                    outcome = run_gate(request)
            else:
                outcome = run_gate(request)
        except (PreviewError, PulumiUnavailable) as exc:
            fail(escape(str(exc)), EXIT_INVALID)
    if output_format is GateFormat.json:
        print_json(gate_document(outcome))
    elif output_format is GateFormat.markdown:
        out.print(gate_markdown(outcome), markup=False, highlight=False, soft_wrap=True)
    else:
        print_gate_text(outcome)
    raise typer.Exit(EXIT_OPEN if outcome.decision.open or exit_zero else EXIT_CLOSED)


@contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector for one gate run.

    A decoded preview is millions of acyclic objects; the collector rescans them again
    and again and costs about half the run (benchmarks/gate_pipeline.py). One command
    runs once and exits, so nothing accumulates meanwhile.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def print_gate_text(outcome: GateOutcome) -> None:
    """The gate's verdict for people; every line fits the terminal and wraps between
    words, and the digest, levels and times are never cut."""
    from change_mgmt.cli.layout import Field, print_items, print_records

    changeset, assessment, decision = outcome.changeset, outcome.assessment, outcome.decision
    verdict = "[bold green]OPEN[/]" if decision.open else "[bold red]CLOSED[/]"
    style = _LEVEL_STYLE[assessment.level]
    groups = ", ".join(decision.required_groups)
    summary = preview_problem(outcome) or (
        ", ".join(f"{count} {op}" for op, count in changeset.summary.items()) or "no resources"
    )
    ticket = escape(outcome.ticket.key) if outcome.ticket else "none"
    for line in (
        f"Gate {verdict} for stack [bold]{escape(changeset.stack)}[/] ({assessment.tier})",
        f"Risk [{style}]{assessment.level.upper()}[/] score {assessment.score}/100 · "
        f"change type {assessment.change_type} · approvals {len(decision.approvers)}/"
        f"{decision.required_approvals}" + (f" (incl. group {escape(groups)})" if groups else ""),
        f"Changes: {escape(summary)} · ticket {ticket}",
        f"Digest: {changeset.digest}",
        escape(base_line(outcome)),
    ):
        out.print(line, soft_wrap=False)
    out.print()
    out.print("[bold]Why the gate is " + ("open" if decision.open else "closed") + "[/]")
    print_items(
        out,
        "•",
        [
            f"{escape(reason.message)} [dim]({escape(reason.code)})[/]"
            for reason in decision.reasons
        ],
    )
    steps = next_steps(outcome)
    if steps:
        out.print("[bold]What to do next[/]")
        for step in steps:
            print_items(out, "→", [escape(step.text)])
            if step.command:
                print_items(out, " ", [f"[bold]{escape(step.command)}[/]"], indent=4)
    if assessment.factors:
        out.print("[bold]Risk factors[/]")
        factors = [
            {"rule": escape(f.rule), "points": str(f.points), "why": escape(f.explanation)}
            for f in assessment.factors
        ]
        fields = [Field("rule"), Field("points", justify="right"), Field("why", prose=True)]
        print_records(out, fields, factors)
    problems = (outcome.ticket_problem,) if outcome.ticket_problem else ()
    notes = (*assessment.notes, *outcome.approval_notes, *problems)
    if notes:
        print_items(out, "[dim]note:[/]", [f"[dim]{escape(note)}[/]" for note in notes], indent=0)
    risky = risky_first(outcome)
    if risky:
        out.print("[bold]Steps, riskiest first[/]")
        rows = [
            {
                "name": escape(item.change.name),
                "op": item.change.op,
                "type": escape(item.change.type),
                "points": f"{item.step.points:.0f}",
                "changed": escape(item.paths(4)),
                "flags": escape(item.flags("protected")),
            }
            for item in risky[:TEXT_STEPS]
        ]
        fields = [*map(Field, ("name", "op", "type")), Field("points", justify="right")]
        print_records(
            out, [*fields, Field("changed", prose=True), Field("flags", prose=True)], rows
        )
        if len(risky) > TEXT_STEPS:
            out.print(f"[dim]… and {len(risky) - TEXT_STEPS} more steps; see --format json[/]")
