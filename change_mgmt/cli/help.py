"""How every ``sre`` command's ``--help`` reads: plain click help, values named for people.

Typer prints each parameter's Python annotation (``<str>``, ``<list[Path]>``, a datetime's
strftime formats) and, in its rich mode, keeps the hard line breaks of docstrings. The
commands use click's own formatter instead (paragraphs rewrapped to the terminal, at most
80 columns) and name what to write: an explicit ``metavar=``, else a choice's values
(``[text|json]``), else the option's long name in capitals (``--stack STACK``).

Only typer is imported here: the root ``sre --help`` builds on this module too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from enum import Enum
from typing import Any

import typer
from typer import _click as click
from typer.core import TyperArgument, TyperCommand, TyperGroup

MARKUP_MODE = None
"""No rich help panels: click's plain formatter rewraps paragraphs and shows no types."""

_HYPHEN, _UNBREAKABLE = "-", "\u2011"


class _WordFormatter(click.HelpFormatter):
    """Click's formatter, but lines break between words only: help names values such as
    aws-multitenant-rds-postgres or acme/sre-platform/prod, which click's wrapper (Python's
    textwrap) would split at a hyphen. Hyphens are made unbreakable while wrapping."""

    def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
        super().write_usage(prog, args.replace(_HYPHEN, _UNBREAKABLE), prefix)

    def write_text(self, text: str) -> None:
        super().write_text(text.replace(_HYPHEN, _UNBREAKABLE))

    def write_dl(
        self, rows: Sequence[tuple[str, str]], col_max: int = 30, col_spacing: int = 2
    ) -> None:
        rows = [(first, second.replace(_HYPHEN, _UNBREAKABLE)) for first, second in rows]
        super().write_dl(rows, col_max, col_spacing)

    def getvalue(self) -> str:
        return super().getvalue().replace(_UNBREAKABLE, _HYPHEN)


class _Context(click.Context):
    formatter_class = _WordFormatter


def _value_name(param: click.Parameter) -> str:
    kind = getattr(param, "type_descriptor", None)
    if kind is not None and kind.is_choice and kind.choices:
        return "[" + "|".join(_choice(choice) for choice in kind.choices) + "]"
    longest = max(param.opts, key=len).lstrip("-") if param.opts else (param.name or "value")
    return longest.upper().replace("-", "_")


def _choice(choice: Any) -> str:
    return str(choice.value) if isinstance(choice, Enum) else str(choice)


class SreCommand(TyperCommand):
    """A command whose help names values (``--owner EMAIL``), never Python types."""

    context_class = _Context

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for param in self.params:
            is_flag = getattr(param, "is_flag", False) or getattr(param, "count", False)
            if param.metavar is None and not is_flag:
                param.metavar = _value_name(param)

    def get_short_help_str(self, limit: int = 45) -> str:
        """The whole first sentence in a group's command list, wrapped, never cut with ...."""
        return super().get_short_help_str(limit=1_000)

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        arguments: list[tuple[str, str]] = []
        options: list[tuple[str, str]] = []
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is None:
                continue
            if isinstance(param, TyperArgument):
                # Typer appends the annotation to an argument's name; show the name only.
                shown = param.display_name_raw + ("..." if param.nargs != 1 else "")
                arguments.append((shown, record[1]))
            else:
                options.append(record)
        if arguments:
            with formatter.section("Arguments"):
                formatter.write_dl(arguments)
        if options:
            with formatter.section("Options"):
                formatter.write_dl(options)


class SreGroup(TyperGroup):
    """A command group whose help wraps like :class:`SreCommand`'s."""

    context_class = _Context


class SreTyper(typer.Typer):
    """A command group whose commands are :class:`SreCommand` and whose help is plain."""

    def __init__(self, **options: Any) -> None:
        options.setdefault("no_args_is_help", True)
        options.setdefault("cls", SreGroup)
        super().__init__(rich_markup_mode=MARKUP_MODE, **options)

    def command(self, *args: Any, **options: Any) -> Callable[[Any], Any]:
        options.setdefault("cls", SreCommand)
        return super().command(*args, **options)
