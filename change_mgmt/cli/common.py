"""What every ``sre`` command shares: where the project is, output format, exit codes."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.console import Console, ConsoleDimensions
from rich.markup import escape

from change_mgmt.documents import DocumentError
from change_mgmt.errors import SreError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INVALID = 2

PIPED_WIDTH = 160


class _Console(Console):
    """Rich assumes 80 columns when no terminal says otherwise (CI logs, pipes): too narrow
    for resource tables, so there the default is :data:`PIPED_WIDTH`. ``$COLUMNS`` and a
    real terminal still win, and both are read when printing, not at import."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        if options.get("width") is None:
            self._width = None  # Console.__init__ froze $COLUMNS as it was at import

    @property
    def size(self) -> ConsoleDimensions:
        measured = super().size
        if self._width is None and "COLUMNS" not in self._environ and not self.is_terminal:
            return ConsoleDimensions(PIPED_WIDTH, measured.height)
        return measured

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        Console.size.fset(self, new_size)  # type: ignore[attr-defined]


out = _Console(highlight=False, soft_wrap=True)
err = _Console(stderr=True, highlight=False, soft_wrap=True)


class OutputFormat(StrEnum):
    text = "text"
    json = "json"


ProjectDirOption = typer.Option(
    None,
    "--project-dir",
    metavar="DIR",
    help=(
        "The sre-platform checkout (default: $SRE_PROJECT_DIR or the nearest "
        "directory with a Pulumi.yaml)."
    ),
    file_okay=False,
)
FormatOption = typer.Option(
    OutputFormat.text, "--format", "-f", help="text for people, json for machines."
)
MOMENT_FORMATS = ["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M%z"]
"""What ``--at`` takes: ISO 8601 with an offset (a moment without one is ambiguous)."""


def at_option(help: str) -> Any:
    """``--at TIME``: a moment with its offset, None for now; ``help`` says what for."""
    return typer.Option(None, "--at", metavar="TIME", help=help, formats=MOMENT_FORMATS)


def project_dir(explicit: Path | None = None) -> Path:
    """The sre-platform checkout: ``--project-dir``, ``$SRE_PROJECT_DIR``, or the nearest
    directory upwards from here that holds a ``Pulumi.yaml``."""
    if explicit is not None:
        return explicit
    if env := os.environ.get("SRE_PROJECT_DIR"):
        return Path(env)
    here = Path.cwd()
    for candidate in (here, *here.parents):
        if (candidate / "Pulumi.yaml").is_file():
            return candidate
    return here


def print_json(data: Any) -> None:
    """Machine output: one JSON document on stdout, nothing else."""
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


def fail(message: str, code: int = EXIT_FAILED) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}", markup=True)
    raise SystemExit(code)


@contextmanager
def user_errors(*invalid_input: type[SreError]) -> Iterator[None]:
    """Turn expected failures into one readable message and an exit code, never a traceback.

    A bad document, and every error of the kinds in ``invalid_input`` (what this command
    reads from its user: a bad --ttl, an unknown git ref), exit 2; any other expected
    failure exits 1.
    """
    try:
        yield
    except DocumentError as exc:
        for problem in exc.problems:
            out.print(escape(str(problem)))
        raise SystemExit(EXIT_INVALID) from None
    except SreError as exc:
        fail(escape(str(exc)), EXIT_INVALID if isinstance(exc, invalid_input) else EXIT_FAILED)
