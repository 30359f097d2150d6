"""``sre env orphans``: AWS resources left behind by test environments, and their cost.

Thin: change_mgmt.environments.orphans asks AWS and judges; this module formats. Its
top-level imports stay light (boto3 loads only when the command runs).
"""

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
from change_mgmt.environments.request import format_expiry

if TYPE_CHECKING:
    from change_mgmt.environments.orphans import Orphan, OrphanReport

SCHEMA = "sre-platform/env-orphans/v1"


def _clock() -> datetime:
    """Now; where the command reads the clock."""
    return datetime.now(UTC)


def orphans_command(
    regions: list[str] | None = typer.Option(
        None,
        "--region",
        metavar="REGION",
        help=(
            "Ask this AWS region (repeat for several; default: the regions of Pulumi.yaml "
            "and of the platform stacks' Pulumi.<stack>.yaml)."
        ),
    ),
    output: OutputFormat = FormatOption,
    directory: Path | None = ProjectDirOption,
) -> None:
    """List AWS resources tagged managed-by=sre-platform whose test environment is gone
    (no request in stacks/environments/) or expired, with their estimated monthly waste.

    Resources are found with the Resource Groups Tagging API in every region asked, with
    the usual AWS credentials (environment, profile, role). The platform stacks'
    resources (no test-environment tag) are never orphans; a resource whose request
    cannot be read is listed as undetermined, not as an orphan. Waste comes from
    policies/prices.yaml; a type without a price is "unknown". docs/cost.md describes
    the --format json document.

    Exit codes: 0 no orphan found; 1 orphans found, or AWS could not be asked (no
    credentials, access denied); 2 invalid input (a region name).
    """
    from change_mgmt.environments.orphans import (
        InvalidRegion,
        check_region,
        configured_regions,
        find_orphans,
    )

    now = _clock()
    with user_errors(InvalidRegion):
        base = project_dir(directory)
        asked = [check_region(r) for r in regions] if regions else configured_regions(base)
        if not asked:
            raise InvalidRegion("no region configured in Pulumi.yaml: pass --region")
        with err.status(f"asking AWS in {', '.join(asked)}…"):
            report = find_orphans(base, asked, now)
    if output is OutputFormat.json:
        print_json(orphans_document(report))
    else:
        _print_text(report)
    if report.orphans:
        raise typer.Exit(EXIT_FAILED)


def _money(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _orphan_document(orphan: Orphan) -> dict[str, Any]:
    resource = orphan.resource
    return {
        "arn": resource.arn,
        "region": resource.region,
        "type": resource.kind,
        "id": resource.resource_id,
        "environment": resource.environment,
        "reason": orphan.reason,
        "detail": orphan.detail,
        "expired_at": orphan.expired_at and format_expiry(orphan.expired_at),
        "team": resource.tags.get("team"),
        "owner": resource.tags.get("owner"),
        "monthly_waste": _money(orphan.waste.monthly),
        "waste_basis": orphan.waste.basis,
    }


def orphans_document(report: OrphanReport) -> dict[str, Any]:
    """The ``--format json`` document (docs/cost.md lists its keys)."""
    table = report.table
    return {
        "schema": SCHEMA,
        "checked_at": format_expiry(report.checked_at),
        "regions": report.regions,
        "scanned": report.scanned,
        "platform": report.platform,
        "active": report.active,
        "currency": table.currency,
        "prices_as_of": table.as_of,
        "monthly_waste_known": report.known_waste,
        "unpriced": report.unpriced,
        "orphans": [_orphan_document(o) for o in report.orphans],
        "undetermined": [
            {
                "arn": u.resource.arn,
                "region": u.resource.region,
                "environment": u.resource.environment,
                "problem": u.problem,
            }
            for u in report.undetermined
        ],
    }


def _print_text(report: OrphanReport) -> None:
    from change_mgmt.cli.layout import Field, print_pairs, print_records

    table = report.table
    regions = ", ".join(report.regions)
    out.print(
        f"{report.scanned} resources tagged managed-by=sre-platform in {escape(regions)}: "
        f"{report.platform} of platform stacks, {report.active} of active environments, "
        f"{len(report.orphans)} orphaned, {len(report.undetermined)} undetermined",
        soft_wrap=False,
    )
    if report.orphans:
        rows = [
            {
                "environment": escape(o.resource.environment or ""),
                "why": o.reason,
                "region": escape(o.resource.region),
                "resource": escape(f"{o.resource.kind} {o.resource.resource_id}"),
                "waste": "unknown" if o.waste.monthly is None else f"{o.waste.monthly:,.2f}",
            }
            for o in report.orphans
        ]
        fields = [
            Field("environment"),
            Field("why"),
            Field("region"),
            Field("resource"),
            Field("waste", f"{table.currency}/month", justify="right"),
        ]
        print_records(out, fields, rows)
        unknown = f", {report.unpriced} unknown" if report.unpriced else ""
        out.print(
            f"[bold]estimated waste[/]: {table.currency} {report.known_waste:,.2f} / month"
            f"{unknown} (prices of {escape(table.region)} as of {table.as_of})",
            soft_wrap=False,
        )
        print_pairs(
            out,
            [
                (f"{escape(o.resource.resource_id)}:", escape(f"{o.detail}; {o.waste.basis}"))
                for o in report.orphans
            ],
        )
        out.print(
            "Destroy the stack env-<name> (`sre env reap`), or delete what it no longer "
            "tracks by hand.",
            soft_wrap=False,
        )
    for item in report.undetermined:
        err.print(
            f"[yellow]undetermined[/]: {escape(item.resource.arn)}: {escape(item.problem)}",
            soft_wrap=False,
        )
