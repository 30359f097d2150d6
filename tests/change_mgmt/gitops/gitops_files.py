"""Small GitOps trees in tmp dirs, built from the shipped files with one edit each."""

from __future__ import annotations

import shutil
from pathlib import Path

from change_mgmt.documents import DocumentError
from change_mgmt.gitops.load import GitOpsEnvironment
from change_mgmt.gitops.sources import validate_paths
from tests.conftest import REPO_ROOT


def gitops_copy(root: Path) -> Path:
    """A copy of the repository's gitops/ under ``root`` (returned: ``root``)."""
    shutil.copytree(REPO_ROOT / "gitops", root / "gitops")
    return root


def edit(root: Path, name: str, old: str, new: str, count: int = 1) -> None:
    """Replace ``old`` (which must be there) by ``new`` in ``gitops/<name>``."""
    path = root / "gitops" / name
    text = path.read_text()
    assert old in text, f"{old!r} not in {name}"
    path.write_text(text.replace(old, new, count))


def problems(root: Path, *names: str) -> list[str]:
    """Every problem ``validate`` reports for ``gitops/<names>`` (or the whole tree)."""
    paths = [root / "gitops" / n for n in names] or [root / "gitops"]
    try:
        validate_paths(paths, relative_to=root)
    except DocumentError as exc:
        return [str(p) for p in exc.problems]
    return []


def loaded(root: Path, environment: str) -> GitOpsEnvironment:
    (found,) = validate_paths([root / "gitops" / "apps" / f"{environment}.yaml"], relative_to=root)
    return found
