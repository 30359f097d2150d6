"""Refuse a ledger directory that git tracks.

The ledger is trusted as this checkout's own record of who proposed what. A ledger that
is committed arrives with ``git pull`` from whoever could push, so it could carry forged
records: a different first author (defeating four eyes), approvals, reviews. ``.sre/``
holds a ``.gitignore`` of its own, but ``git add -f`` (or a file committed before it
existed) gets past that; so every read of the ledger checks git's index and ``HEAD``.
"""

from __future__ import annotations

from pathlib import Path

import git

from change_mgmt.ledger.records import LedgerError


def refuse_if_tracked(directory: Path) -> None:
    """Raise :class:`LedgerError` when git tracks any file under ``directory``.

    Outside a git repository there is nothing to check. Inside one, git must answer:
    a ledger whose tracking cannot be checked is not read (fail closed).
    """
    try:
        repo = git.Repo(directory, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return
    try:
        with repo:
            # --with-tree adds what HEAD has and the index no longer does (git rm --cached
            # without a commit still leaves the ledger in HEAD, for everyone who pulls).
            tree = ["--with-tree=HEAD"] if repo.head.is_valid() else []
            listing = git.Git(str(directory)).execute(
                ["git", "--literal-pathspecs", "ls-files", "-z", "--cached", *tree, "--", "."],
                strip_newline_in_stdout=False,
            )
    except (git.GitCommandError, git.GitCommandNotFound, OSError, ValueError) as exc:
        raise LedgerError(
            f"cannot check that git does not track the ledger directory {directory}: {exc}"
        ) from None
    tracked = sorted({name for name in str(listing).split("\0") if name})
    if not tracked:
        return
    shown = ", ".join(tracked[:5]) + (f" and {len(tracked) - 5} more" if len(tracked) > 5 else "")
    raise LedgerError(
        f"git tracks files in the ledger directory {directory} ({shown}); a committed "
        "ledger lets anyone who can push forge change records, so it is not read. "
        f"Untrack it with `git rm -r --cached {directory}` and commit that (the files "
        "stay on disk), then run again"
    )
