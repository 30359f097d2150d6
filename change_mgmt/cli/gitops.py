"""``sre gitops``: the clusters registered with Argo CD and the apps sent to them (gitops/)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

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
from change_mgmt.errors import SreError
from change_mgmt.gitops.errors import GitOpsError
from change_mgmt.gitops.load import GITOPS_DIRECTORY
from change_mgmt.gitops.matrix import MatrixDiff, Placement, applications, diff, placements
from change_mgmt.gitops.sources import environment_from, validate_paths

if TYPE_CHECKING:
    from change_mgmt.gate.trusted_files import TrustedFiles

RENDER_SCHEMA = "sre-platform/gitops-render/v1"
DIFF_SCHEMA = "sre-platform/gitops-diff/v1"

app = SreTyper(
    help=(
        f"GitOps data in {GITOPS_DIRECTORY}/: clusters/<env>.yaml (the clusters Argo CD "
        "deploys to, with their labels) and apps/<env>.yaml (each application and the "
        "cluster labels it selects). Each app becomes an ApplicationSet whose cluster "
        "generator makes one Application per matching cluster, <app>-sre-<env>-<clusterID>.\n\n"
        "Exit codes: 0 success; 2 invalid input (a bad gitops file, a path or environment "
        "that does not exist, a base that is not a branch)."
    ),
)
EnvironmentArgument = typer.Argument(
    ..., metavar="ENV", help="The environment: gitops/{clusters,apps}/ENV.yaml."
)


@app.command("validate")
def validate_command(
    paths: list[Path] | None = typer.Argument(
        None, metavar="PATH", help=f"Files or gitops folders (default: {GITOPS_DIRECTORY}/)."
    ),
    directory: Path | None = ProjectDirOption,
) -> None:
    """Check the cluster and app files: fields (unknown keys with "did you mean"),
    labels, duplicate names, selectors that match no cluster, and mutable revisions
    (branches, HEAD; an error in staging and prod, a warning elsewhere). A file is
    checked together with its environment's other file; selectors and revisions are
    judged once every field of both files is valid.

    Every problem is shown as file:line:column: field: message.

    Exit codes: 0 valid (warnings may be shown); 2 a file is invalid or a path does not
    exist.
    """
    base = project_dir(directory)
    with user_errors(GitOpsError):
        environments = validate_paths(paths or [base / GITOPS_DIRECTORY], relative_to=base)
    for environment in environments:
        for warning in environment.warnings:
            out.print(escape(str(warning)))
        out.print(
            f"[bold green]✓[/] {escape(environment.name)}: {len(environment.clusters)} "
            f"cluster(s), {len(environment.applications)} application(s), "
            f"{len(placements(environment))} Application(s) generated"
        )


def _files(directory: Path | None, ref: str | None = None) -> TrustedFiles:
    """The project's files in the working tree, or (with ``ref``) at that branch."""
    from change_mgmt.gate.trusted_files import TrustedFiles

    return TrustedFiles(project_dir(directory), ref)


@app.command("render")
def render_command(
    environment: str = EnvironmentArgument,
    output: OutputFormat = FormatOption,
    directory: Path | None = ProjectDirOption,
) -> None:
    """The app × cluster matrix of ENV: which app lands on which cluster at which
    revision, in which namespace. With --format json, the Applications the
    ApplicationSets generate (computed offline), as `argocd appset generate` prints their
    key fields: metadata name and namespace, project, source or sources, destination,
    sync policy, ignoreDifferences.

    Exit codes: 0 rendered; 2 a gitops file is invalid or ENV has none.
    """
    with user_errors(GitOpsError), _files(directory) as files:
        loaded = environment_from(files, environment)
    if output is OutputFormat.json:
        print_json(
            {
                "schema": RENDER_SCHEMA,
                "environment": environment,
                "applications": applications(loaded),
            }
        )
        return
    matrix = placements(loaded)
    from change_mgmt.cli.layout import Field, print_records

    out.print(
        f"{escape(environment)}: {len(loaded.applications)} application(s) × "
        f"{len(loaded.clusters)} cluster(s) → {len(matrix)} Application(s)"
    )
    print_records(
        out,
        [Field("app"), Field("cluster"), Field("revision"), Field("namespace")],
        [
            {
                "app": escape(p.app),
                "cluster": escape(p.cluster),
                "revision": escape(p.revision),
                "namespace": escape(p.namespace),
            }
            for p in matrix
        ],
    )


@app.command("diff")
def diff_command(
    environment: str = EnvironmentArgument,
    base: str = typer.Option(
        ...,
        "--base",
        metavar="REF",
        help="The base branch or remote-tracking branch, e.g. origin/main (tags are refused).",
    ),
    output: OutputFormat = FormatOption,
    directory: Path | None = ProjectDirOption,
) -> None:
    """How ENV's app × cluster matrix changes from the base branch to the working tree:
    Applications added (+) and removed (-), and those whose revision, namespace or
    project changes (~). An environment the base does not have counts as empty.

    Exit codes: 0 compared (with or without changes); 2 a gitops file is invalid on
    either side, or REF is not exactly one branch.
    """
    with (
        user_errors(SreError),
        _files(directory, base) as base_files,
        _files(directory) as head_files,
    ):
        before = environment_from(base_files, environment, missing_is_empty=True)
        after = environment_from(head_files, environment)
    changes = diff(placements(before), placements(after))
    if output is OutputFormat.json:
        print_json(
            {"schema": DIFF_SCHEMA, "environment": environment, "base": base, **_diff_json(changes)}
        )
        return
    out.print(f"{escape(environment)}: {escape(base)} → working tree")
    for placement in changes.added:
        out.print(f"[green]+[/] {_pair(placement)} at {escape(placement.revision)}")
    for placement in changes.removed:
        out.print(f"[red]-[/] {_pair(placement)} (was at {escape(placement.revision)})")
    for old, new in changes.changed:
        moves = [
            f"{what} {escape(a)} → {escape(b)}"
            for what, a, b in (
                ("revision", old.revision, new.revision),
                ("namespace", old.namespace, new.namespace),
                ("project", old.project, new.project),
            )
            if a != b
        ]
        out.print(f"[yellow]~[/] {_pair(new)}: {', '.join(moves)}")
    out.print(
        f"{len(changes.added)} added, {len(changes.removed)} removed, "
        f"{len(changes.changed)} changed"
    )


def _pair(placement: Placement) -> str:
    return f"{escape(placement.app)} → {escape(placement.cluster)}"


def _placement_json(placement: Placement) -> dict[str, str]:
    return {
        "application": placement.name,
        "app": placement.app,
        "cluster": placement.cluster,
        "revision": placement.revision,
        "namespace": placement.namespace,
        "project": placement.project,
    }


def _diff_json(changes: MatrixDiff) -> dict[str, Any]:
    return {
        "added": [_placement_json(p) for p in changes.added],
        "removed": [_placement_json(p) for p in changes.removed],
        "changed": [
            {"base": _placement_json(a), "head": _placement_json(b)} for a, b in changes.changed
        ],
    }
