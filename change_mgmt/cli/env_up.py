"""``sre env up NAME``: deploy one environment request as stack ``env-NAME``."""

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
    from change_mgmt.environments.deploy import DeployOutcome

SCHEMA = "sre-platform/env-up/v1"


def up_command(
    name: str = typer.Argument(..., help="The environment (stacks/environments/NAME.yaml)."),
    output: OutputFormat = FormatOption,
    directory: Path | None = ProjectDirOption,
) -> None:
    """Deploy the request NAME: create or select stack env-NAME, set its platform
    config, run `pulumi up`, and record the deploy as a change record.

    The request must be valid and not expired. The platform config is Pulumi.yaml's,
    overridden by the file $SRE_ENV_PLATFORM_CONFIG names; a multitenant database needs
    $SRE_SHARED_DB_ADMIN_PASSWORD (set as a secret). A deploy already applied on this
    commit is not run again. docs/environments.md describes the lifecycle.

    Exit codes: 0 deployed (or already deployed); 1 the update failed (the change is
    marked failed; run again to retry), or another operation holds the stack; 2
    invalid input (unknown, invalid or expired request, incomplete platform config, no
    Pulumi CLI).
    """
    from change_mgmt.environments.deploy import DeployRefused, deploy_environment
    from change_mgmt.environments.platform import PlatformConfigRefused
    from change_mgmt.environments.stacks import PulumiUnavailable

    with user_errors(DeployRefused, PlatformConfigRefused, PulumiUnavailable):
        outcome = deploy_environment(
            project_dir(directory),
            name,
            clock=lambda: datetime.now(UTC),
            on_output=lambda line: err.print(escape(line.rstrip()), highlight=False),
        )
    if output is OutputFormat.json:
        print_json(up_document(outcome))
    else:
        _print(outcome)
    if not outcome.applied:
        raise typer.Exit(EXIT_FAILED)


def up_document(outcome: DeployOutcome) -> dict[str, Any]:
    record = outcome.record
    return {
        "schema": SCHEMA,
        "environment": outcome.loaded.request.name,
        "stack": outcome.stack,
        "applied": outcome.applied,
        "already_applied": outcome.already_applied,
        "changes": dict(sorted(outcome.changes.items())),
        "outputs": outcome.outputs,
        "error": outcome.error,
        "change": {
            "id": record.id,
            "ticket": record.ticket,
            "state": record.state.value,
            "digest": record.digest,
            "commit": record.commit,
        },
    }


def _print(outcome: DeployOutcome) -> None:
    stack, record = escape(outcome.stack), outcome.record
    if outcome.already_applied:
        out.print(
            f"[green]Already deployed[/]: {stack} as change {record.ticket} (this request, "
            "config and commit); nothing to do"
        )
        return
    if outcome.applied:
        changes = ", ".join(f"{n} {op}" for op, n in sorted(outcome.changes.items()))
        out.print(f"[bold green]Deployed[/] {stack}: {escape(changes or 'no changes')}")
        url = outcome.outputs.get("url")
        if isinstance(url, str):
            out.print(f"  url: {escape(url)}")
        out.print(f"  change {record.ticket}: applied")
        return
    out.print(f"[bold red]The update of {stack} failed[/]; change {record.ticket} is failed.")
    out.print(escape(outcome.error or ""))
    out.print(
        "What to do: fix the cause and run `sre env up` again (a retry of the same change); "
        "the stack may be partly updated."
    )
