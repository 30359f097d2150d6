"""The ``sre`` command line: a thin face over the ``change_mgmt`` library.

Each command's module is imported only when that command runs (or shows its own help):
``sre --help`` and ``sre --version`` must not pay for git, httpx, the Pulumi SDK or the
approvals package. The one-line help of every command lives here so the root help can be
printed without importing any of them.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

import typer
from typer import _click as click
from typer.core import TyperCommand

from change_mgmt.cli.help import MARKUP_MODE, SreCommand, SreGroup


@dataclass(frozen=True)
class _Entry:
    module: str
    attribute: str
    """A ``typer.Typer`` (a command group) or a function (one command)."""
    summary: str


COMMANDS: dict[str, _Entry] = {
    "gate": _Entry(
        "change_mgmt.cli.gate",
        "gate_command",
        "Gate a preview: risk, reasons, required approvals, and whether it may be applied.",
    ),
    "up": _Entry(
        "change_mgmt.cli.up",
        "up_command",
        "Preview with a saved plan, gate it, and when the gate is open apply exactly that plan.",
    ),
    "approve": _Entry(
        "change_mgmt.cli.approvals",
        "approve_command",
        "Approve (or with --reject, veto) one preview of one stack with a signed git commit.",
    ),
    "approvals": _Entry(
        "change_mgmt.cli.approvals",
        "approvals_command",
        "The signed approvals of one change: whether each counts, and why not.",
    ),
    "env": _Entry(
        "change_mgmt.cli.env",
        "app",
        "Self-serve test environments: request, validate, render and list them.",
    ),
    "stack": _Entry(
        "change_mgmt.cli.stack",
        "app",
        "Platform stacks dev, staging, prod: render what each declares, costs and breaks.",
    ),
    "changes": _Entry(
        "change_mgmt.cli.changes",
        "app",
        "Change records in the local ledger: list, show, approve, review, sync.",
    ),
    "ledger": _Entry(
        "change_mgmt.cli.ledger",
        "app",
        "Where change records live (SQLite or a shared DynamoDB table): init, migrate.",
    ),
    "report": _Entry(
        "change_mgmt.cli.report",
        "app",
        "Reports: DORA metrics over the change records; monthly cost of environments and stacks.",
    ),
    "slo": _Entry(
        "change_mgmt.cli.slo",
        "app",
        "SLOs as code: validate and list the Sloth specs in slos/, print their Prometheus rules.",
    ),
    "gitops": _Entry(
        "change_mgmt.cli.gitops",
        "app",
        "GitOps data: validate cluster and app files, render the app × cluster matrix, "
        "diff it against a base.",
    ),
    "policy": _Entry(
        "change_mgmt.cli.policy",
        "app",
        "The policy pack's rules, evaluated offline over each stack program.",
    ),
}


def load_command(name: str) -> click.Command:
    """Import one command's module and build its click command, as ``add_typer`` or
    ``command`` on the root would have built it (no completion options of its own)."""
    entry = COMMANDS[name]
    target = getattr(importlib.import_module(entry.module), entry.attribute)
    holder = typer.Typer(add_completion=False, rich_markup_mode=MARKUP_MODE)
    holder.callback()(_no_options)
    if isinstance(target, typer.Typer):
        holder.add_typer(target, name=name)
    else:
        holder.command(name, cls=SreCommand)(target)
    group = typer.main.get_group(holder)
    return group.commands[name]


def _no_options() -> None:
    """The holder group's callback (it only exists to build one command)."""


class _LazyCommand(TyperCommand):
    """Stands in for a command in the root help; becomes the real one when it is used."""

    def __init__(self, name: str, summary: str) -> None:
        super().__init__(name, help=summary, short_help=summary)
        self._real: click.Command | None = None

    def real(self) -> click.Command:
        if self._real is None:
            self._real = load_command(self.name or "")
        return self._real

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        return self.real().make_context(info_name, args, parent=parent, **extra)


class _LazyGroup(SreGroup):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*super().list_commands(ctx), *COMMANDS]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return super().get_command(ctx, cmd_name)
        return _LazyCommand(cmd_name, entry.summary)


EXIT_CODES = (
    "Exit codes, the same for every command: 0 success; 1 a check failed (a mandatory "
    "policy rule, a failed update, an unknown change); 2 invalid input or usage; 3 the "
    "gate is closed (sre gate, sre up). Each command's --help says what each means there."
)

app = typer.Typer(
    name="sre",
    cls=_LazyGroup,
    help=(
        "sre-platform: self-serve test environments and change management for the "
        "platform's Pulumi stacks.\n\nStart with `sre env --help` or `sre gate --help`.\n\n"
        f"{EXIT_CODES}"
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=MARKUP_MODE,
)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

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
