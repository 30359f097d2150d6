"""Where the gate's approvals, ticket and author come from when nothing else is configured.

The local ledger is the embedded default: its change record is the ticket, its
(unsigned) local approvals are the approvals. Signed git approvals and Jira replace
these through the same small interfaces.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import git

from change_mgmt.approvals import ApprovalError
from change_mgmt.approvals.verify import change_author
from change_mgmt.gate.decision import Approval, TicketRef
from change_mgmt.ledger.records import ChangeRecord
from change_mgmt.ledger.store import Ledger
from change_mgmt.preview import ChangeSet

LOCAL_SOURCE = "local ledger (unsigned)"
AUTHOR_ENV = "SRE_CHANGE_AUTHOR"


@dataclass(frozen=True)
class LedgerApprovals:
    """Local approvals: they count for four eyes but carry no group membership."""

    ledger: Ledger

    def approvals(
        self, changeset: ChangeSet, *, author: str | None, now: datetime
    ) -> list[Approval]:
        found: list[Approval] = []
        for local in self.ledger.approvals(changeset.stack, changeset.digest):
            why_not = None
            if author is not None and local.approver.casefold() == author.casefold():
                why_not = "four eyes: the author of a change cannot approve it"
            found.append(
                Approval(
                    stack=local.stack,
                    digest=local.digest,
                    approver=local.approver,
                    decision="approve" if local.decision.value == "approve" else "reject",
                    reason=local.reason,
                    source=LOCAL_SOURCE,
                    created_at=local.created_at,
                    counts=why_not is None,
                    why_not=why_not,
                )
            )
        return found


class LedgerTickets:
    """Without Jira, the ledger's change record is the ticket: ``CHG-<id>``."""

    def ticket_for(self, record: ChangeRecord) -> TicketRef:
        key = record.ticket_key or f"CHG-{record.id}"
        return TicketRef(key=key, source="local ledger", state=record.state.value)


@dataclass(frozen=True)
class Provenance:
    """Who made the change and at which commit (either may be unknown)."""

    author: str | None
    commit: str | None


def provenance(project_dir: Path, author: str | None = None) -> Provenance:
    """The author from ``author``, ``$SRE_CHANGE_AUTHOR`` (CI: the PR author) or the author
    of the newest commit that changes more than approval records (so an approver's commit
    on top does not become the author); the commit is HEAD. Outside a git checkout both
    may be None. Commit author fields are not authenticated: CI should pass the author."""
    author = author or os.environ.get(AUTHOR_ENV) or None
    try:
        repo = git.Repo(project_dir, search_parent_directories=True)
        head = repo.head.commit.hexsha
    except (git.InvalidGitRepositoryError, git.NoSuchPathError, ValueError):
        return Provenance(author, None)
    repo.close()
    if author is None:
        try:
            author = change_author(project_dir)
        except ApprovalError:
            author = None
    return Provenance(author, head)


BASE_REF_ENV = "SRE_BASE_REF"
_BASE_CANDIDATES = ("origin/main", "main")


def base_ref(project_dir: Path, explicit: str | None) -> str | None:
    """The protected base branch: ``explicit``, ``$SRE_BASE_REF``, else the first of
    origin/main and main that exists here (None outside git or when neither exists)."""
    chosen = explicit or os.environ.get(BASE_REF_ENV)
    if chosen:
        return chosen
    try:
        with git.Repo(project_dir, search_parent_directories=True) as repo:
            for candidate in _BASE_CANDIDATES:
                try:
                    repo.commit(candidate)
                except (git.BadName, ValueError):
                    continue
                return candidate
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return None
    return None
