"""Who may approve: ``approvers.yaml`` at the repository root, and git's allowed-signers file.

::

    version: 1
    approvers:
      - principal: alice@example.com
        key: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA… alice@laptop
        groups: [sre, platform]
      - principal: bob@example.com
        key: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA… bob
        groups: [platform]

Each entry is one principal (an email address, the approver identity of a record) with
one SSH public key (the ``.pub`` line; the comment is ignored) and the groups the
principal approves for. A principal (in its canonical form,
:func:`change_mgmt.principals.canonical_principal`: ``Alice@Example.com`` is
``alice@example.com``) and a key may each appear once. From it
:meth:`ApproversFile.allowed_signers` makes the lines git reads through
``gpg.ssh.allowedSignersFile``: ``<principal> namespaces="git" <key type> <key>``.

Verification reads this file as it is on the protected base branch
(:func:`approvers_at`), never from the change under review: a pull request that adds
its author's key does not make that key count until it is merged.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import struct
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

import git
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from change_mgmt.approvals.errors import ApproversFileError, RepositoryError
from change_mgmt.approvals.records import Email
from change_mgmt.documents import DOCUMENT_FIELD, Problem, load_yaml_mapping, validation_problems
from change_mgmt.principals import canonical_principal, same_principal

APPROVERS_FILE = "approvers.yaml"
MAX_APPROVERS_BYTES = 256 * 1024
KEY_TYPES = frozenset(
    {
        "ssh-ed25519",
        "sk-ssh-ed25519@openssh.com",
        "ecdsa-sha2-nistp256",
        "ecdsa-sha2-nistp384",
        "ecdsa-sha2-nistp521",
        "sk-ecdsa-sha2-nistp256@openssh.com",
        "ssh-rsa",
    }
)
GROUP_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


@dataclass(frozen=True)
class PublicKey:
    """An SSH public key: its type and base64 body (the comment is not kept)."""

    type: str
    body: str

    @property
    def fingerprint(self) -> str:
        """``SHA256:…`` as ``ssh-keygen -l`` and git's ``%GK`` print it."""
        digest = hashlib.sha256(base64.b64decode(self.body)).digest()
        return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")

    def __str__(self) -> str:
        return f"{self.type} {self.body}"


def parse_public_key(text: str) -> PublicKey:
    """``"<type> <base64> [comment]"`` → PublicKey; ``ValueError`` says what is wrong."""
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise ValueError("must be one line of printable text (the contents of a .pub file)")
    parts = text.split()
    if len(parts) < 2:
        raise ValueError(
            "expected '<type> <base64 key> [comment]', the contents of a .pub file such as "
            "~/.ssh/id_ed25519.pub"
        )
    kind, body = parts[0], parts[1]
    if kind not in KEY_TYPES:
        raise ValueError(
            f"key type {kind!r} is not allowed; use one of {', '.join(sorted(KEY_TYPES))}"
        )
    try:
        raw = base64.b64decode(body, validate=True)
        (length,) = struct.unpack(">I", raw[:4])
        embedded = raw[4 : 4 + length].decode("ascii")
    except (binascii.Error, struct.error, UnicodeDecodeError):
        raise ValueError("the key body is not valid base64 of an SSH public key") from None
    if embedded != kind or len(raw) <= 4 + length:
        raise ValueError(f"the key body is not a {kind} key (it says {embedded!r})")
    return PublicKey(kind, body)


def _key(value: str) -> str:
    parse_public_key(value)
    return value


def _group(value: str) -> str:
    if not GROUP_PATTERN.fullmatch(value):
        raise ValueError(f"{value!r} is not a group name (lowercase letters, digits, '_', '-')")
    return value


class Approver(BaseModel):
    """One principal allowed to sign approvals, with one key and its groups."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    principal: Email
    key: Annotated[str, AfterValidator(_key)]
    groups: tuple[Annotated[str, AfterValidator(_group)], ...] = ()

    @cached_property
    def public_key(self) -> PublicKey:
        return parse_public_key(self.key)


class ApproversFile(BaseModel):
    """The whole ``approvers.yaml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1] = 1
    approvers: tuple[Approver, ...] = Field(default=())

    @field_validator("approvers")
    @classmethod
    def _unique(cls, value: tuple[Approver, ...]) -> tuple[Approver, ...]:
        principals: dict[str, int] = {}
        keys: dict[PublicKey, int] = {}
        errors: list[InitErrorDetails] = []
        for index, entry in enumerate(value):
            name = canonical_principal(entry.principal)
            if name in principals:
                errors.append(
                    InitErrorDetails(
                        type=PydanticCustomError(
                            "duplicate_principal",
                            f"{entry.principal} is already approvers[{principals[name]}]; "
                            "list each principal once",
                        ),
                        loc=(index, "principal"),
                        input=entry.principal,
                    )
                )
            else:
                principals[name] = index
            key = entry.public_key
            if key in keys:
                errors.append(
                    InitErrorDetails(
                        type=PydanticCustomError(
                            "duplicate_key",
                            f"this key is already the key of approvers[{keys[key]}]; "
                            "a key may sign for one principal only",
                        ),
                        loc=(index, "key"),
                        input=entry.key,
                    )
                )
            else:
                keys[key] = index
        if errors:
            raise ValidationError.from_exception_data("approvers", errors)
        return value

    def by_principal(self, principal: str) -> Approver | None:
        return next((a for a in self.approvers if same_principal(a.principal, principal)), None)

    def by_key(self, key: PublicKey) -> Approver | None:
        return next((a for a in self.approvers if a.public_key == key), None)

    def by_fingerprint(self, fingerprint: str) -> Approver | None:
        return self._fingerprints.get(fingerprint)

    @cached_property
    def _fingerprints(self) -> dict[str, Approver]:
        return {a.public_key.fingerprint: a for a in self.approvers}

    def allowed_signers(self) -> str:
        """git's allowed-signers format: one ``<principal> namespaces="git" <key>`` line each."""
        return "".join(f'{a.principal} namespaces="git" {a.public_key}\n' for a in self.approvers)


def load_approvers(path: Path, *, display_path: str | None = None) -> ApproversFile:
    """Read and validate ``approvers.yaml``; ``ApproversFileError`` lists every problem."""
    document = load_yaml_mapping(path, display_path=display_path, max_bytes=MAX_APPROVERS_BYTES)
    try:
        return ApproversFile.model_validate(document.data)
    except ValidationError as exc:
        raise ApproversFileError(validation_problems(exc, document, ApproversFile)) from None


def parse_approvers(text: bytes, *, display_path: str) -> ApproversFile:
    """Validate the bytes of an ``approvers.yaml`` (e.g. read from a commit)."""
    with tempfile.TemporaryDirectory(prefix="sre-approvers-") as tmp:
        path = Path(tmp) / APPROVERS_FILE
        path.write_bytes(text)
        return load_approvers(path, display_path=display_path)


def approvers_at(
    repo: git.Repo, commit: str, *, display: str | None = None
) -> ApproversFile | None:
    """``approvers.yaml`` as it is at ``commit`` (a resolved commit id, or ``HEAD``; None
    when that commit has none). ``display`` names it in messages (e.g. the base branch)."""
    shown = display or commit
    try:
        resolved = repo.commit(commit)
    except (git.BadName, git.BadObject, ValueError):
        raise RepositoryError(f"{shown}: no such commit in this clone") from None
    try:
        blob = resolved.tree / APPROVERS_FILE
    except KeyError:
        return None
    if blob.type != "blob":
        where = f"{shown}:{APPROVERS_FILE}"
        raise ApproversFileError([Problem(where, 1, 1, DOCUMENT_FIELD, "is not a file")])
    return parse_approvers(blob.data_stream.read(), display_path=f"{shown}:{APPROVERS_FILE}")


@contextmanager
def allowed_signers_file(approvers: ApproversFile | None) -> Iterator[Path]:
    """A temporary allowed-signers file for ``-c gpg.ssh.allowedSignersFile=…``."""
    with tempfile.TemporaryDirectory(prefix="sre-signers-") as tmp:
        path = Path(tmp) / "allowed_signers"
        path.write_text(approvers.allowed_signers() if approvers else "", encoding="utf-8")
        yield path
