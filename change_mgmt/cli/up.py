"""``sre up``: apply a production change through the gate, exactly as it was gated."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.markup import escape

from change_mgmt.cli.common import (
    EXIT_FAILED,
    EXIT_INVALID,
    ProjectDirOption,
    err,
    fail,
    out,
    print_json,
    project_dir,
    user_errors,
)
from change_mgmt.cli.gate import EXIT_CLOSED, print_gate_text
from change_mgmt.evidence.location import EvidenceConfigError
from change_mgmt.gate.automation import PulumiUnavailable, StackNotNamed
from change_mgmt.gate.report import gate_document
from change_mgmt.gate.run import GateRequest
from change_mgmt.gate.up import UpOutcome, apply_gated_change
from change_mgmt.receipts import ReceiptError


def up_command(
    stack: str = typer.Option(
        ..., "--stack", "-s", help="The stack to update: prod, org/prod or org/project/prod."
    ),
    emergency: bool = typer.Option(
        False, "--emergency", help="Break glass (needs --reason); always recorded."
    ),
    reason: str | None = typer.Option(
        None, "--reason", metavar="TEXT", help="Why this is an emergency."
    ),
    author: str | None = typer.Option(
        None,
        "--author",
        metavar="EMAIL",
        help=(
            "The change's author (default: $SRE_CHANGE_AUTHOR, else the author of the newest "
            "commit that changes more than approval records)."
        ),
    ),
    base_ref: str | None = typer.Option(
        None,
        "--base-ref",
        metavar="BRANCH",
        help="The protected base branch (CI: origin/main): policy, freezes and approvers.",
    ),
    json_output: bool = typer.Option(
        False, "--json", help="Print one JSON document (the gate report plus the outcome)."
    ),
    project: Path | None = ProjectDirOption,
) -> None:
    """Preview with a saved plan, gate it, and when the gate is open apply exactly that plan.

    Needs the Pulumi CLI and the gate key ($SRE_GATE_KEY), which signs the short-lived
    receipt a production stack's program demands for a real update; the receipt names
    the stack as org/project/stack and the plan file by its sha256. The receipt check
    stops a plain `pulumi up` on production, not `pulumi destroy`, `refresh`, `import`
    or `state` commands: the control for those is the deployer role only CI can assume.
    Stack outputs are never fetched, so no secret is decrypted or printed. The change
    record moves to applying, then applied or failed.

    Exit codes: 0 applied, 3 the gate is closed (nothing applied), 1 the update failed,
    2 bad input or usage (no Pulumi CLI, no gate key, a stack Pulumi cannot name in
    full, a bad policy).
    """
    if emergency and not (reason or "").strip():
        fail('--emergency needs --reason "<what is broken>"', EXIT_INVALID)
    if reason and not emergency:
        fail("--reason is only for emergency changes", EXIT_INVALID)
    request = GateRequest(
        project_dir=project_dir(project),
        stack=stack,
        now=datetime.now(UTC),
        emergency=emergency,
        reason=reason,
        author=author,
        base_ref=base_ref,
    )
    with user_errors(EvidenceConfigError):
        try:
            with err.status(f"Previewing and gating {stack}…"):
                result = apply_gated_change(
                    request,
                    clock=lambda: datetime.now(UTC),
                    on_output=lambda line: err.print(escape(line.rstrip()), highlight=False),
                )
        except (PulumiUnavailable, StackNotNamed, ReceiptError) as exc:
            fail(escape(str(exc)), EXIT_INVALID)
    if json_output:
        print_json({**gate_document(result.gate), "update": _update_document(result)})
    else:
        _print(result)
    if not result.gate.decision.open:
        raise typer.Exit(EXIT_CLOSED)
    raise typer.Exit(0 if result.applied else EXIT_FAILED)


def _update_document(result: UpOutcome) -> dict[str, object]:
    return {
        "applied": result.applied,
        "state": result.record.state.value,
        "changes": result.changes,
        "error": result.error,
    }


def _print(result: UpOutcome) -> None:
    if not result.gate.decision.open:
        print_gate_text(result.gate)
        out.print("[bold red]Nothing was applied.[/]")
        return
    record, stack = result.record, result.gate.changeset.stack
    if result.applied:
        changes = ", ".join(f"{count} {op}" for op, count in sorted(result.changes.items()))
        summary = escape(changes or "no changes")
        out.print(f"[bold green]Applied[/] change {record.id} to {escape(stack)}: {summary}")
        return
    out.print(
        f"[bold red]The update of {escape(stack)} failed[/]; change {record.id} is marked failed."
    )
    out.print(escape(result.error or ""))
    out.print(
        "What to do: the stack may be partly updated. See where it stands with "
        f"`pulumi preview --stack {escape(stack)}`; then fix forward (a new change through "
        f"`sre up --stack {escape(stack)}`) or roll back (revert the commit and run "
        "`sre up` again). If production is down, use --emergency with a reason."
    )
