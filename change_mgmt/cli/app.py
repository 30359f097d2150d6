"""The ``sre`` command line: a thin face over the ``change_mgmt`` library."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

import typer

from change_mgmt.cli import approvals, changes, env, gate, policy, report, up

app = typer.Typer(
    name="sre",
    help=(
        "sre-platform: self-serve test environments and change management for the "
        "platform's Pulumi stacks.\n\nStart with `sre env --help` or `sre gate --help`."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
app.add_typer(env.app, name="env")
app.command("gate")(gate.gate_command)
app.command("up")(up.up_command)
app.command("approve")(approvals.approve_command)
app.command("approvals")(approvals.approvals_command)
app.add_typer(changes.app, name="changes")
app.add_typer(report.app, name="report")
app.add_typer(policy.app, name="policy")


def _version(value: bool) -> None:
    if value:
        try:
            typer.echo(f"sre-platform {version('sre-platform')}")
        except PackageNotFoundError:
            typer.echo("sre-platform (not installed)")
        raise typer.Exit()


@app.callback()
def _root(
    show_version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Root options."""


def main() -> None:
    """Console-script entry point."""
    app()
