"""When a change was first committed, from a git clone: the start of its lead time.

The change that a record's commit ends is the set of commits reachable from that commit
and not from the base branch (``git log BASE..COMMIT``); its first commit is the one with
the earliest author time (author times survive rebases, committer times do not).

When the commit is already on the base branch (the change was gated again after its
merge), that range is empty; then:

* a merge commit's change is the branch it merged: ``COMMIT^1..COMMIT``;
* any other commit (a squash merge, a direct push) is its own change: its author time.
  A squash merge keeps no branch history, so its lead time starts at the squash.

Nothing is known (``None``, and the report falls back to the proposal time) when the
directory is not a git checkout, the base ref does not resolve, or the commit is not in
the clone (a shallow CI clone, a commit from another fork). Every answer is cached per
commit.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

import git

_SHA = re.compile(r"^[0-9a-f]{4,64}$")
# A name git does not know, an ambiguous short sha, a git that fails or is missing.
_LOOKUP_ERRORS = (git.ODBError, git.CommandError, ValueError)


class GitLeadTimes:
    """A :class:`~change_mgmt.report.dora.LeadTimeSource` reading the clone at
    ``repo_dir`` against ``base_ref`` (None: no base branch, nothing is known).

    Use it as a context manager (or call :meth:`close`): gitpython keeps helper
    processes open.
    """

    def __init__(
        self, repo_dir: Path, base_ref: str | None, base_commit: str | None = None
    ) -> None:
        """``base_commit``: the commit ``base_ref`` was resolved to (as a branch, never a
        tag), when the caller resolved it."""
        self.repo_dir = Path(repo_dir)
        self.base_ref = base_ref
        self.problem: str | None = None
        """Why no commit can be placed (None when lookups can work)."""
        self._repo: git.Repo | None = None
        self._base: str | None = None
        self._cache: dict[str, datetime | None] = {}
        try:
            self._repo = git.Repo(self.repo_dir, search_parent_directories=True)
        except (git.InvalidGitRepositoryError, git.NoSuchPathError):
            self.problem = f"{self.repo_dir} is not a git checkout"
            return
        if base_ref is None:
            self.problem = "no base branch (neither origin/main nor main exists)"
            return
        try:
            self._base = str(self._repo.commit(base_commit or base_ref).hexsha)
        except _LOOKUP_ERRORS:
            self.problem = f"the base ref {base_ref!r} does not exist in {self.repo_dir}"

    @property
    def description(self) -> str:
        if self.problem is not None:
            return f"proposal time only: {self.problem}"
        return f"git: earliest author time in {self.base_ref}..COMMIT"

    def first_commit_at(self, commit: str) -> datetime | None:
        """The earliest author time of the change ending at ``commit`` (UTC), or None."""
        key = commit.strip().lower()
        if key not in self._cache:
            self._cache[key] = self._lookup(key)
        return self._cache[key]

    def _lookup(self, commit: str) -> datetime | None:
        if self._repo is None or self._base is None or not _SHA.match(commit):
            return None
        repo = self._repo
        try:
            target = repo.commit(commit)
            times = _author_times(repo, f"{self._base}..{target.hexsha}")
            if not times and len(target.parents) > 1:
                times = _author_times(repo, f"{target.parents[0].hexsha}..{target.hexsha}")
            if not times:
                times = [int(target.authored_date)]
        except _LOOKUP_ERRORS:
            return None
        return datetime.fromtimestamp(min(times), UTC)

    def close(self) -> None:
        if self._repo is not None:
            self._repo.close()
            self._repo = None

    def __enter__(self) -> GitLeadTimes:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def _author_times(repo: git.Repo, revisions: str) -> list[int]:
    """Author times (Unix seconds) of the commits in ``revisions``; the user's
    ``log.showSignature`` cannot add lines to parse."""
    output = repo.git(c="log.showSignature=false").log("--format=%at", revisions, "--")
    return [int(line) for line in str(output).split()]
