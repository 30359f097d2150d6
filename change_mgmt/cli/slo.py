"""``sre slo``: the team's SLOs (Sloth's spec formats, in slos/) and their Prometheus rules."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape

from change_mgmt.cli.common import (
    FormatOption,
    OutputFormat,
    ProjectDirOption,
    out,
    print_json,
    project_dir,
    user_errors,
)
from change_mgmt.cli.help import SreTyper
from change_mgmt.slo.errors import SloError
from change_mgmt.slo.load import SLO_DIRECTORY, SloCatalog, load_catalog, load_slo_file
from change_mgmt.slo.model import EventsSli, Slo, SloFile
from change_mgmt.slo.rules import file_rule_groups, render_rule_file
from change_mgmt.slo.runbooks import RunbookLinks
from change_mgmt.slo.windows import DEFAULT_PERIOD, windows_for

SCHEMA = "sre-platform/slo-list/v1"

app = SreTyper(
    help=(
        f"SLOs as code: Sloth specs in {SLO_DIRECTORY}/ (the prometheus/v1 spec or the "
        "sloth.slok.dev/v1 PrometheusServiceLevel resource) and the Prometheus rules they "
        "generate, with Sloth's series names, labels and alerts.\n\n"
        "Exit codes: 0 success; 2 invalid input (a bad spec or windows file, an SLO period "
        "without alert windows, a path that does not exist)."
    ),
)


def _catalog(paths: list[Path] | None, directory: Path | None) -> tuple[SloCatalog, Path]:
    base = project_dir(directory)
    return load_catalog(paths or [base / SLO_DIRECTORY], relative_to=base), base


@app.command("validate")
def validate_command(
    paths: list[Path] | None = typer.Argument(
        None, metavar="PATH", help=f"Spec files or folders (default: {SLO_DIRECTORY}/)."
    ),
    directory: Path | None = ProjectDirOption,
) -> None:
    """Check SLO specs: fields, objectives in (0, 100], {{.window}} in every query, names,
    duplicate SLOs, and that an SLO written in both formats says the same in both.

    Every problem is shown as file:line:column: field: message.

    Exit codes: 0 every spec is valid; 2 a spec is invalid or a path does not exist.
    """
    with user_errors(SloError):
        catalog, _ = _catalog(paths, directory)
    for slo_file in catalog.files:
        ids = ", ".join(escape(slo.id) for slo in slo_file.slos)
        out.print(f"[bold green]✓[/] {escape(slo_file.path)} ({slo_file.spec_format}): {ids}")
    out.print(f"{len(catalog.files)} file(s), {len(catalog.slos())} SLO(s): valid")


@app.command("list")
def list_command(
    paths: list[Path] | None = typer.Argument(
        None, metavar="PATH", help=f"Spec files or folders (default: {SLO_DIRECTORY}/)."
    ),
    output: OutputFormat = FormatOption,
    directory: Path | None = ProjectDirOption,
) -> None:
    """The SLOs, each once, with objective, SLI kind, alerts and the files that define it.

    Exit codes: 0 listed; 2 a spec is invalid or a path does not exist.
    """
    with user_errors(SloError):
        catalog, _ = _catalog(paths, directory)
    entries = [_entry(slo, files) for slo, files in catalog.slos()]
    if output is OutputFormat.json:
        print_json({"schema": SCHEMA, "slos": entries})
        return
    from change_mgmt.cli.layout import Field, print_records

    rows = [
        {
            "id": escape(e["id"]),
            "objective": f"{e['objective']:g} %",
            "sli": e["sli"],
            "alerts": ", ".join(e["alerts"]) or "none",
            "files": escape(", ".join(e["files"])),
        }
        for e in entries
    ]
    if not rows:
        out.print(f"no SLOs (no spec in {SLO_DIRECTORY}/)")
        return
    print_records(
        out,
        [
            Field("id"),
            Field("objective", justify="right"),
            Field("sli"),
            Field("alerts"),
            Field("files", prose=True),
        ],
        rows,
    )


def _entry(slo: Slo, files: list[SloFile]) -> dict[str, Any]:
    return {
        "id": slo.id,
        "service": slo.service,
        "slo": slo.name,
        "objective": slo.objective,
        "description": slo.description,
        "sli": "events" if isinstance(slo.sli, EventsSli) else "raw",
        "alerts": [s for s in ("page", "ticket") if slo.alert(s) is not None],
        "files": [f.where(slo.id) for f in files],
    }


@app.command("rules")
def rules_command(
    spec: Path = typer.Argument(
        ..., metavar="SPEC", help="One SLO spec file (either Sloth format)."
    ),
    period: str | None = typer.Option(
        None,
        "--period",
        metavar="PERIOD",
        help=f"SLO period: 7d, 28d or 30d, or the windows file's (default: {DEFAULT_PERIOD}).",
    ),
    windows_file: Path | None = typer.Option(
        None,
        "--windows",
        metavar="FILE",
        help="An AlertWindows file (sloth.slok.dev/v1) instead of the shipped windows.",
    ),
    runbook_base: str | None = typer.Option(
        None,
        "--runbook-base",
        metavar="URL",
        help="Repository URL for runbook links, e.g. https://github.com/acme/sre-platform/"
        "blob/main (default: repository-relative docs/runbooks/...).",
    ),
) -> None:
    """Print the Prometheus rule file (groups:) for one spec on stdout: SLI and metadata
    recording rules and the page and ticket alerts, as Sloth generates them.

    Exit codes: 0 printed; 2 the spec or windows file is invalid, or the period has no
    alert windows.
    """
    with user_errors(SloError):
        slo_file = load_slo_file(spec)
        windows = windows_for(period, windows_file)
        groups = file_rule_groups(slo_file, windows, runbooks=RunbookLinks(runbook_base))
    sys.stdout.write(render_rule_file(groups, source=slo_file.path))
