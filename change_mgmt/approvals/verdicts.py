"""The verdict on one approval record: counts, or the first rule it breaks and why.

A candidate record (a file below ``approvals/`` and the commit that wrote it) is judged
rule by rule, in this order; the first rule it breaks is its reason:

========================  =====================================================
``malformed``             not a valid record (bad YAML or fields; FILE:LINE: message)
``other-stack``           the record is about another stack (e.g. a copied file)
``other-digest``          the record is about another preview (e.g. an earlier
                          preview of this change: the preview changed since)
``record-moved``          the file is not at ``approvals/<stack>/<digest>/<approver>.yaml``
``unsigned``              the commit that wrote the content is not signed, or no
                          single commit wrote it (a merge did)
``wrong-signature-kind``  the commit is signed, but with OpenPGP or X.509, not SSH
``unknown-signer``        a valid signature by a key not in the base branch's list (``U``)
``bad-signature``         the signature does not verify, or its key expired or was revoked
``signer-mismatch``       signed by an allowed key of someone other than the record's approver
``self-approval``         the approver is the change's author (four eyes)
``expired``               ``now`` is at or after the record's ``expires_at``
``duplicate``             another record of the same principal counts for this change
                          (one principal counts once; see :mod:`change_mgmt.approvals.vetoes`)
========================  =====================================================

Principals are compared in their canonical form
(:func:`change_mgmt.principals.canonical_principal`).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from change_mgmt.approvals.gitio import Origin, TreeEntry
from change_mgmt.approvals.records import (
    MAX_RECORD_BYTES,
    RECORD_SUFFIX,
    ApprovalRecord,
    Decision,
    load_record,
)
from change_mgmt.approvals.signers import APPROVERS_FILE, Approver, ApproversFile
from change_mgmt.documents import DocumentError
from change_mgmt.gate.decision import Approval
from change_mgmt.principals import same_principal

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
WRONG_SIGNATURE_KIND = "wrong-signature-kind"
DUPLICATE = "duplicate"
REASON_CODES: tuple[str, ...] = (
    MALFORMED,
    OTHER_STACK,
    OTHER_DIGEST,
    RECORD_MOVED,
    UNSIGNED,
    WRONG_SIGNATURE_KIND,
    UNKNOWN_SIGNER,
    BAD_SIGNATURE,
    SIGNER_MISMATCH,
    SELF_APPROVAL,
    EXPIRED,
    DUPLICATE,
)
_NOUNS = {"approve": "approval", "reject": "rejection"}
_KIND_NAMES = {"openpgp": "OpenPGP (gpg)", "x509": "X.509 (gpgsm)", "unknown": "an unknown kind of"}

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
    kind: str | None = None
    """The kind of signature in the commit's header: ``ssh``, ``openpgp``, ``x509``."""

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
    note: str | None = None
    """Why a record that is no longer at HEAD still counts (a rejection only its signer
    can withdraw)."""

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
            "created_at": iso(record.created_at) if record else None,
            "expires_at": iso(record.expires) if record else None,
            "ticket": record.ticket if record else None,
            "signature": self.signature.as_dict() if self.signature else None,
            "note": self.note,
        }


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass
class Candidate:
    entry: TreeEntry
    content: bytes | None = None
    record: ApprovalRecord | None = None
    problem: str | None = None


def parse_candidates(candidates: list[Candidate]) -> None:
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


@dataclass(frozen=True)
class Judge:
    """The rules of one verification run (see the module docstring)."""

    base: ApproversFile | None
    base_ref: str
    head_approvers: ApproversFile | None
    """The change's own ``approvers.yaml``: only to explain an unknown key."""
    fork_approvers: ApproversFile | None
    """``approvers.yaml`` where the branch left the base: tells a key the base removed
    since from a key the change adds."""
    author: str | None
    now: datetime
    change: tuple[str, str] | None
    shallow: bool
    earlier: frozenset[str] = frozenset()
    """Record paths of this stack the branch added for other digests: approvals of an
    earlier preview of this change."""

    def signed_by(self, signature: Signature | None) -> Approver | None:
        """The base-listed approver whose key made this good SSH signature, if any."""
        if signature is None or signature.status != "G" or signature.kind not in (None, "ssh"):
            return None
        listed = self.base.by_fingerprint(signature.key or "") if self.base else None
        if listed is None or listed.principal != signature.signer:
            return None
        return listed

    def __call__(
        self, candidate: Candidate, origin: Origin | None, signature: Signature | None
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
        if record.digest != digest and entry.path in self.earlier:
            return OTHER_DIGEST, (
                f"this {_NOUNS[record.decision]} is for an earlier preview of this change "
                f"({record.digest[:12]}…); the preview changed to {digest[:12]}…, so it no "
                "longer counts: decide again on the new digest"
            )
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
        directory, _, name = entry.path.rpartition("/")
        if directory != expected.rpartition("/")[0] or not same_principal(
            name.removesuffix(RECORD_SUFFIX), record.approver
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
        if signature.kind not in (None, "ssh"):
            kind = _KIND_NAMES.get(signature.kind, signature.kind)
            return WRONG_SIGNATURE_KIND, (
                f"commit {commit} is signed with {kind} signature, not SSH: approvals count "
                f"only with the SSH key {APPROVERS_FILE} lists (git config gpg.format ssh)"
            )
        if status == "N":
            by = f" (its author field says {signature.author})" if signature.author else ""
            return UNSIGNED, f"commit {commit} that wrote it has no SSH signature{by}"
        if status not in ("G", "U"):
            meaning = _STATUS_MEANING.get(status, "an unknown signature status")
            return BAD_SIGNATURE, f"commit {commit}: {meaning} (%G? = {status})"
        listed = self.signed_by(signature)
        if listed is None:
            return UNKNOWN_SIGNER, self._unknown_key(commit, signature.key)
        if not same_principal(listed.principal, record.approver):
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
        removed = self.fork_approvers.by_fingerprint(key) if self.fork_approvers and key else None
        proposed: Approver | None = (
            self.head_approvers.by_fingerprint(key) if self.head_approvers and key else None
        )
        if removed is not None:
            message += (
                f"; it was {removed.principal}'s key when this branch started, and "
                f"{self.base_ref} has removed it since"
            )
        elif proposed is not None:
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
        if record.decision == "approve" and same_principal(record.approver, self.author):
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
            return EXPIRED, f"expired at {iso(record.expires)}; approve again if it still holds"
        return None


def _from_path(path: str) -> tuple[str, str]:
    """Best-effort stack dir and digest of a record path (for an unreadable record)."""
    parts = path.split("/")
    if len(parts) >= 4:
        return parts[1], parts[2]
    return "", ""
