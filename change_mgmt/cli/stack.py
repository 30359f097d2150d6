"""``sre stack``: the platform stacks (dev, staging, prod), seen before they are deployed.

The rendering here (resources in tree order, outputs, cost, policy findings; the JSON
document) is shared with ``sre env render``, which adds its request's header.
"""

from __future__ import annotations

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
from change_mgmt.cli.help import SreTyper

if TYPE_CHECKING:
    from change_mgmt.environments.render import RenderedStack

RENDER_KIND = "declared-resources"
RENDER_NOTE = "declared by the stack program under Pulumi mocks; not a pulumi preview"

app = SreTyper(
    help=(
        "The platform stacks dev, staging and prod (stacks/platform.py, one "
        "Pulumi.<stack>.yaml each): the observability platform of each environment.\n\n"
        "Typical flow: edit Pulumi.<stack>.yaml or the components, `sre stack render "
        "STACK`, open a pull request; `sre up --stack STACK` deploys through the gate.\n\n"
        "Exit codes: 0 success; 1 a check failed (a mandatory policy rule in render); "
        "2 invalid input (an unknown stack, invalid stack config)."
    ),
)


@app.command()
def render(
    stack: str = typer.Argument(..., help="dev, staging or prod (Pulumi.<stack>.yaml)."),
    output: OutputFormat = FormatOption,
    directory: Path | None = ProjectDirOption,
) -> None:
    """Show every resource the platform program declares for STACK, its outputs (secrets
    redacted), its monthly cost, and the policy pack's findings.

    The program runs under Pulumi mocks with the stack's config and placeholder secrets:
    no cloud account, no Pulumi CLI. This is the declared resource set, not a `pulumi
    preview` (which also compares with what exists). docs/platform.md describes the
    --format json document.

    Exit codes: 0 rendered, no mandatory finding; 1 a mandatory policy rule failed, or
    the program failed; 2 invalid input (not a platform stack, no stack file, invalid
    stack config).
    """
    # Imported here: the provider SDKs take a second to load and only render needs them.
    from change_mgmt.environments.render import InvalidStack, render_platform_stack

    with (
        user_errors(InvalidStack),
        err.status(f"evaluating stack {escape(stack)} under Pulumi mocks…"),
    ):
        rendered = render_platform_stack(project_dir(directory), stack)
    if output is OutputFormat.json:
        print_json(rendered_document(rendered))
    else:
        out.print(f"[bold]{escape(rendered.stack)}[/] — platform stack ({rendered.source})")
        print_rendered(rendered)
    if not rendered.policy.passed:
        raise typer.Exit(EXIT_FAILED)


def rendered_document(rendered: RenderedStack) -> dict[str, Any]:
    """The ``--format json`` document of a render (docs/platform.md lists its keys)."""
    from change_mgmt.environments.summary import redacted, resource_document

    cost = rendered.cost
    return {
        "kind": RENDER_KIND,
        "note": RENDER_NOTE,
        "stack": rendered.stack,
        "source": rendered.source,
        "resources": [resource_document(r) for r in rendered.resources],
        "outputs": redacted(rendered.exports),
        "cost": {
            "currency": cost.table.currency,
            "region": cost.table.region,
            "prices_as_of": cost.table.as_of,
            "source": cost.table.source,
            "monthly_total": cost.monthly_total,
            "lines": [
                {
                    "resource": line.resource,
                    "type": line.type,
                    "monthly": line.monthly,
                    "basis": line.basis,
                }
                for line in cost.lines
            ],
            "unpriced": [{"type": r.type, "name": r.name} for r in cost.unpriced],
        },
        "policy": rendered.policy.as_dict(),
    }


def print_rendered(rendered: RenderedStack) -> None:
    """Resources, outputs, cost and findings of a render, for a terminal."""
    from change_mgmt.cli.layout import Field, print_pairs, print_records
    from change_mgmt.cli.policy import print_report
    from change_mgmt.environments.summary import key_inputs, redacted

    out.print(
        "[dim]Declared resource set from the stack program under Pulumi mocks — "
        "not a `pulumi preview`.[/]",
        soft_wrap=False,
    )
    resources = [
        {
            "name": escape(resource.name),
            "type": escape(resource.type),
            "parent": escape(resource.parent_name),
            "inputs": escape(key_inputs(resource)),
        }
        for resource in rendered.resources
    ]
    fields = [
        Field("name"),
        Field("type"),
        Field("parent"),
        Field("inputs", "inputs that matter", prose=True),
    ]
    print_records(out, fields, resources)
    protected = sum(1 for resource in rendered.resources if resource.protect)
    out.print(
        f"{len(rendered.resources)} resources" + (f", {protected} protected" if protected else "")
    )
    if rendered.exports:
        out.print("[bold]outputs[/]")
        outputs = redacted(rendered.exports).items()
        print_pairs(out, [(f"{escape(key)}:", escape(str(value))) for key, value in outputs])
    cost = rendered.cost
    out.print(
        f"[bold]estimated cost[/]: {cost.table.currency} {cost.monthly_total:,.2f} / month "
        f"({cost.table.region}, prices as of {cost.table.as_of}; {escape(cost.table.source)})",
        soft_wrap=False,
    )
    lines = [
        (f"{line.monthly:,.2f}", f"{escape(line.resource)}: {escape(line.basis)}")
        for line in cost.lines
    ]
    print_pairs(out, lines, justify="right")
    if cost.unpriced:
        names = ", ".join(f"{r.name} ({r.type})" for r in cost.unpriced)
        print_pairs(out, [("[yellow]not priced[/]:", escape(names))])
    out.print(
        "[bold]policy pack[/] (the rules `pulumi preview --policy-pack policies` runs)",
        soft_wrap=False,
    )
    print_report(rendered.policy, rendered.source)


from change_mgmt.cli import stack_affected  # noqa: E402  (registered after app exists)

app.command("affected")(stack_affected.affected_command)

from change_mgmt.cli import stack_drift  # noqa: E402  (registered after app exists)

app.command("drift")(stack_drift.drift_command)
