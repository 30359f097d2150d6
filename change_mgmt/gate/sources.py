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

from change_mgmt.approvals import ApprovalError, BaseRef, default_base_ref, resolve_base_ref
from change_mgmt.approvals.verify import change_author
from change_mgmt.errors import SreError
from change_mgmt.gate.decision import Approval, TicketRef
from change_mgmt.ledger.records import ChangeRecord
from change_mgmt.ledger.store import Ledger
from change_mgmt.preview import ChangeSet
from change_mgmt.principals import same_principal

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
            if same_principal(local.approver, author):
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
        return TicketRef(key=record.ticket, source="local ledger", state=record.state.value)


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


def resolve_base(project_dir: Path, explicit: str | None) -> BaseRef | None:
    """The protected base branch and the commit it points at: ``explicit``,
    ``$SRE_BASE_REF``, else origin/main when this clone has it, else main (None outside
    git or when neither exists). Only branches and remote-tracking branches count; a
    tag, or a name that is ambiguous, is an error (``BaseRefError``), never skipped."""
    chosen = explicit or os.environ.get(BASE_REF_ENV) or None
    try:
        with git.Repo(project_dir, search_parent_directories=True) as repo:
            root = Path(repo.working_tree_dir or project_dir)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        if chosen:
            raise SreError(f"--base-ref {chosen}: {project_dir} is not a git checkout") from None
        return None
    return resolve_base_ref(root, chosen) if chosen else default_base_ref(root)


def base_ref(project_dir: Path, explicit: str | None) -> str | None:
    """The base branch's name: ``explicit`` or ``$SRE_BASE_REF`` as given (whoever reads
    from it resolves it with :func:`change_mgmt.approvals.resolve_base_ref`), else the
    name of the default :func:`resolve_base` picks."""
    chosen = explicit or os.environ.get(BASE_REF_ENV) or None
    if chosen:
        return chosen
    found = resolve_base(project_dir, None)
    return found.name if found else None
