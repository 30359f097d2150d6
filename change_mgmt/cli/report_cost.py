"""``sre report cost``: monthly cost per team and platform stack, non-production share.

Thin: change_mgmt.report.cost renders and prices; this module prints a table, bars
(people would rather look than read) and the JSON document. Top-level imports stay light.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape
from rich.table import Table

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
    from change_mgmt.report.cost import CostReport, StackCost

BAR_WIDTH = 40
"""The longest bar, in cells: with its label and amount a line stays within 80 columns."""
_EIGHTHS = " ▏▎▍▌▋▊▉"


def _clock() -> datetime:
    return datetime.now(UTC)


def cost_command(
    target_share: float = typer.Option(
        25.0,
        "--target-share",
        metavar="PERCENT",
        help="The most non-production may be of the total cost, in percent.",
    ),
    output: OutputFormat = FormatOption,
    directory: Path | None = ProjectDirOption,
) -> None:
    """Show the estimated monthly cost of every test environment (per team) and of each
    platform stack, and the share of non-production in the total against the target.

    Each stack's program runs under Pulumi mocks, as in `sre env render` and `sre stack
    render`, and what it declares is priced from policies/prices.yaml. Non-production is
    every environment plus dev and staging; production is prod. Resources without a
    price are listed, never counted as 0. docs/cost.md describes the estimate and the
    --format json document.

    Exit codes: 0 the share is within the target; 1 it is over the target, or a
    program failed; 2 invalid input (--target-share, a request file, a stack's config).
    """
    from change_mgmt.environments.render import InvalidStack, PolicyRefused
    from change_mgmt.report.cost import InvalidTarget, build_cost_report, check_target

    now = _clock()
    with user_errors(InvalidTarget, InvalidStack, PolicyRefused):
        check_target(target_share)
        base = project_dir(directory)
        with err.status("pricing the stacks under Pulumi mocks…") as status:
            report = build_cost_report(
                base,
                now,
                target_share=target_share,
                progress=lambda stack: status.update(f"pricing {escape(stack)}…"),
            )
    if output is OutputFormat.json:
        print_json(cost_document(report))
    else:
        print_cost(report)
    if not report.within_target:
        raise typer.Exit(EXIT_FAILED)


def _stack_document(item: StackCost) -> dict[str, Any]:
    from change_mgmt.environments.request import format_expiry

    document: dict[str, Any] = {
        "stack": item.stack,
        "source": item.source,
        "tier": item.tier,
        "production": item.production,
        "monthly": item.monthly,
        "unpriced": [{"type": kind, "name": name} for name, kind in item.unpriced],
    }
    if item.kind == "environment":
        document["team"] = item.team
        document["state"] = item.state.value if item.state else None
        document["expires_at"] = item.expires_at and format_expiry(item.expires_at)
    return document


def cost_document(report: CostReport) -> dict[str, Any]:
    """The ``--format json`` document (docs/cost.md lists its keys)."""
    from change_mgmt.report.cost import SCHEMA

    table = report.table
    environments = round(sum(e.monthly for e in report.environments), 2)
    return {
        "schema": SCHEMA,
        "currency": table.currency,
        "region": table.region,
        "prices_as_of": table.as_of,
        "environments": [_stack_document(e) for e in report.environments],
        "teams": [
            {"team": t.team, "environments": t.environments, "monthly": t.monthly}
            for t in report.teams
        ],
        "platform_stacks": [_stack_document(s) for s in report.platform],
        "totals": {
            "environments": environments,
            "platform_non_production": round(report.non_production - environments, 2),
            "non_production": report.non_production,
            "production": report.production,
            "total": report.total,
        },
        "non_production_share": report.share,
        "target_share": report.target_share,
        "within_target": report.within_target,
    }


def bar(value: float, maximum: float, width: int = BAR_WIDTH) -> str:
    """``value`` as a bar of at most ``width`` cells (eighths of a cell for the end)."""
    if maximum <= 0 or value <= 0:
        return ""
    eighths = round(width * 8 * min(value, maximum) / maximum)
    full, part = divmod(eighths, 8)
    return "█" * full + (_EIGHTHS[part] if part else "")


def share_bar(share: float, target: float, width: int = BAR_WIDTH) -> str:
    """A gauge of ``share`` percent with the target marked ``┃``: readable uncoloured."""
    filled = round(width * share / 100)
    mark = min(width - 1, round(width * target / 100))
    cells = ["█" if i < filled else "░" for i in range(width)]
    colour = "red" if share > target else "green"
    return "".join(
        "[bold]┃[/]" if i == mark else f"[{colour}]{c}[/]" if c == "█" else c
        for i, c in enumerate(cells)
    )


def _money(value: float) -> str:
    return f"{value:,.2f}"


def print_cost(report: CostReport) -> None:
    from change_mgmt.cli.layout import Field, print_pairs, print_records

    table = report.table
    currency = table.currency
    out.print(
        f"[bold]estimated monthly cost[/] ({currency}; {escape(table.region)} prices as of "
        f"{table.as_of}; unpriced resources are left out: each figure is a floor)",
        soft_wrap=False,
    )
    money_field = Field("monthly", f"{currency}/month", justify="right")
    if report.environments:
        out.print("[bold]test environments[/]")
        rows = [
            {
                "environment": escape(e.stack),
                "team": escape(e.team or ""),
                "state": e.state.value if e.state else "",
                "monthly": _money(e.monthly),
                "unpriced": str(len(e.unpriced)) if e.unpriced else "",
            }
            for e in report.environments
        ]
        fields = [Field("environment"), Field("team"), Field("state")]
        print_records(out, [*fields, money_field, Field("unpriced", justify="right")], rows)
    if report.platform:
        out.print("[bold]platform stacks[/]")
        rows = [
            {
                "stack": escape(s.stack),
                "tier": s.tier,
                "monthly": _money(s.monthly),
                "unpriced": str(len(s.unpriced)) if s.unpriced else "",
            }
            for s in report.platform
        ]
        print_records(
            out,
            [Field("stack"), Field("tier"), money_field, Field("unpriced", justify="right")],
            rows,
        )
    _print_bars(report)
    totals = [
        (f"{_money(report.non_production)}", "non-production (environments, dev, staging)"),
        (f"{_money(report.production)}", "production (prod)"),
        (f"{_money(report.total)}", f"total {currency} / month"),
    ]
    print_pairs(out, totals, justify="right")
    unpriced = Counter(kind for s in report.stacks for kind in s.unpriced_types)
    if unpriced:
        out.print(
            f"[yellow]not priced[/]: {sum(unpriced.values())} resources of these types have "
            "no price in policies/prices.yaml (--format json names each):",
            soft_wrap=False,
        )
        print_pairs(out, [(str(n), escape(kind)) for kind, n in sorted(unpriced.items())])
    if report.share is None:
        out.print("nothing is priced: no share to compare with the target")
    elif report.within_target:
        out.print(
            f"[green]✓ within target[/]: non-production is {report.share:g} % of the total "
            f"(target ≤ {report.target_share:g} %)",
            soft_wrap=False,
        )
    else:
        out.print(
            f"[red]✗ over target[/]: non-production is {report.share:g} % of the total, "
            f"target ≤ {report.target_share:g} %",
            soft_wrap=False,
        )


def _print_bars(report: CostReport) -> None:
    """Bars per team and per platform stack on one scale, then the share gauge."""
    groups = [
        (
            "per team (test environments)",
            [(f"{t.team} ({t.environments})", t.monthly) for t in report.teams],
        ),
        ("per platform stack", [(s.stack, s.monthly) for s in report.platform]),
    ]
    largest = max((value for _, rows in groups for _, value in rows), default=0.0)
    width = max(10, min(BAR_WIDTH, out.width - 30))
    for title, rows in groups:
        if not rows:
            continue
        out.print(f"[bold]{title}[/]")
        grid = Table.grid(padding=(0, 1))
        grid.add_column(no_wrap=True)
        grid.add_column(no_wrap=True, style="cyan")
        grid.add_column(no_wrap=True, justify="right")
        for label, value in rows:
            grid.add_row(f"  {escape(label)}", bar(value, largest, width), _money(value))
        out.print(grid)
    if report.share is not None:
        out.print("[bold]non-production share[/] (┃ marks the target)")
        grid = Table.grid(padding=(0, 1))
        grid.add_column(no_wrap=True)
        grid.add_column(no_wrap=True)
        grid.add_row(
            "  " + share_bar(report.share, report.target_share, width),
            f"{report.share:g} % (target ≤ {report.target_share:g} %)",
        )
        out.print(grid)
