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

from rich.console import Console
from rich.markup import escape

from change_mgmt.documents import DocumentError
from change_mgmt.errors import SreError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INVALID = 2

# Rich assumes 80 columns when not on a terminal (CI logs, pipes): too narrow for
# resource tables, so use $COLUMNS or a wide default there.
_WIDTH = None if sys.stdout.isatty() else int(os.environ.get("COLUMNS", "160"))
out = Console(highlight=False, soft_wrap=True, width=_WIDTH)
err = Console(stderr=True, highlight=False, soft_wrap=True, width=_WIDTH)


class OutputFormat(StrEnum):
    text = "text"
    json = "json"


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
def user_errors() -> Iterator[None]:
    """Turn expected failures into one readable message and an exit code, never a traceback."""
    try:
        yield
    except DocumentError as exc:
        for problem in exc.problems:
            out.print(escape(str(problem)))
        raise SystemExit(EXIT_INVALID) from None
    except SreError as exc:
        fail(escape(str(exc)))
