"""``sre env changed``: which requests a change adds, modifies or deletes (for deploys)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from change_mgmt.cli.common import (
    FormatOption,
    OutputFormat,
    ProjectDirOption,
    err,
    out,
    print_json,
    project_dir,
    user_errors,
)
from change_mgmt.environments import changes
from change_mgmt.environments.catalog import REQUESTS_DIR

SCHEMA = "sre-platform/env-changed/v1"

SinceOption = typer.Option(
    ...,
    "--since",
    metavar="GIT_REF",
    help=(
        "Compare the merge base of this ref and HEAD with the working tree (CI: "
        "origin/<base> on a pull request, the pushed-over commit on main). A name that "
        "matches several refs (a tag and a branch both named main) is refused."
    ),
)


def changed_command(
    since: str = SinceOption,
    output: OutputFormat = FormatOption,
    directory: Path | None = ProjectDirOption,
) -> None:
    """List the environment requests added, modified and deleted since a git ref.

    A renamed request is a deletion of the old name plus an addition of the new one:
    the old env-<name> stack goes (the reaper destroys it), the new one is deployed. The
    deploy workflow runs `sre env up NAME` for each name under "deploy" in --format json.

    Exit codes: 0 listed (also when nothing changed); 2 invalid input (an unknown or
    ambiguous --since ref, not a git checkout).
    """
    with user_errors(changes.GitRefError):
        base = project_dir(directory)
        found = changes.request_changes(base, since, base / REQUESTS_DIR)
    if output is OutputFormat.json:
        print_json({"schema": SCHEMA, **found.as_dict()})
        return
    lines = [("added", name) for name in found.added]
    lines += [("modified", name) for name in found.modified]
    lines += [("deleted", name) for name in found.deleted]
    for kind, name in lines:
        out.print(f"{kind:<9}{escape(name)}", soft_wrap=False)
    if not lines:
        err.print(f"no request in {REQUESTS_DIR}/ changed since {escape(since)}")
