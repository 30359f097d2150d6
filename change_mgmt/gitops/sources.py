"""Find the GitOps files of an environment, in the working tree or in a base commit.

What reads the files is a small protocol (``change_mgmt.gate.trusted_files.TrustedFiles``
fits it): ``sre gitops diff`` reads the base branch's files through it and the working
tree's through the same code.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from change_mgmt.documents import DocumentError, Problem
from change_mgmt.gitops.errors import GitOpsError
from change_mgmt.gitops.load import (
    APPS,
    CLUSTERS,
    GITOPS_DIRECTORY,
    GitOpsEnvironment,
    GitOpsFile,
    environment_name,
    load_environment,
)

_SUFFIXES = (".yaml", ".yml")


class FileSource(Protocol):
    """Files of the project, by repository-relative name."""

    def path(self, name: str) -> Path | None: ...

    def display(self, name: str) -> str: ...


def _environment_files(
    source: FileSource, environment: str
) -> tuple[GitOpsFile | None, GitOpsFile | None]:
    files = []
    for kind in (CLUSTERS, APPS):
        name = f"{GITOPS_DIRECTORY}/{kind}/{environment}.yaml"
        found = source.path(name)
        files.append(GitOpsFile(found, source.display(name)) if found else None)
    return files[0], files[1]


def environment_from(
    source: FileSource, environment: str, *, missing_is_empty: bool = False
) -> GitOpsEnvironment:
    """``gitops/{clusters,apps}/<environment>.yaml`` as ``source`` holds them. Neither file
    is an error, or with ``missing_is_empty`` an environment with nothing in it (a base
    branch from before the environment existed)."""
    clusters, apps = _environment_files(source, environment)
    if clusters is None and apps is None:
        if missing_is_empty:
            return GitOpsEnvironment(environment, (), ())
        raise GitOpsError(
            f"no GitOps files for environment {environment!r} "
            f"({source.display(f'{GITOPS_DIRECTORY}/{CLUSTERS}/{environment}.yaml')} is missing)"
        )
    return load_environment(environment, clusters, apps)


def _shown(path: Path, base: Path) -> str:
    try:
        return path.resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        return str(path)


def _kind(path: Path, shown: str) -> str:
    kind = path.parent.name
    if kind not in (CLUSTERS, APPS):
        raise GitOpsError(
            f"{shown}: cannot tell a clusters file from an apps file here; "
            f"keep it in {GITOPS_DIRECTORY}/{CLUSTERS}/ or {GITOPS_DIRECTORY}/{APPS}/"
        )
    return kind


def _files(paths: Sequence[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(
                p
                for kind in (CLUSTERS, APPS)
                for p in (path / kind).glob("*")
                if p.suffix in _SUFFIXES
            )
            found += sorted(p for p in path.glob("*") if p.suffix in _SUFFIXES and p.is_file())
        elif path.is_file():
            found.append(path)
        else:
            raise GitOpsError(f"{path}: no such file or directory")
    return found


def validate_paths(paths: Sequence[Path], *, relative_to: Path) -> list[GitOpsEnvironment]:
    """Every environment the files in ``paths`` belong to, each read with both its files
    (an apps file is judged against its clusters); one ``DocumentError`` for all."""
    environments: dict[tuple[Path, str], dict[str, GitOpsFile]] = {}
    for path in _files(paths):
        shown = _shown(path, relative_to)
        kind = _kind(path, shown)
        name = environment_name(path, shown)
        root = path.parent.parent
        pair = environments.setdefault((root.resolve(), name), {})
        pair[kind] = GitOpsFile(path, shown)
        other = APPS if kind == CLUSTERS else CLUSTERS
        sibling = root / other / path.name
        if other not in pair and sibling.is_file():
            pair[other] = GitOpsFile(sibling, _shown(sibling, relative_to))
    loaded: list[GitOpsEnvironment] = []
    problems: list[Problem] = []
    for (_, name), pair in sorted(environments.items()):
        try:
            loaded.append(load_environment(name, pair.get(CLUSTERS), pair.get(APPS)))
        except DocumentError as exc:
            problems += exc.problems
    if problems:
        raise DocumentError(problems)
    return loaded
