"""Which request files a pull request adds or changes, found with gitpython.

"Changed" is measured from the merge base of the given ref and HEAD (what
``git diff REF...`` shows) to the working tree, plus untracked files: exactly what the
pull request would add, whatever else landed on the base branch meanwhile.
"""

from __future__ import annotations

from pathlib import Path

import git

from change_mgmt.errors import SreError

_KEPT_CHANGES = {"A", "M", "R", "C", "T"}


class GitRefError(SreError):
    """The repository or the ref given to ``--changed-since`` cannot be used."""


def _open(repo_dir: Path) -> git.Repo:
    try:
        return git.Repo(repo_dir, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise GitRefError(f"{repo_dir} is not inside a git repository") from None


def is_git_checkout(repo_dir: Path) -> bool:
    try:
        _open(repo_dir)
    except GitRefError:
        return False
    return True


def changed_files(repo_dir: Path, since: str | None, under: Path) -> set[Path]:
    """Absolute paths below ``under`` added or modified since ``since`` (default: HEAD)."""
    repo = _open(repo_dir)
    root = Path(repo.working_tree_dir or repo_dir).resolve()
    try:
        base = repo.commit(since or "HEAD")
        if since:
            bases = repo.merge_base(base, repo.head.commit) if repo.head.is_valid() else []
            base = bases[0] if bases else base
    except (git.BadName, git.BadObject, ValueError) as exc:
        raise GitRefError(f"unknown git ref {since or 'HEAD'!r}: {exc}") from None
    changed = {
        root / (item.b_path or item.a_path or "")
        for item in base.diff(None)
        if item.change_type in _KEPT_CHANGES
    }
    changed.update(root / name for name in repo.untracked_files)
    under = under.resolve()
    return {path for path in changed if path.is_relative_to(under) and path.exists()}


def has_commits(repo_dir: Path) -> bool:
    return _open(repo_dir).head.is_valid()
