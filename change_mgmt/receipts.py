"""Gate receipts: short-lived, signed proof that the gate opened for one plan of one stack.

What a receipt is for. A production stack's program refuses to run a real update
without one, so a plain ``pulumi up`` (also ``--skip-preview``, ``--target``) on
production stops and points to ``sre up``; previews need none. It is a guard against
mistakes, not a security boundary: the program never runs for ``pulumi destroy``,
``refresh``, ``import`` or ``pulumi state …``, and whoever can edit the stack config or
``risk-policy.yaml`` locally can switch the check off. The control is credentials: only
CI's ``sre up`` can assume the deployer role that may change production (a later
issue).

What a receipt binds. Its full stack name (``org/project/stack``, as the engine gives it
to the program), the change digest, the sha256 of the saved plan file ``sre up``
applies (``$SRE_GATE_PLAN``), the change record, and a lifetime of ``RECEIPT_TTL`` (30
minutes). So a receipt issued for one stack or one plan cannot be replayed for another,
and an edited plan file is refused. The engine does not tell the program which plan it
runs (``pulumi up --plan``): the program checks the plan file ``$SRE_GATE_PLAN`` names,
and ``sre up`` applies exactly that file.

Key handling. Receipts are signed with the *gate key*, an Ed25519 SSH key used for
nothing else, through ``ssh-keygen -Y sign`` in the namespace ``sre-gate-receipt``:

* its private half is held only where production is deployed from: the CI runner (a
  secret file whose path is in ``$SRE_GATE_KEY``) and, for break-glass from a laptop, the
  on-call engineer's vault entry; it is never committed and never printed;
* its public half is listed per production stack in the stack config
  ``sre-platform:gateReceiptSigners`` as allowed-signers lines
  (``sre-gate ssh-ed25519 AAAA…``), so rotating it is a reviewed config change.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from change_mgmt.errors import SreError

NAMESPACE = "sre-gate-receipt"
RECEIPT_ENV = "SRE_GATE_RECEIPT"
PLAN_ENV = "SRE_GATE_PLAN"
KEY_ENV = "SRE_GATE_KEY"
ISSUER_ENV = "SRE_GATE_ISSUER"
DEFAULT_ISSUER = "sre-gate"
RECEIPT_TTL = timedelta(minutes=30)
_CLOCK_SKEW = timedelta(minutes=2)
_SSH_KEYGEN_TIMEOUT = 20


class ReceiptError(SreError):
    """No receipt could be made, or a receipt is not valid for this update."""


def full_stack_name(org: str, project: str, stack: str) -> str:
    """``org/project/stack``, the one form a receipt names its stack in."""
    parts = (org, project, stack)
    if not all(parts) or any("/" in part for part in parts):
        raise ReceiptError(f"not a stack name of the form org/project/stack: {'/'.join(parts)!r}")
    return "/".join(parts)


def plan_digest(plan: Path) -> str:
    """The sha256 of a saved plan file: what a receipt binds the plan by."""
    try:
        return hashlib.sha256(plan.read_bytes()).hexdigest()
    except OSError as exc:
        raise ReceiptError(f"cannot read the plan file {plan}: {exc.strerror}") from None


@dataclass(frozen=True)
class Receipt:
    stack: str
    """The full stack name, ``org/project/stack``."""
    digest: str
    plan_digest: str
    change_id: int
    issuer: str
    issued_at: datetime
    expires_at: datetime

    def payload(self) -> bytes:
        """The exact bytes that are signed: canonical JSON."""
        fields = asdict(self)
        fields["issued_at"] = self.issued_at.astimezone(UTC).isoformat()
        fields["expires_at"] = self.expires_at.astimezone(UTC).isoformat()
        return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def from_payload(cls, payload: bytes) -> Receipt:
        try:
            fields = json.loads(payload)
            return cls(
                stack=str(fields["stack"]),
                digest=str(fields["digest"]),
                plan_digest=str(fields["plan_digest"]),
                change_id=int(fields["change_id"]),
                issuer=str(fields["issuer"]),
                issued_at=datetime.fromisoformat(fields["issued_at"]),
                expires_at=datetime.fromisoformat(fields["expires_at"]),
            )
        except (ValueError, TypeError, KeyError) as exc:
            raise ReceiptError(f"the gate receipt is malformed ({exc})") from None


def _ssh_keygen(args: list[str], data: bytes) -> subprocess.CompletedProcess[bytes]:
    program = shutil.which("ssh-keygen")
    if program is None:
        raise ReceiptError("ssh-keygen (OpenSSH) is needed for gate receipts")
    try:
        return subprocess.run(  # noqa: S603 - fixed program, arguments are ours
            [program, *args],
            input=data,
            capture_output=True,
            check=False,
            timeout=_SSH_KEYGEN_TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        raise ReceiptError(
            "ssh-keygen did not answer (is the gate key passphrase-protected?)"
        ) from None


def issue_receipt(
    *,
    stack: str,
    digest: str,
    plan: Path,
    change_id: int,
    key: Path,
    issuer: str,
    now: datetime,
) -> str:
    """A signed receipt for one gated plan of one stack (``org/project/stack``), as one
    printable token."""
    if not key.is_file():
        raise ReceiptError(f"the gate key {key} does not exist (${KEY_ENV})")
    receipt = Receipt(
        full_stack_name(*_parts(stack)),
        digest,
        plan_digest(plan),
        change_id,
        issuer,
        now,
        now + RECEIPT_TTL,
    )
    payload = receipt.payload()
    signed = _ssh_keygen(["-Y", "sign", "-f", str(key), "-n", NAMESPACE, "-q"], payload)
    if signed.returncode != 0:
        first_line = signed.stderr.decode(errors="replace").strip().splitlines()[:1]
        raise ReceiptError(f"could not sign the gate receipt with {key}: {' '.join(first_line)}")
    token = {"payload": payload.decode(), "signature": signed.stdout.decode()}
    return base64.urlsafe_b64encode(json.dumps(token).encode()).decode()


def verify_receipt(
    token: str, *, stack: str, plan: Path, signers: Sequence[str], now: datetime
) -> Receipt:
    """The receipt in ``token`` if it is signed by an allowed signer, for exactly ``stack``
    (``org/project/stack``) and the plan file ``plan``, and not expired; otherwise
    :class:`ReceiptError` saying which of these failed."""
    try:
        envelope = json.loads(base64.urlsafe_b64decode(token.strip().encode()))
        payload = str(envelope["payload"]).encode()
        signature = str(envelope["signature"])
    except (ValueError, TypeError, KeyError, binascii.Error):
        raise ReceiptError("the gate receipt is not a receipt token") from None
    receipt = Receipt.from_payload(payload)
    lines = [line.strip() for line in signers if line.strip()]
    if not lines:
        raise ReceiptError(
            "no gate receipt signers are configured for this stack "
            "(stack config sre-platform:gateReceiptSigners)"
        )
    with tempfile.TemporaryDirectory(prefix="sre-receipt-") as tmp:
        allowed = Path(tmp) / "allowed_signers"
        allowed.write_text(
            "\n".join(f'{_principal(line)} namespaces="{NAMESPACE}" {_key(line)}' for line in lines)
            + "\n"
        )
        sig = Path(tmp) / "receipt.sig"
        sig.write_text(signature)
        checked = _ssh_keygen(
            [
                "-Y",
                "verify",
                "-f",
                str(allowed),
                "-I",
                receipt.issuer,
                "-n",
                NAMESPACE,
                "-s",
                str(sig),
            ],
            payload,
        )
    if checked.returncode != 0:
        raise ReceiptError("the gate receipt's signature is not valid for an allowed gate key")
    if receipt.stack != stack:
        raise ReceiptError(f"the gate receipt is for stack {receipt.stack!r}, not {stack!r}")
    if receipt.plan_digest != plan_digest(plan):
        raise ReceiptError(
            f"the gate receipt is for another plan than {plan} (sha256 {receipt.plan_digest})"
        )
    if now >= receipt.expires_at:
        raise ReceiptError(f"the gate receipt expired at {receipt.expires_at.isoformat()}")
    if receipt.issued_at > now + _CLOCK_SKEW:
        raise ReceiptError("the gate receipt was issued in the future; check the clocks")
    return receipt


def _parts(stack: str) -> tuple[str, str, str]:
    parts = stack.split("/")
    if len(parts) != 3:
        raise ReceiptError(f"a receipt names its stack as org/project/stack, not {stack!r}")
    return parts[0], parts[1], parts[2]


def _principal(line: str) -> str:
    return line.split(None, 1)[0]


def _key(line: str) -> str:
    """The key part of an allowed-signers line, without any options it already had."""
    parts = line.split()
    for index, part in enumerate(parts):
        if part.startswith(("ssh-", "ecdsa-", "sk-")):
            return " ".join(parts[index:])
    raise ReceiptError(f"not an allowed-signers line (principal and key): {parts[0]} …")
