"""Verify signed approval records: which count for a change, and why the others do not.

For one change (stack + digest) the candidates are every file below
``approvals/<stack dir>/<digest>/`` at HEAD, plus any record file elsewhere below
``approvals/`` whose content names the digest (a copied or moved record is reported,
never silently ignored). Each candidate is judged by the newest non-merge commit that
changed the file (topological order over the full history): that commit must have
written exactly the content at HEAD, and carry a good SSH signature (``%G?`` = ``G``)
by a key that ``approvers.yaml`` *on the base branch* lists for the record's approver.
Then the record must be about this change, sit where it belongs, not be the author's own
approval, and not have expired. The first rule a record breaks is its reason:

=================  ============================================================
``malformed``      not a valid record (bad YAML or fields; FILE:LINE: message)
``other-stack``    the record is about another stack (e.g. a copied file)
``other-digest``   the record is about another preview of the stack
``record-moved``   the file is not at ``approvals/<stack>/<digest>/<approver>.yaml``
``unsigned``       the commit that wrote the content is not signed (``N``), or no
                   single commit wrote it (a merge did)
``unknown-signer`` a valid signature by a key not in the base branch's list (``U``)
``bad-signature``  the signature does not verify, or its key expired or was revoked
``signer-mismatch`` signed by an allowed key of someone other than the record's approver
``self-approval``  the approver is the change's author (four eyes)
``expired``        ``now`` is at or after the record's ``expires_at``
=================  ============================================================

A valid rejection counts (``counts=True``) and so vetoes the change; rejections do not
expire, and the change's author may reject their own change.

Cost: a fixed number of git processes per verification (ls-tree, one cat-file batch, one
``git log`` pass for the whole history, one ``git log --no-walk`` for the signatures of
the commits that matter); ssh-keygen runs once per signed commit checked.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import git

from change_mgmt.approvals.errors import ApprovalInputError, ApproversFileError
from change_mgmt.approvals.gitio import (
    Origin,
    TreeEntry,
    check_signatures,
    head_commit,
    is_shallow,
    list_tree,
    newest_changes,
    open_repository,
    read_blobs,
    repository_root,
    run_git,
)
from change_mgmt.approvals.records import (
    APPROVALS_DIR,
    MAX_RECORD_BYTES,
    RECORD_SUFFIX,
    ApprovalRecord,
    Decision,
    change_dir,
    load_record,
    validate_digest,
    validate_stack,
)
from change_mgmt.approvals.signers import (
    APPROVERS_FILE,
    Approver,
    ApproversFile,
    allowed_signers_file,
    approvers_at,
)
from change_mgmt.documents import DocumentError
from change_mgmt.gate.decision import Approval
from change_mgmt.preview import ChangeSet

SOURCE = "git (signed)"

MALFORMED = "malformed"
OTHER_STACK = "other-stack"
OTHER_DIGEST = "other-digest"
RECORD_MOVED = "record-moved"
UNSIGNED = "unsigned"
UNKNOWN_SIGNER = "unknown-signer"
BAD_SIGNATURE = "bad-signature"
SIGNER_MISMATCH = "signer-mismatch"
SELF_APPROVAL = "self-approval"
EXPIRED = "expired"
REASON_CODES: tuple[str, ...] = (
    MALFORMED,
    OTHER_STACK,
    OTHER_DIGEST,
    RECORD_MOVED,
    UNSIGNED,
    UNKNOWN_SIGNER,
    BAD_SIGNATURE,
    SIGNER_MISMATCH,
    SELF_APPROVAL,
    EXPIRED,
)

_STATUS_MEANING = {
    "B": "the signature does not verify (bad signature)",
    "X": "a good signature that has expired",
    "Y": "a good signature by a key that has expired",
    "R": "a good signature by a revoked key",
    "E": "the signature cannot be checked (not an SSH signature, or ssh-keygen failed)",
}


@dataclass(frozen=True)
class Signature:
    """The commit that vouches for a record and what git says of its signature."""

    commit: str
    status: str
    """``%G?``: ``G`` good, ``U`` good but unknown key, ``N`` none, ``B X Y R E`` bad."""
    signer: str | None
    """``%GS``: the allowed-signers principal of the key (only with a known key)."""
    key: str | None
    """``%GK``: the key's ``SHA256:`` fingerprint."""
    author: str | None
    """The commit's author email: informational only, anyone can write any name there."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "commit": self.commit,
            "status": self.status,
            "signer": self.signer,
            "key": self.key,
            "author": self.author,
        }


@dataclass(frozen=True)
class RecordCheck:
    """One record file and the verdict on it."""

    path: str
    stack: str
    digest: str
    approver: str
    decision: Decision
    reason: str
    record: ApprovalRecord | None
    signature: Signature | None
    groups: tuple[str, ...]
    code: str | None
    message: str | None

    @property
    def counts(self) -> bool:
        return self.code is None

    @property
    def why_not(self) -> str | None:
        return None if self.code is None else f"{self.code}: {self.message}"

    @property
    def approval(self) -> Approval:
        return Approval(
            stack=self.stack,
            digest=self.digest,
            approver=self.approver,
            decision=self.decision,
            reason=self.reason,
            source=SOURCE,
            created_at=self.record.created_at if self.record else None,
            groups=self.groups,
            counts=self.counts,
            why_not=self.why_not,
        )

    def as_dict(self) -> dict[str, Any]:
        record = self.record
        return {
            "path": self.path,
            "stack": self.stack,
            "digest": self.digest,
            "approver": self.approver,
            "decision": self.decision,
            "reason": self.reason,
            "counts": self.counts,
            "code": self.code,
            "why_not": self.message,
            "groups": list(self.groups),
            "created_at": _iso(record.created_at) if record else None,
            "expires_at": _iso(record.expires) if record else None,
            "ticket": record.ticket if record else None,
            "signature": self.signature.as_dict() if self.signature else None,
        }


@dataclass(frozen=True)
class ApprovalReport:
    """Every record considered for a change (or the whole repository) and the context."""

    base_ref: str
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
            "head": self.head,
            "approvers_file_on_base": self.approvers_file_on_base,
            "approvers_modified": self.approvers_modified,
            "shallow": self.shallow,
            "notes": list(self.notes),
            "counted": sum(1 for c in self.records if c.counts),
            "records": [c.as_dict() for c in self.records],
        }


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


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
        return _approvers_modified(repo, base_ref)


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


def _blob_id(commit: git.Commit, path: str) -> str | None:
    try:
        return str((commit.tree / path).hexsha)
    except KeyError:
        return None


def _approvers_modified(repo: git.Repo, base_ref: str) -> bool:
    try:
        base = repo.commit(base_ref)
        head = repo.head.commit
    except (git.BadName, git.BadObject, ValueError):
        return False
    bases = repo.merge_base(base, head)
    start = bases[0] if bases else base
    return _blob_id(start, APPROVERS_FILE) != _blob_id(head, APPROVERS_FILE)


@dataclass
class _Candidate:
    entry: TreeEntry
    content: bytes | None = None
    record: ApprovalRecord | None = None
    problem: str | None = None


class _Verification:
    """One verification run against one state of one repository."""

    def __init__(self, repo_dir: Path, base_ref: str, author: str | None, now: datetime) -> None:
        if now.tzinfo is None:
            raise ApprovalInputError("now must be a time with a time zone")
        self.repo_dir = repo_dir
        self.base_ref = base_ref
        self.author = author.strip().casefold() if author and author.strip() else None
        self.now = now

    def run(self, change: tuple[str, str] | None) -> ApprovalReport:
        with open_repository(self.repo_dir) as repo:
            root = repository_root(repo)
            base = approvers_at(repo, self.base_ref)
            modified = _approvers_modified(repo, self.base_ref)
            head = head_commit(repo)
            shallow = is_shallow(repo)
            checks: tuple[RecordCheck, ...] = ()
            if head is not None:
                checks = self._checks(repo, root, head, base, change, shallow)
        return ApprovalReport(
            base_ref=self.base_ref,
            head=head,
            stack=change[0] if change else None,
            digest=change[1] if change else None,
            approvers_listed=len(base.approvers) if base else 0,
            approvers_file_on_base=base is not None,
            approvers_modified=modified,
            shallow=shallow,
            records=checks,
        )

    def _checks(
        self,
        repo: git.Repo,
        root: Path,
        head: str,
        base: ApproversFile | None,
        change: tuple[str, str] | None,
        shallow: bool,
    ) -> tuple[RecordCheck, ...]:
        entries = list_tree(root, head, APPROVALS_DIR)
        readable = [e for e in entries if e.regular and e.size <= MAX_RECORD_BYTES]
        blobs = read_blobs(root, (e.oid for e in readable))
        candidates = _select(entries, blobs, change)
        if not candidates:
            return ()
        _parse(candidates)
        pathspecs = (
            [f"{APPROVALS_DIR}/"]
            if change is None
            else sorted(
                {f"{change_dir(*change)}/"}
                | {
                    c.entry.path
                    for c in candidates
                    if not c.entry.path.startswith(change_dir(*change) + "/")
                }
            )
        )
        origins = newest_changes(root, head, pathspecs)
        vouching = {
            origin.commit
            for c in candidates
            if (origin := origins.get(c.entry.path)) is not None and _wrote(origin, c.entry)
        }
        with allowed_signers_file(base) as signers:
            signatures = check_signatures(root, vouching, signers)
        authors = _authors(repo, vouching)
        head_approvers = (
            _approvers_at_head(repo) if any(s.status == "U" for s in signatures.values()) else None
        )
        judge = _Judge(
            base=base,
            base_ref=self.base_ref,
            head_approvers=head_approvers,
            author=self.author,
            now=self.now,
            change=change,
            shallow=shallow,
        )
        checks = []
        for candidate in candidates:
            origin = origins.get(candidate.entry.path)
            signature = None
            if origin is not None and origin.commit in signatures:
                found = signatures[origin.commit]
                signature = Signature(
                    found.commit, found.status, found.signer, found.key, authors.get(found.commit)
                )
            checks.append(judge(candidate, origin, signature))
        return tuple(checks)


def _wrote(origin: Origin, entry: TreeEntry) -> bool:
    return origin.oid == entry.oid and origin.mode == entry.mode


def _select(
    entries: list[TreeEntry], blobs: dict[str, bytes], change: tuple[str, str] | None
) -> list[_Candidate]:
    if change is None:
        return [_Candidate(e, blobs.get(e.oid)) for e in entries]
    prefix = change_dir(*change) + "/"
    digest = change[1].encode()
    chosen = []
    for entry in entries:
        content = blobs.get(entry.oid)
        if entry.path.startswith(prefix) or (content is not None and digest in content.lower()):
            chosen.append(_Candidate(entry, content))
    return chosen


def _parse(candidates: list[_Candidate]) -> None:
    with tempfile.TemporaryDirectory(prefix="sre-approvals-") as tmp:
        for index, candidate in enumerate(candidates):
            entry = candidate.entry
            if not entry.regular:
                candidate.problem = f"{entry.path}: not a regular file (mode {entry.mode})"
            elif entry.size > MAX_RECORD_BYTES:
                candidate.problem = (
                    f"{entry.path}: file is {entry.size} bytes; a record is at most "
                    f"{MAX_RECORD_BYTES} bytes"
                )
            elif not entry.path.endswith(RECORD_SUFFIX):
                candidate.problem = (
                    f"{entry.path}: not a record file (records are named <approver>{RECORD_SUFFIX})"
                )
            elif candidate.content is None:
                candidate.problem = f"{entry.path}: the file's content is missing from this clone"
            else:
                path = Path(tmp) / f"{index}{RECORD_SUFFIX}"
                path.write_bytes(candidate.content)
                try:
                    candidate.record = load_record(path, display_path=entry.path)
                except DocumentError as exc:
                    candidate.problem = "; ".join(str(p) for p in exc.problems)


def _authors(repo: git.Repo, commits: set[str]) -> dict[str, str]:
    authors = {}
    for sha in commits:
        try:
            authors[sha] = str(repo.commit(sha).author.email)
        except (ValueError, git.BadName, git.BadObject):
            continue
    return authors


def _approvers_at_head(repo: git.Repo) -> ApproversFile | None:
    """The change's own ``approvers.yaml``: only to explain an unknown key, never to trust it."""
    try:
        return approvers_at(repo, "HEAD")
    except (ApproversFileError, git.GitError):
        return None


@dataclass(frozen=True)
class _Judge:
    base: ApproversFile | None
    base_ref: str
    head_approvers: ApproversFile | None
    author: str | None
    now: datetime
    change: tuple[str, str] | None
    shallow: bool

    def __call__(
        self, candidate: _Candidate, origin: Origin | None, signature: Signature | None
    ) -> RecordCheck:
        record = candidate.record
        entry = candidate.entry
        if record is None:
            stack, digest = self.change or _from_path(entry.path)
            approver = Path(entry.path).name.removesuffix(RECORD_SUFFIX)
            return RecordCheck(
                entry.path,
                stack,
                digest,
                approver,
                "approve",
                "",
                None,
                signature,
                self._groups(approver),
                MALFORMED,
                candidate.problem or "unreadable",
            )
        code, message = self._verdict(record, entry, origin, signature)
        return RecordCheck(
            path=entry.path,
            stack=record.stack,
            digest=record.digest,
            approver=record.approver,
            decision=record.decision,
            reason=record.reason,
            record=record,
            signature=signature,
            groups=self._groups(record.approver),
            code=code,
            message=message,
        )

    def _groups(self, principal: str) -> tuple[str, ...]:
        listed = self.base.by_principal(principal) if self.base else None
        return listed.groups if listed else ()

    def _verdict(
        self,
        record: ApprovalRecord,
        entry: TreeEntry,
        origin: Origin | None,
        signature: Signature | None,
    ) -> tuple[str | None, str | None]:
        for rule in (
            self._about_change,
            self._in_place,
            self._written,
            self._signed,
            self._four_eyes,
            self._fresh,
        ):
            verdict = rule(record, entry, origin, signature)
            if verdict is not None:
                return verdict
        return None, None

    def _about_change(
        self,
        record: ApprovalRecord,
        entry: TreeEntry,
        origin: Origin | None,
        signature: Signature | None,
    ) -> tuple[str, str] | None:
        if self.change is None:
            return None
        stack, digest = self.change
        if record.stack != stack:
            return OTHER_STACK, f"the record is about stack {record.stack!r}, not {stack!r}"
        if record.digest != digest:
            return OTHER_DIGEST, (
                f"the record is about preview {record.digest[:12]}…, not {digest[:12]}…; "
                "a changed preview needs new approvals"
            )
        return None

    def _in_place(
        self,
        record: ApprovalRecord,
        entry: TreeEntry,
        origin: Origin | None,
        signature: Signature | None,
    ) -> tuple[str, str] | None:
        expected = record.path
        if entry.path.casefold() != expected.casefold() or not entry.path.startswith(
            expected.rsplit("/", 1)[0] + "/"
        ):
            return RECORD_MOVED, f"found at {entry.path}; this record belongs at {expected}"
        return None

    def _written(
        self,
        record: ApprovalRecord,
        entry: TreeEntry,
        origin: Origin | None,
        signature: Signature | None,
    ) -> tuple[str, str] | None:
        """The content at HEAD must be exactly what one (non-merge) commit wrote."""
        if origin is None:
            shallow = (
                " (this clone is shallow: fetch the full history, e.g. `git fetch --unshallow`)"
                if self.shallow
                else ""
            )
            return UNSIGNED, f"no commit in this clone's history wrote this file{shallow}"
        if origin.oid != entry.oid or origin.mode != entry.mode:
            return UNSIGNED, (
                f"the newest commit that changed this file ({origin.commit[:12]}) wrote other "
                "content: this version comes from a merge, which is never proof"
            )
        if signature is None:
            return UNSIGNED, f"the signature of commit {origin.commit[:12]} could not be read"
        return None

    def _signed(
        self,
        record: ApprovalRecord,
        entry: TreeEntry,
        origin: Origin | None,
        signature: Signature | None,
    ) -> tuple[str, str] | None:
        """A good signature by the key the base branch lists for the record's approver."""
        assert signature is not None  # _written ran first
        commit = signature.commit[:12]
        status = signature.status
        if status == "N":
            by = f" (its author field says {signature.author})" if signature.author else ""
            return UNSIGNED, f"commit {commit} that wrote it has no SSH signature{by}"
        if status not in ("G", "U"):
            meaning = _STATUS_MEANING.get(status, "an unknown signature status")
            return BAD_SIGNATURE, f"commit {commit}: {meaning} (%G? = {status})"
        listed = self.base.by_fingerprint(signature.key or "") if self.base else None
        if status == "U" or listed is None or listed.principal != signature.signer:
            return UNKNOWN_SIGNER, self._unknown_key(commit, signature.key)
        if listed.principal.casefold() != record.approver.casefold():
            author = f"; its author field says {signature.author}" if signature.author else ""
            return SIGNER_MISMATCH, (
                f"the record names {record.approver} but commit {commit} is signed by "
                f"{listed.principal}'s key{author}"
            )
        return None

    def _unknown_key(self, commit: str, key: str | None) -> str:
        message = (
            f"commit {commit} is signed by key {key or '(unknown)'}, which {APPROVERS_FILE} on "
            f"{self.base_ref} does not list"
        )
        proposed: Approver | None = (
            self.head_approvers.by_fingerprint(key) if self.head_approvers and key else None
        )
        if proposed is not None:
            message += (
                f"; this change adds it for {proposed.principal}, which counts only once "
                f"merged into {self.base_ref}"
            )
        return message

    def _four_eyes(
        self,
        record: ApprovalRecord,
        entry: TreeEntry,
        origin: Origin | None,
        signature: Signature | None,
    ) -> tuple[str, str] | None:
        if (
            record.decision == "approve"
            and self.author is not None
            and record.approver.casefold() == self.author
        ):
            return SELF_APPROVAL, (
                f"{record.approver} is the author of this change and cannot approve it "
                "(four eyes); ask a teammate"
            )
        return None

    def _fresh(
        self,
        record: ApprovalRecord,
        entry: TreeEntry,
        origin: Origin | None,
        signature: Signature | None,
    ) -> tuple[str, str] | None:
        if record.decision == "approve" and self.now >= record.expires:
            return EXPIRED, f"expired at {_iso(record.expires)}; approve again if it still holds"
        return None


def _from_path(path: str) -> tuple[str, str]:
    """Best-effort stack dir and digest of a record path (for an unreadable record)."""
    parts = path.split("/")
    if len(parts) >= 4:
        return parts[1], parts[2]
    return "", ""
