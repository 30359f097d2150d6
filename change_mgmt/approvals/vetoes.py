"""Two rules over a change's records as a whole: a veto cannot be deleted, and one
principal counts once.

**Standing rejections.** A signed rejection is a veto whoever edits the branch after
it: deleting or overwriting its file in a later commit does not lift it unless that
commit is a signed decision of the rejecting approver themselves (a new decision, or
``sre approve --withdraw``) that descends from the rejection. So every rejection the
branch ever carried for this digest since it left the base (``git log HEAD ^base``) is
judged like a record at HEAD; the valid ones still veto, with a note saying who
removed them. Rewriting the branch's history (a force-push) can still drop a
rejection: protecting the branch is the control for that.

**Counting once.** ``alice@example.com.yaml`` and ``Alice@example.com.yaml``, both
signed by alice, are one principal: only one of their records counts (a rejection
if there is one, else the newest approval); the others are ``duplicate``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from change_mgmt.approvals.gitio import PathChange, TreeEntry, descendants
from change_mgmt.approvals.verdicts import (
    DUPLICATE,
    Candidate,
    Judge,
    RecordCheck,
    Signature,
    parse_candidates,
)
from change_mgmt.principals import canonical_principal, same_principal

_OLDEST = datetime.min.replace(tzinfo=UTC)


def standing_rejections(
    root: Path,
    head: str,
    judge: Judge,
    history: Sequence[PathChange],
    blobs: Mapping[str, bytes],
    signatures: Mapping[str, Signature],
    current: Sequence[RecordCheck],
) -> list[RecordCheck]:
    """The valid rejections in ``history`` (newest first) that are not at HEAD any more
    and that their own signer has not superseded."""
    standing = []
    for written, check in _valid_rejections(judge, history, blobs, signatures):
        commit = written.origin.commit
        if any(
            c.path == written.path and c.signature and c.signature.commit == commit for c in current
        ):
            continue  # still at HEAD: judged there
        if _superseded(root, head, judge, written, check, history, signatures):
            continue
        standing.append(dataclasses.replace(check, note=_removal(history, written, signatures)))
    return standing


def _valid_rejections(
    judge: Judge,
    history: Sequence[PathChange],
    blobs: Mapping[str, bytes],
    signatures: Mapping[str, Signature],
) -> list[tuple[PathChange, RecordCheck]]:
    written = [
        c for c in history if not c.origin.deleted and b"reject" in blobs.get(c.origin.oid, b"")
    ]
    candidates = [
        Candidate(
            TreeEntry(c.path, c.origin.mode, c.origin.oid, len(blobs[c.origin.oid])),
            blobs[c.origin.oid],
        )
        for c in written
    ]
    parse_candidates(candidates)
    found = []
    for change, candidate in zip(written, candidates, strict=True):
        if candidate.record is None or candidate.record.decision != "reject":
            continue
        check = judge(candidate, change.origin, signatures.get(change.origin.commit))
        if check.counts:
            found.append((change, check))
    return found


def _superseded(
    root: Path,
    head: str,
    judge: Judge,
    rejection: PathChange,
    check: RecordCheck,
    history: Sequence[PathChange],
    signatures: Mapping[str, Signature],
) -> bool:
    """A later change of the same file, signed by the rejecting approver, descends from it."""
    by_approver = {
        c.origin.commit
        for c in history
        if c.path == rejection.path
        and c.origin.commit != rejection.origin.commit
        and (signer := judge.signed_by(signatures.get(c.origin.commit))) is not None
        and same_principal(signer.principal, check.approver)
    }
    return bool(by_approver) and bool(
        by_approver & descendants(root, rejection.origin.commit, head)
    )


def _removal(
    history: Sequence[PathChange], rejection: PathChange, signatures: Mapping[str, Signature]
) -> str:
    newest = next(c for c in history if c.path == rejection.path)
    signature = signatures.get(newest.origin.commit)
    how = "deleted" if newest.origin.deleted else "overwritten"
    if signature is None or signature.status == "N":
        who = "an unsigned commit"
    else:
        who = f"a commit signed by {signature.signer or signature.key or 'an unknown key'}"
    return (
        f"still vetoes: {how} by {who} ({newest.origin.commit[:12]}) that is not a later signed "
        f"decision of its approver; only they can withdraw it (`sre approve --withdraw`)"
    )


def count_once(checks: Sequence[RecordCheck]) -> tuple[RecordCheck, ...]:
    """One counting record per principal and change; the others become ``duplicate``."""
    groups: dict[tuple[str, str, str], list[int]] = {}
    for index, check in enumerate(checks):
        if check.counts:
            key = (check.stack, check.digest, canonical_principal(check.approver))
            groups.setdefault(key, []).append(index)
    result = list(checks)
    for indices in groups.values():
        winner = checks[max(indices, key=lambda i: _precedence(checks[i]))]
        for index in indices:
            if checks[index] is not winner:
                result[index] = dataclasses.replace(
                    checks[index],
                    code=DUPLICATE,
                    message=(
                        f"{winner.approver} already counts for this change through "
                        f"{winner.path}; one principal counts once"
                    ),
                )
    return tuple(result)


def _precedence(check: RecordCheck) -> tuple[bool, datetime, str]:
    """A rejection before an approval, then the newest, then by path (deterministic)."""
    created = check.record.created_at if check.record else _OLDEST
    return (check.decision == "reject", created, check.path)
