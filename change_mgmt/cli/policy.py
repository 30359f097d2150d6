"""``sre policy``: the CrossGuard pack's rules, run offline over the project's stacks."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape

from change_mgmt.cli.common import (
    EXIT_FAILED,
    EXIT_INVALID,
    EXIT_OK,
    FormatOption,
    OutputFormat,
    ProjectDirOption,
    err,
    fail,
    out,
    print_json,
    project_dir,
    user_errors,
)
from change_mgmt.cli.help import SreTyper

if TYPE_CHECKING:
    from change_mgmt.policy_check import StackCheck
    from policies.evaluate import Finding, PolicyReport

SCHEMA = "sre-platform/policy-check/v1"

app = SreTyper(
    help=(
        "The policy pack (policies/): the same rules `pulumi preview --policy-pack "
        "policies` runs, evaluated offline over each stack program under Pulumi mocks.\n\n"
        "Exit codes: 0 no mandatory finding; 1 a mandatory rule failed; 2 bad input."
    ),
)


@app.command("check")
def check_command(
    stack: str | None = typer.Option(
        None, "--stack", "-s", help="Check this stack only (e.g. env-pg-migration-1000)."
    ),
    all_stacks: bool = typer.Option(
        False,
        "--all",
        help="Check every stack: each request in stacks/environments/ and each "
        "Pulumi.<stack>.yaml (the default when --stack is not given).",
    ),
    output: OutputFormat = FormatOption,
    directory: Path | None = ProjectDirOption,
) -> None:
    """Run every rule of the policy pack over stack programs, with the pack's settings
    (policies/config.yaml) and waivers (policies/waivers.yaml).

    Each finding names the file, resource, rule and remediation. Mandatory findings
    fail the check; advisory and waived ones are shown.

    Exit codes: 0 no mandatory finding; 1 a mandatory rule failed; 2 bad input (a
    stack that cannot be evaluated, a bad settings or waivers file, both options).
    """
    if stack and all_stacks:
        fail("give --stack or --all, not both", code=EXIT_INVALID)
    # Imported here: the provider SDKs take a second to load and only this command needs them.
    from change_mgmt.policy_check import check_stacks, project_stacks, source_of

    with user_errors():
        base = project_dir(directory)
        stacks = [(stack, source_of(base, stack))] if stack else project_stacks(base)
        with err.status("checking…") as status:
            results = check_stacks(
                base,
                stacks,
                progress=lambda name: status.update(
                    f"evaluating {escape(name)} under Pulumi mocks…"
                ),
            )
    if output is OutputFormat.json:
        print_json(_document(results))
    else:
        _print_text(results)
    raise typer.Exit(_exit_code(results))


def _exit_code(results: list[StackCheck]) -> int:
    if any(result.error for result in results):
        return EXIT_INVALID
    if any(result.report and not result.report.passed for result in results):
        return EXIT_FAILED
    return EXIT_OK


def _document(results: list[StackCheck]) -> dict[str, Any]:
    stacks: list[dict[str, Any]] = []
    for result in results:
        entry: dict[str, Any] = {"stack": result.stack, "source": result.source}
        if result.report is not None:
            entry.update(result.report.as_dict())
        entry["error"] = result.error
        stacks.append(entry)
    return {
        "schema": SCHEMA,
        "passed": _exit_code(results) == EXIT_OK,
        "stacks": stacks,
    }


_LEVEL = {"mandatory": "[bold red]MANDATORY[/]", "advisory": "[yellow]advisory[/]"}


def _print_text(results: list[StackCheck]) -> None:
    if not results:
        out.print("no stacks to check (no request in stacks/environments/, no Pulumi.<stack>.yaml)")
        return
    for result in results:
        if result.error is not None:
            out.print(
                f"[bold red]✗[/] {escape(result.stack)} ({escape(result.source)}): cannot evaluate"
            )
            out.print(f"  {escape(result.error)}")
            continue
        assert result.report is not None
        print_report(result.report, result.source)
    failed = sum(1 for r in results if r.report is not None and not r.report.passed)
    broken = sum(1 for r in results if r.error is not None)
    out.print(
        f"{len(results)} stack(s) checked: {len(results) - failed - broken} passed, "
        f"{failed} failed a mandatory rule, {broken} could not be evaluated"
    )


def print_report(report: PolicyReport, source: str) -> None:
    """One stack's findings; also used by `sre env render`."""
    mark = "[bold green]✓[/]" if report.passed else "[bold red]✗[/]"
    blocking = len(report.blocking)
    out.print(
        f"{mark} {escape(report.stack)} ({report.tier}, {escape(source)}): "
        f"{blocking} mandatory, {len(report.findings) - blocking} other finding(s); "
        f"{report.rules_run} rules run",
        soft_wrap=False,
    )
    if report.findings:
        _print_findings(report.findings)
    for waiver in report.expired_waivers:
        out.print(
            f"  [yellow]expired waiver[/]: {escape(waiver.rule)} for {escape(waiver.resource)} "
            f"(owner {escape(waiver.owner)}) ended {waiver.expires.isoformat()}: "
            "renew or remove it",
            soft_wrap=False,
        )


def _print_findings(findings: tuple[Finding, ...]) -> None:
    from change_mgmt.cli.layout import Field, print_records

    rows = []
    for finding in findings:
        level = "[dim]waived[/]" if finding.waiver else _LEVEL[finding.enforcement]
        note = f" [dim]({escape(finding.waiver.describe())})[/]" if finding.waiver else ""
        rows.append(
            {
                "resource": escape(finding.resource_name or "(stack)"),
                "type": escape(finding.resource_type or ""),
                "rule": escape(finding.rule.id),
                "level": f"{level} {finding.severity}",
                "finding": escape(finding.message) + note,
                "remediation": escape(finding.rule.remediation),
            }
        )
    fields = [*map(Field, ("resource", "type", "rule", "level"))]
    print_records(
        out, [*fields, Field("finding", prose=True), Field("remediation", prose=True)], rows
    )
