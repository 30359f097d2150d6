"""Read the risk policy and freeze calendar from a protected branch, not from the change.

A pull request must not be able to weaken the rules it is judged by. With a ref (CI
passes the base branch, e.g. ``origin/main``) these files are read as they are at the
commit that branch points at; without one, from the working tree (a laptop, or a
repository without a base). The ref is only ever a branch or a remote-tracking branch
(:func:`change_mgmt.approvals.resolve_base_ref`): a tag of the same name, or a name that
is ambiguous, is refused, so whoever can push a tag cannot supply the rules.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from types import TracebackType

import git

from change_mgmt.approvals import BaseRef, resolve_base_ref
from change_mgmt.errors import SreError


class TrustedFiles:
    """Files of the project directory, from the working tree or from one base commit."""

    def __init__(self, project_dir: Path, ref: str | None = None) -> None:
        self.project_dir = project_dir
        self.ref = ref
        self.base: BaseRef | None = None
        """The branch ``ref`` resolved to, and its commit (None: the working tree)."""
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._commit: git.Commit | None = None
        self._prefix = ""
        if ref is not None:
            try:
                repo = git.Repo(project_dir, search_parent_directories=True)
            except (git.InvalidGitRepositoryError, git.NoSuchPathError):
                raise SreError(f"--base-ref {ref}: {project_dir} is not a git checkout") from None
            root = Path(repo.working_tree_dir or project_dir).resolve()
            self.base = resolve_base_ref(root, ref)
            self._commit = repo.commit(self.base.commit)
            relative = project_dir.resolve().relative_to(root).as_posix()
            self._prefix = "" if relative == "." else relative + "/"

    @property
    def commit_sha(self) -> str | None:
        """The commit the trusted files are read from (None: the working tree)."""
        return self.base.commit if self.base else None

    def __enter__(self) -> TrustedFiles:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()

    def display(self, name: str) -> str:
        return f"{self.ref}:{name}" if self.ref else name

    def path(self, name: str) -> Path | None:
        """A readable path holding ``name`` as trusted, or None when it does not exist."""
        if self._commit is None:
            path = self.project_dir / name
            return path if path.is_file() else None
        try:
            blob = self._commit.tree / (self._prefix + name)
        except KeyError:
            return None
        if self._tmp is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="sre-trusted-")
        target = Path(self._tmp.name) / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(blob.data_stream.read())
        return target
