"""``sre stack affected``: which platform stacks a change touches (the CI matrix)."""

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
from change_mgmt.environments.changes import GitRefError


def affected_command(
    since: str = typer.Option(
        ...,
        "--since",
        metavar="GIT_REF",
        help=(
            "Compare the merge base of this ref and HEAD with the working tree. A name "
            "that matches several refs (a tag and a branch both named main) is refused."
        ),
    ),
    output: OutputFormat = FormatOption,
    directory: Path | None = ProjectDirOption,
) -> None:
    """List the platform stacks (dev, staging, prod) that a change since a git ref
    touches, and the paths that touch each.

    A stack's own Pulumi.<stack>.yaml and gitops/<kind>/<stack>.yaml touch that stack;
    shared code and data (components/, stacks/, policies/, change_mgmt/, slos/,
    dashboards/, Pulumi.yaml…) touch all three; docs, tests and environment requests
    touch none. A path no rule knows touches all three (fail closed) and is listed as
    unclassified. docs/ci.md describes the --format json document (the workflows'
    matrix).

    Exit codes: 0 listed (also when no stack is touched); 2 invalid input (an unknown or
    ambiguous --since ref, not a git checkout).
    """
    from change_mgmt.stacks_affected import affected_stacks

    with user_errors(GitRefError):
        found = affected_stacks(project_dir(directory), since)
    if output is OutputFormat.json:
        print_json(found.as_dict())
        return
    for stack in found.stacks:
        shown = ", ".join(stack.paths[:3]) + (
            f" and {len(stack.paths) - 3} more" if len(stack.paths) > 3 else ""
        )
        out.print(f"{stack.stack:<8} {escape(shown)}", soft_wrap=False)
    for path in found.unclassified:
        err.print(f"unclassified path (touches every stack): {escape(path)}")
    if not found.stacks:
        err.print(f"no platform stack touched since {escape(since)}")
