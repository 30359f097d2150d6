"""Which request files a pull request adds or changes, asked of ``git`` itself.

"Changed" is measured from the merge base of the given ref and HEAD (what
``git diff REF...`` shows) to the working tree, plus untracked files: exactly what the
pull request would add, whatever else landed on the base branch meanwhile.

The ref decides which files are held to the lifetime window, so a name that git would
resolve by silently picking one of several refs (a tag ``main`` shadowing the branch
``main``) is refused as ambiguous rather than guessed.
"""

from __future__ import annotations

import re
from pathlib import Path

from change_mgmt.errors import SreError
from change_mgmt.gitcmd import existing_refs, run_git

# A tree diff only: renames show as delete + add, so the new name is "added".
_KEPT_CHANGES = "AMT"
# The ref name before any revision suffix (``~2``, ``^``, ``@{…}``, ``:path``).
_REF_NAME = re.compile(r"[^~^@:{}]*")


class GitRefError(SreError):
    """The repository or the ref given to ``--changed-since`` cannot be used."""


def _toplevel(repo_dir: Path) -> Path:
    try:
        out = run_git(repo_dir, "rev-parse", "--show-toplevel", error=GitRefError)
    except GitRefError as exc:
        raise GitRefError(f"{repo_dir} is not inside a git repository ({exc})") from None
    return Path(out.decode("utf-8", "surrogateescape").rstrip("\n")).resolve()


def is_git_checkout(repo_dir: Path) -> bool:
    try:
        _toplevel(repo_dir)
    except GitRefError:
        return False
    return True


def _commit_of(root: Path, revision: str) -> str | None:
    out = run_git(
        root,
        "rev-parse",
        "--verify",
        "--quiet",
        "--end-of-options",
        f"{revision}^{{commit}}",
        ok_codes=(0, 1),
        error=GitRefError,
    )
    return out.decode().strip() or None


def _resolve_since(root: Path, since: str) -> str:
    """The commit ``since`` names; refused when its ref name is ambiguous or unknown."""
    name = _REF_NAME.match(since)
    if not name or not name.group() or since.startswith("-"):
        raise GitRefError(f"unknown git ref {since!r}: give a branch, tag or commit")
    found = existing_refs(root, name.group(), error=GitRefError)
    if len(found) > 1:
        refs = ", ".join(sorted(found))
        raise GitRefError(
            f"git ref {name.group()!r} is ambiguous: it names {refs}; give the full name "
            f"of the one you mean (e.g. {sorted(found)[0]})"
        )
    commit = _commit_of(root, since)
    if commit is None:
        raise GitRefError(f"unknown git ref {since!r}: no such commit in this clone")
    return commit


def _base_commit(root: Path, since: str | None) -> str:
    """HEAD, or the merge base of ``since`` and HEAD (``since`` itself when there is none)."""
    if since is None:
        head = _commit_of(root, "HEAD")
        if head is None:
            raise GitRefError("unknown git ref 'HEAD': the repository has no commits")
        return head
    commit = _resolve_since(root, since)
    if _commit_of(root, "HEAD") is None:
        return commit
    out = run_git(root, "merge-base", commit, "HEAD", ok_codes=(0, 1), error=GitRefError)
    return out.decode().strip() or commit


def _paths(out: bytes) -> list[str]:
    return [item.decode("utf-8", "surrogateescape") for item in out.split(b"\0") if item]


def changed_files(repo_dir: Path, since: str | None, under: Path) -> set[Path]:
    """Absolute paths below ``under`` added or modified since ``since`` (default: HEAD)."""
    root = _toplevel(repo_dir)
    base = _base_commit(root, since)
    under = under.resolve()
    if not under.is_relative_to(root):
        return set()
    scope = under.relative_to(root).as_posix()
    pathspec = ["--", f"{scope}/"] if scope != "." else []
    diffed = run_git(
        root,
        "--literal-pathspecs",
        "diff",
        "--no-renames",
        "--no-ext-diff",
        "--no-textconv",
        "--no-color",
        "--name-only",
        "-z",
        f"--diff-filter={_KEPT_CHANGES}",
        base,
        *pathspec,
        error=GitRefError,
    )
    untracked = run_git(
        root,
        "--literal-pathspecs",
        "ls-files",
        "--others",
        "--exclude-standard",
        "-z",
        *pathspec,
        error=GitRefError,
    )
    changed = {root / name for name in [*_paths(diffed), *_paths(untracked)]}
    return {path for path in changed if path.is_relative_to(under) and path.exists()}


def has_commits(repo_dir: Path) -> bool:
    return _commit_of(_toplevel(repo_dir), "HEAD") is not None
