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
from dataclasses import dataclass
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


@dataclass(frozen=True)
class RequestChanges:
    """Request names changed since a ref, by what happens to their ``env-<name>`` stack.

    A rename is a deletion of the old name and an addition of the new one: the old
    stack must be destroyed (the reaper sees its request go) and the new one created.
    No pair is claimed as "renamed": requests are short and alike, so git's rename
    detection cannot tell a rename from a new request copied from another.
    """

    since: str
    base: str
    """The commit compared with (the merge base of ``since`` and HEAD)."""
    added: tuple[str, ...]
    modified: tuple[str, ...]
    deleted: tuple[str, ...]

    @property
    def deployable(self) -> tuple[str, ...]:
        """Names whose stack is created or updated (added or modified), sorted."""
        return tuple(sorted({*self.added, *self.modified}))

    def as_dict(self) -> dict[str, object]:
        return {
            "since": self.since,
            "base": self.base,
            "added": list(self.added),
            "modified": list(self.modified),
            "deleted": list(self.deleted),
            "deploy": list(self.deployable),
        }


def _request_name(path: str, scope: str) -> str | None:
    """The request name of a repository path, or None when it is not ``<scope>/<name>.yaml``."""
    parent, _, file_name = path.rpartition("/")
    if parent != scope or not file_name.endswith(".yaml") or file_name == ".yaml":
        return None
    return file_name.removesuffix(".yaml")


def _name_status(out: bytes) -> list[tuple[str, list[str]]]:
    """``git diff --name-status -z`` output as (status letter, paths) entries."""
    items = _paths(out)
    entries: list[tuple[str, list[str]]] = []
    index = 0
    while index < len(items):
        status = items[index]
        count = 2 if status[:1] in "RC" else 1
        entries.append((status[:1], items[index + 1 : index + 1 + count]))
        index += 1 + count
    return entries


def request_changes(repo_dir: Path, since: str, requests_dir: Path) -> RequestChanges:
    """Which requests were added, modified and deleted since ``since`` (merge base to the
    working tree, untracked requests included), for deploys and the pull-request comment."""
    root = _toplevel(repo_dir)
    base = _base_commit(root, since)
    under = requests_dir.resolve()
    if not under.is_relative_to(root):
        return RequestChanges(since, base, (), (), ())
    scope = under.relative_to(root).as_posix()
    diff = ("--literal-pathspecs", "diff", "--no-ext-diff", "--no-textconv", "--no-color")
    tree = run_git(
        root, *diff, "--no-renames", "--name-status", "-z", base, "--", f"{scope}/",
        error=GitRefError,
    )  # fmt: skip
    added: set[str] = set()
    modified: set[str] = set()
    deleted: set[str] = set()
    for status, paths in _name_status(tree):
        name = _request_name(paths[0], scope)
        if name is None:
            continue
        {"A": added, "D": deleted}.get(status, modified).add(name)
    untracked = run_git(
        root, "--literal-pathspecs", "ls-files", "--others", "--exclude-standard", "-z",
        "--", f"{scope}/", error=GitRefError,
    )  # fmt: skip
    added.update(n for p in _paths(untracked) if (n := _request_name(p, scope)) is not None)
    return RequestChanges(
        since=since,
        base=base,
        added=tuple(sorted(added)),
        modified=tuple(sorted(modified)),
        deleted=tuple(sorted(deleted)),
    )


def changed_paths(repo_dir: Path, since: str) -> tuple[str, list[str]]:
    """(the merge-base commit, every repository path added, modified or deleted since
    ``since``, untracked files included); a rename lists both paths."""
    root = _toplevel(repo_dir)
    base = _base_commit(root, since)
    tree = run_git(
        root, "diff", "--no-renames", "--no-ext-diff", "--no-textconv", "--no-color",
        "--name-only", "-z", base, error=GitRefError,
    )  # fmt: skip
    untracked = run_git(root, "ls-files", "--others", "--exclude-standard", "-z", error=GitRefError)
    return base, sorted({*_paths(tree), *_paths(untracked)})
