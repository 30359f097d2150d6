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
    """The author from ``author``, ``$SRE_CHANGE_AUTHOR`` (CI: the PR author) or the HEAD
    commit's author email; the commit from HEAD. Outside a git checkout both may be None."""
    author = author or os.environ.get(AUTHOR_ENV) or None
    try:
        repo = git.Repo(project_dir, search_parent_directories=True)
        head = repo.head.commit
    except (git.InvalidGitRepositoryError, git.NoSuchPathError, ValueError):
        return Provenance(author, None)
    with repo:
        return Provenance(author or head.author.email or None, head.hexsha)
