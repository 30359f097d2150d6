"""The approval record: one approver's signed decision on one preview of one stack.

A record is a small YAML document (``ApprovalRecord``, ``extra="forbid"``)::

    version: 1
    stack: prod-observability
    digest: 3f5a…(64 hex)
    decision: approve                 # or reject
    approver: alice@example.com
    reason: Checked the replacement plan with the DB owners.
    created_at: '2026-11-27T10:00:00Z'
    expires_at: '2026-11-28T10:00:00Z'  # optional: created_at + 24 h
    ticket: CHG-42                      # optional

It lives at ``approvals/<stack with / replaced by _>/<digest>/<approver>.yaml`` (see
:func:`record_path`) and is only proof when the commit that wrote it carries a good SSH
signature of the approver (see :mod:`change_mgmt.approvals.verify`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from change_mgmt.approvals.errors import ApprovalInputError
from change_mgmt.documents import DocumentError, load_yaml_mapping, validation_problems

APPROVALS_DIR = "approvals"
RECORD_SUFFIX = ".yaml"
DEFAULT_VALIDITY = timedelta(hours=24)
MAX_RECORD_BYTES = 16 * 1024
MAX_REASON_CHARS = 4000

Decision = Literal["approve", "reject"]

STACK_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(?:/[A-Za-z0-9][A-Za-z0-9._-]*){0,2}$")
DIGEST_PATTERN = re.compile(r"^[0-9a-f]{64}$")
# Deliberately narrower than RFC 5322: it is a file name and an allowed-signers principal,
# so no '/', whitespace, quotes, commas or the pattern characters '*', '?', '!'.
EMAIL_PATTERN = re.compile(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+$")
TICKET_PATTERN = re.compile(r"^[A-Z][A-Z0-9_]*-[0-9]+$")
# Control characters, surrogates and the Unicode line/paragraph separators: YAML cannot
# carry them through unchanged.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})


def _stack(value: str) -> str:
    if not STACK_PATTERN.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a stack name; expected NAME or ORG/PROJECT/NAME made of letters, "
            "digits, '.', '_' and '-'"
        )
    return value


def _digest(value: str) -> str:
    if not DIGEST_PATTERN.fullmatch(value):
        raise ValueError(
            "a change digest is 64 lowercase hex characters (sha256), as printed by `sre gate`"
        )
    return value


def _email(value: str) -> str:
    if not EMAIL_PATTERN.fullmatch(value):
        raise ValueError(f"{value!r} is not an email address like alice@example.com")
    return value


def _reason(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty: say what you checked")
    if any(ch not in "\n\t" and unicodedata.category(ch) in _REFUSED_CATEGORIES for ch in value):
        raise ValueError("must be plain text: no control characters (line breaks are fine)")
    if len(value) > MAX_REASON_CHARS:
        raise ValueError(f"is {len(value)} characters long; at most {MAX_REASON_CHARS}")
    return value


def _ticket(value: str) -> str:
    if not TICKET_PATTERN.fullmatch(value):
        raise ValueError(f"{value!r} is not a ticket key like CHG-42")
    return value


StackName = Annotated[str, AfterValidator(_stack)]
Digest = Annotated[str, AfterValidator(_digest)]
Email = Annotated[str, AfterValidator(_email)]
Reason = Annotated[str, AfterValidator(_reason)]
TicketKey = Annotated[str, AfterValidator(_ticket)]


class ApprovalRecord(BaseModel):
    """One decision of one approver on one change (stack + preview digest)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1] = 1
    stack: StackName
    digest: Digest
    decision: Decision
    approver: Email
    reason: Reason
    created_at: AwareDatetime
    expires_at: AwareDatetime | None = None
    """None in the document means ``created_at + 24 h``; read :attr:`expires`."""
    ticket: TicketKey | None = None

    @field_validator("expires_at")
    @classmethod
    def _after_creation(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        created = info.data.get("created_at")
        if value is not None and isinstance(created, datetime) and value <= created:
            raise ValueError("must be after created_at")
        return value

    @property
    def expires(self) -> datetime:
        return self.expires_at or self.created_at + DEFAULT_VALIDITY

    @property
    def path(self) -> str:
        """Where this record belongs in the repository."""
        return record_path(self.stack, self.digest, self.approver)

    @classmethod
    def new(
        cls,
        *,
        stack: str,
        digest: str,
        approver: str,
        decision: Decision,
        reason: str,
        now: datetime,
        valid_for: timedelta = DEFAULT_VALIDITY,
        ticket: str | None = None,
    ) -> ApprovalRecord:
        """A record created ``now`` (to the second) and valid for ``valid_for``."""
        if valid_for <= timedelta(0):
            raise ApprovalInputError("an approval must be valid for a positive time")
        created = now.astimezone(UTC).replace(microsecond=0)
        try:
            return cls(
                stack=stack,
                digest=digest,
                decision=decision,
                approver=approver,
                reason=reason,
                created_at=created,
                expires_at=created + valid_for,
                ticket=ticket,
            )
        except ValidationError as exc:
            raise ApprovalInputError(_first_problem(exc)) from None


def _first_problem(exc: ValidationError) -> str:
    parts = []
    for item in exc.errors(include_url=False):
        where = ".".join(str(p) for p in item["loc"])
        parts.append(f"{where}: {item['msg'].removeprefix('Value error, ')}")
    return "; ".join(parts)


def validate_stack(stack: str) -> str:
    try:
        return _stack(stack)
    except ValueError as exc:
        raise ApprovalInputError(f"stack: {exc}") from None


def validate_digest(digest: str) -> str:
    """The digest in canonical (lowercase) form; refuses anything but 64 hex characters."""
    try:
        return _digest(digest.strip().lower())
    except ValueError as exc:
        raise ApprovalInputError(f"digest {digest!r}: {exc}") from None


MIN_DIGEST_PREFIX = 12
_HEX = re.compile(r"^[0-9a-f]+$")


def expand_digest(text: str, known: Iterable[str]) -> str:
    """A full digest, or a unique prefix of at least 12 hex digits of one of ``known``
    (the changes of the stack this checkout knows of), expanded to it."""
    value = text.strip().lower()
    if len(value) == 64:
        return validate_digest(value)
    if not _HEX.fullmatch(value) or not MIN_DIGEST_PREFIX <= len(value) < 64:
        raise ApprovalInputError(
            f"digest {text!r}: give the 64 lowercase hex characters `sre gate` prints, or a "
            f"unique prefix of at least {MIN_DIGEST_PREFIX} of them"
        )
    matches = sorted({d for d in known if d.startswith(value)})
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise ApprovalInputError(
            f"digest {text!r}: no change known here starts with it (neither in approvals/ nor "
            "in the local ledger); give the full 64-hex digest `sre gate` prints"
        )
    shown = ", ".join(m[:16] + "…" for m in matches[:5])
    raise ApprovalInputError(
        f"digest {text!r} is ambiguous: {len(matches)} changes start with it ({shown}); "
        "give more digits"
    )


def stack_dir(stack: str) -> str:
    """The directory name of a stack: ``org/project/prod`` → ``org_project_prod``."""
    return stack.replace("/", "_")


def change_dir(stack: str, digest: str) -> str:
    """``approvals/<stack dir>/<digest>``: the records of one change."""
    return f"{APPROVALS_DIR}/{stack_dir(stack)}/{digest}"


def record_path(stack: str, digest: str, approver: str) -> str:
    """``approvals/<stack dir>/<digest>/<approver>.yaml`` (repository-relative, POSIX)."""
    return f"{change_dir(stack, digest)}/{approver}{RECORD_SUFFIX}"


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def render_record(record: ApprovalRecord) -> str:
    """The YAML text of a record, as ``sre approve`` commits it."""
    data: dict[str, object] = {
        "version": record.version,
        "stack": record.stack,
        "digest": record.digest,
        "decision": record.decision,
        "approver": record.approver,
        "reason": record.reason,
        "created_at": _timestamp(record.created_at),
        "expires_at": _timestamp(record.expires),
    }
    if record.ticket is not None:
        data["ticket"] = record.ticket
    header = (
        "# Approval record written by `sre approve`. The signed commit that wrote this file\n"
        "# is the proof: editing it by hand voids it.\n"
    )
    return header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


def load_record(path: Path, *, display_path: str | None = None) -> ApprovalRecord:
    """Read one record file; ``DocumentError`` names file, line and field of every problem."""
    document = load_yaml_mapping(path, display_path=display_path, max_bytes=MAX_RECORD_BYTES)
    try:
        return ApprovalRecord.model_validate(document.data)
    except ValidationError as exc:
        raise DocumentError(validation_problems(exc, document, ApprovalRecord)) from None
