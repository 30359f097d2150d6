"""Builders shared by the report tests: real ledger records on a fixed clock, and git
repositories whose commits have chosen author times."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

from change_mgmt.ledger import ChangeRecord, ChangeState, Ledger, Transition

S = ChangeState
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


class Changes:
    """Proposes records in a real :class:`Ledger` and moves them, every write at a
    given time (the ledger never reads the clock)."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self._count = 0

    def add(
        self,
        stack: str,
        proposed: datetime,
        moves: Sequence[tuple[ChangeState, datetime]] = (),
        *,
        change_type: str = "standard",
        commit: str | None = None,
        review_due_at: datetime | None = None,
    ) -> int:
        """A change proposed at ``proposed`` that then makes ``moves`` (state, time)."""
        self._count += 1
        record = self.ledger.propose(
            stack,
            f"{self._count:064x}",
            risk_level="low",
            risk_score=3,
            change_type=change_type,
            author="author@example.com",
            commit=commit,
            summary={"update": 1},
            emergency_reason="outage" if change_type == "emergency" else None,
            review_due_at=review_due_at,
            now=proposed,
        )
        for state, at in moves:
            self.ledger.transition(record.id, state, now=at)
        return record.id

    def deploy(
        self,
        stack: str,
        at: datetime,
        *,
        outcome: ChangeState = S.applied,
        proposed: datetime | None = None,
        commit: str | None = None,
        change_type: str = "standard",
    ) -> int:
        """Proposed (an hour before by default), applying ten minutes before ``at``, then
        ``outcome`` (applied or failed) at ``at``."""
        return self.add(
            stack,
            proposed or at - HOUR,
            [(S.applying, at - timedelta(minutes=10)), (outcome, at)],
            commit=commit,
            change_type=change_type,
        )

    def snapshot(self) -> tuple[list[ChangeRecord], dict[int, list[Transition]]]:
        """Every record and its transitions, as the CLI reads them."""
        records = self.ledger.list()
        return records, {r.id: self.ledger.history(r.id) for r in records}


def git_at(repo: Path, *args: str, at: str | None = None) -> str:
    """``git args`` in ``repo`` with no user or system configuration; ``at`` sets the
    author and committer time (GIT_AUTHOR_DATE, GIT_COMMITTER_DATE)."""
    env = {
        "GIT_AUTHOR_NAME": "Test",
        "GIT_AUTHOR_EMAIL": "test@example.com",
        "GIT_COMMITTER_NAME": "Test",
        "GIT_COMMITTER_EMAIL": "test@example.com",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "HOME": str(repo),
        "PATH": "/usr/bin:/bin:/usr/local/bin",
    }
    if at is not None:
        env["GIT_AUTHOR_DATE"] = at
        env["GIT_COMMITTER_DATE"] = at
    result = subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True, env=env
    )
    return result.stdout.strip()


def commit(repo: Path, message: str, at: str) -> str:
    """An empty commit authored at ``at`` (ISO 8601); its sha."""
    git_at(repo, "commit", "-q", "--allow-empty", "-m", message, at=at)
    return git_at(repo, "rev-parse", "HEAD")


def init_repo(repo: Path) -> Path:
    repo.mkdir(parents=True, exist_ok=True)
    git_at(repo, "init", "-q", "-b", "main")
    return repo
