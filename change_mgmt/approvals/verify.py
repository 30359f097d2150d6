"""Verify signed approval records: which count for a change, and why the others do not.

For one change (stack + digest) the candidates are every file below
``approvals/<stack dir>/<digest>/`` at HEAD, any record file elsewhere below
``approvals/`` whose content names the digest (a copied or moved record is reported,
never silently ignored), the records this branch added for earlier previews of the
stack (reported as ``other-digest``), and every rejection of this digest the branch
carried since it left the base (see :mod:`change_mgmt.approvals.vetoes`). Each
candidate is judged by the newest non-merge commit that changed the file (topological
order over the full history): that commit must have written exactly the content at
HEAD, and carry a good SSH signature (``%G?`` = ``G``) by a key that ``approvers.yaml``
*on the base branch* lists for the record's approver. The rules and reason codes are in
:mod:`change_mgmt.approvals.verdicts`.

The base branch is resolved only as a branch or remote-tracking branch
(:mod:`change_mgmt.approvals.baseref`) and the report carries the commit it resolved to.

A valid rejection counts (``counts=True``) and so vetoes the change; rejections do not
expire, and the change's author may reject their own change. One principal counts once.

Cost: a fixed number of git processes per verification (ls-tree, cat-file batches, two
``git log`` passes, one ``git diff``, one ``git log --no-walk`` for the signatures of the
commits that matter); ssh-keygen runs once per signed commit checked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import git

from change_mgmt.approvals.baseref import BaseRef, resolve_base_ref
from change_mgmt.approvals.errors import ApprovalInputError, ApproversFileError
from change_mgmt.approvals.gitio import (
    Origin,
    PathChange,
    TreeEntry,
    changed_paths,
    check_signatures,
    head_commit,
    is_shallow,
    list_tree,
    newest_changes,
    open_repository,
    path_changes,
    read_blobs,
    repository_root,
    run_git,
)
from change_mgmt.approvals.records import (
    APPROVALS_DIR,
    MAX_RECORD_BYTES,
    change_dir,
    stack_dir,
    validate_digest,
    validate_stack,
)
from change_mgmt.approvals.signers import (
    APPROVERS_FILE,
    ApproversFile,
    allowed_signers_file,
    approvers_at,
)
from change_mgmt.approvals.verdicts import (
    BAD_SIGNATURE,
    DUPLICATE,
    EXPIRED,
    MALFORMED,
    OTHER_DIGEST,
    OTHER_STACK,
    REASON_CODES,
    RECORD_MOVED,
    SELF_APPROVAL,
    SIGNER_MISMATCH,
    SOURCE,
    UNKNOWN_SIGNER,
    UNSIGNED,
    WRONG_SIGNATURE_KIND,
    Candidate,
    Judge,
    RecordCheck,
    Signature,
    parse_candidates,
)
from change_mgmt.approvals.vetoes import count_once, standing_rejections
from change_mgmt.gate.decision import Approval
from change_mgmt.preview import ChangeSet
from change_mgmt.principals import canonical_principal

__all__ = [
    "BAD_SIGNATURE",
    "DUPLICATE",
    "EXPIRED",
    "MALFORMED",
    "OTHER_DIGEST",
    "OTHER_STACK",
    "REASON_CODES",
    "RECORD_MOVED",
    "SELF_APPROVAL",
    "SIGNER_MISMATCH",
    "SOURCE",
    "UNKNOWN_SIGNER",
    "UNSIGNED",
    "WRONG_SIGNATURE_KIND",
    "ApprovalReport",
    "GitApprovals",
    "RecordCheck",
    "Signature",
    "approvers_modified",
    "change_author",
]


@dataclass(frozen=True)
class ApprovalReport:
    """Every record considered for a change (or the whole repository) and the context."""

    base_ref: str
    base_commit: str
    """The commit ``base_ref`` resolved to: whose ``approvers.yaml`` was trusted."""
    head: str | None
    stack: str | None
    digest: str | None
    approvers_listed: int
    """How many approvers ``approvers.yaml`` on the base branch lists (0: none or no file)."""
    approvers_file_on_base: bool
    approvers_modified: bool
    """The change under review modified ``approvers.yaml`` (its edits do not count)."""
    shallow: bool
    records: tuple[RecordCheck, ...] = field(default=())

    def approvals(self) -> list[Approval]:
        return [check.approval for check in self.records]

    @property
    def notes(self) -> tuple[str, ...]:
        """What a reader should know besides the records."""
        notes = []
        if not self.approvers_file_on_base:
            notes.append(
                f"{APPROVERS_FILE} does not exist on {self.base_ref}: no signature can count"
            )
        if self.approvers_modified:
            notes.append(
                f"this change modifies {APPROVERS_FILE}; approvals are verified against "
                f"{self.base_ref}'s version until it is merged"
            )
        if self.shallow:
            notes.append(
                "this clone is shallow: commits before its boundary cannot be checked "
                "(fetch the full history, e.g. `git fetch --unshallow`)"
            )
        return tuple(notes)

    def as_dict(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "digest": self.digest,
            "base_ref": self.base_ref,
            "base_commit": self.base_commit,
            "head": self.head,
            "approvers_file_on_base": self.approvers_file_on_base,
            "approvers_modified": self.approvers_modified,
            "shallow": self.shallow,
            "notes": list(self.notes),
            "counted": sum(1 for c in self.records if c.counts),
            "records": [c.as_dict() for c in self.records],
        }


@dataclass(frozen=True)
class GitApprovals:
    """Signed approval records in a git checkout, verified against ``base_ref``'s signers.

    Implements the gate's ``ApprovalSource``.
    """

    repo_dir: Path
    base_ref: str

    def approvals(
        self, changeset: ChangeSet, *, author: str | None, now: datetime
    ) -> list[Approval]:
        return self.check(changeset.stack, changeset.digest, author=author, now=now).approvals()

    def check(
        self, stack: str, digest: str, *, author: str | None, now: datetime
    ) -> ApprovalReport:
        """Every record that is, or claims to be, about this change, with its verdict."""
        stack = validate_stack(stack)
        digest = validate_digest(digest)
        return _Verification(self.repo_dir, self.base_ref, author, now).run((stack, digest))

    def verify_all(self, *, author: str | None, now: datetime) -> ApprovalReport:
        """Every record below ``approvals/``, each judged against the change it names."""
        return _Verification(self.repo_dir, self.base_ref, author, now).run(None)


def approvers_modified(repo_dir: Path, base_ref: str) -> bool:
    """Whether the change under review (HEAD since its merge base with ``base_ref``)
    changed ``approvers.yaml``. Edits that landed on the base branch meanwhile do not
    count as the change's own."""
    with open_repository(repo_dir) as repo:
        root = repository_root(repo)
        base = resolve_base_ref(root, base_ref)
        head = head_commit(repo)
        return head is not None and _approvers_modified(repo, _fork_point(repo, base, head), head)


def change_author(repo_dir: Path) -> str | None:
    """The author email of the newest non-merge commit on HEAD that changes anything outside
    ``approvals/``: the change's author, not the last approver. Commit author fields are
    not authenticated: CI should pass the pull request's author instead."""
    with open_repository(repo_dir) as repo:
        root = repository_root(repo)
        if head_commit(repo) is None:
            return None
    out = run_git(
        root,
        "log",
        "-1",
        "--no-merges",
        "--no-show-signature",
        "--format=%ae",
        "HEAD",
        "--",
        ":(top)",
        f":(top,exclude){APPROVALS_DIR}/",
    )
    email = out.decode("utf-8", "replace").strip()
    return email or None


def _blob_id(repo: git.Repo, commit: str, path: str) -> str | None:
    try:
        return str((repo.commit(commit).tree / path).hexsha)
    except KeyError:
        return None


def _fork_point(repo: git.Repo, base: BaseRef, head: str | None) -> str:
    """Where the branch left the base: their merge base (the base itself without one)."""
    if head is None:
        return base.commit
    bases = repo.merge_base(base.commit, head)
    return str(bases[0].hexsha) if bases else base.commit


def _approvers_modified(repo: git.Repo, fork: str, head: str) -> bool:
    return _blob_id(repo, fork, APPROVERS_FILE) != _blob_id(repo, head, APPROVERS_FILE)


@dataclass(frozen=True)
class _State:
    """What one verification reads once: the base, HEAD and where they part."""

    root: Path
    base: BaseRef
    approvers: ApproversFile | None
    head: str
    fork: str
    shallow: bool


class _Verification:
    """One verification run against one state of one repository."""

    def __init__(self, repo_dir: Path, base_ref: str, author: str | None, now: datetime) -> None:
        if now.tzinfo is None:
            raise ApprovalInputError("now must be a time with a time zone")
        self.repo_dir = repo_dir
        self.base_ref = base_ref
        self.author = canonical_principal(author) if author and author.strip() else None
        self.now = now

    def run(self, change: tuple[str, str] | None) -> ApprovalReport:
        with open_repository(self.repo_dir) as repo:
            root = repository_root(repo)
            base = resolve_base_ref(root, self.base_ref)
            approvers = approvers_at(repo, base.commit, display=self.base_ref)
            head = head_commit(repo)
            shallow = is_shallow(repo)
            checks: tuple[RecordCheck, ...] = ()
            modified = False
            if head is not None:
                state = _State(root, base, approvers, head, _fork_point(repo, base, head), shallow)
                modified = _approvers_modified(repo, state.fork, head)
                checks = self._checks(repo, state, change)
        return ApprovalReport(
            base_ref=self.base_ref,
            base_commit=base.commit,
            head=head,
            stack=change[0] if change else None,
            digest=change[1] if change else None,
            approvers_listed=len(approvers.approvers) if approvers else 0,
            approvers_file_on_base=approvers is not None,
            approvers_modified=modified,
            shallow=shallow,
            records=checks,
        )

    def _checks(
        self, repo: git.Repo, state: _State, change: tuple[str, str] | None
    ) -> tuple[RecordCheck, ...]:
        root, head = state.root, state.head
        entries = list_tree(root, head, APPROVALS_DIR)
        readable = [e for e in entries if e.regular and e.size <= MAX_RECORD_BYTES]
        blobs = read_blobs(root, (e.oid for e in readable))
        earlier = _earlier_previews(state, change)
        candidates = _select(entries, blobs, change, earlier)
        history = _rejections_since_base(state, change)
        if not candidates and not history:
            return ()
        parse_candidates(candidates)
        origins = newest_changes(root, head, _pathspecs(candidates, change))
        vouching = {
            origin.commit
            for c in candidates
            if (origin := origins.get(c.entry.path)) is not None and _wrote(origin, c.entry)
        }
        signatures = _signatures(repo, state, vouching | {c.origin.commit for c in history})
        judge = Judge(
            base=state.approvers,
            base_ref=self.base_ref,
            head_approvers=_approvers_at(repo, head, signatures),
            fork_approvers=_approvers_at(repo, state.fork, signatures)
            if state.fork != state.base.commit
            else None,
            author=self.author,
            now=self.now,
            change=change,
            shallow=state.shallow,
            earlier=earlier,
        )
        checks = [
            judge(
                candidate,
                origins.get(candidate.entry.path),
                _vouching(candidate, origins, signatures),
            )
            for candidate in candidates
        ]
        history_blobs = read_blobs(root, (c.origin.oid for c in history if not c.origin.deleted))
        checks += standing_rejections(root, head, judge, history, history_blobs, signatures, checks)
        return count_once(checks)


def _vouching(
    candidate: Candidate, origins: dict[str, Origin], signatures: dict[str, Signature]
) -> Signature | None:
    origin = origins.get(candidate.entry.path)
    return signatures.get(origin.commit) if origin is not None else None


def _pathspecs(candidates: list[Candidate], change: tuple[str, str] | None) -> list[str]:
    if change is None:
        return [f"{APPROVALS_DIR}/"]
    own = change_dir(*change) + "/"
    return sorted({own} | {c.entry.path for c in candidates if not c.entry.path.startswith(own)})


def _earlier_previews(state: _State, change: tuple[str, str] | None) -> frozenset[str]:
    """Record files of this stack, for other digests, that the branch added or changed."""
    if change is None:
        return frozenset()
    own = change_dir(*change) + "/"
    stack_path = f"{APPROVALS_DIR}/{stack_dir(change[0])}"
    changed = changed_paths(state.root, state.fork, state.head, stack_path)
    return frozenset(path for path in changed if not path.startswith(own))


def _rejections_since_base(state: _State, change: tuple[str, str] | None) -> list[PathChange]:
    """Every change of this change's records on the branch since the base, newest first."""
    if change is None:
        return []
    return path_changes(
        state.root, [state.head, f"^{state.base.commit}"], [change_dir(*change) + "/"]
    )


def _signatures(repo: git.Repo, state: _State, commits: set[str]) -> dict[str, Signature]:
    with allowed_signers_file(state.approvers) as signers:
        found = check_signatures(state.root, commits, signers)
    authors = _authors(repo, set(found))
    return {
        sha: Signature(c.commit, c.status, c.signer, c.key, authors.get(sha), c.kind)
        for sha, c in found.items()
    }


def _wrote(origin: Origin, entry: TreeEntry) -> bool:
    return origin.oid == entry.oid and origin.mode == entry.mode


def _select(
    entries: list[TreeEntry],
    blobs: dict[str, bytes],
    change: tuple[str, str] | None,
    earlier: frozenset[str],
) -> list[Candidate]:
    if change is None:
        return [Candidate(e, blobs.get(e.oid)) for e in entries]
    prefix = change_dir(*change) + "/"
    digest = change[1].encode()
    chosen = []
    for entry in entries:
        content = blobs.get(entry.oid)
        if (
            entry.path.startswith(prefix)
            or entry.path in earlier
            or (content is not None and digest in content.lower())
        ):
            chosen.append(Candidate(entry, content))
    return chosen


def _authors(repo: git.Repo, commits: set[str]) -> dict[str, str]:
    authors = {}
    for sha in commits:
        try:
            authors[sha] = str(repo.commit(sha).author.email)
        except (ValueError, git.BadName, git.BadObject):
            continue
    return authors


def _approvers_at(
    repo: git.Repo, commit: str, signatures: dict[str, Signature]
) -> ApproversFile | None:
    """``approvers.yaml`` at another commit, only to explain an unknown key (never trusted);
    read only when some signature is by an unknown key."""
    if not any(s.status == "U" for s in signatures.values()):
        return None
    try:
        return approvers_at(repo, commit)
    except (ApproversFileError, git.GitError):
        return None
