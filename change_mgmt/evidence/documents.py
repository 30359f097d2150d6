"""The three documents one gate run archives, each redacted before it leaves the process.

* ``preview.json``: the ChangeSet the gate judged (already redacted while the preview
  was parsed), as JSON; not the raw preview, which may carry secrets Pulumi did not mark.
* ``plan.json``: the saved plan, when the run has one (``sre up`` and the gate's own
  preview save one). Pulumi writes a plan's secret values as ciphertext of the stack's
  secrets provider and its secret config as ``{"secure": ...}``; ciphertext is only as
  safe as that provider's key (a passphrase can leak), and values nobody marked secret
  are in plaintext. So the archive keeps the plan redacted like a preview (ciphertext,
  secure config, credential keys and shapes become ``[secret]``) and the sha256 of the
  exact file, which the gate receipt of ``sre up`` also names: a kept plan can be
  checked against it, and nothing in the archive can be decrypted.
* ``gate-report.json``: the ``sre gate --format json`` document of the run.

Every document passes through :func:`change_mgmt.preview.redact.redact` once more on
its way out: for the preview and report a no-op on what parsing redacted, and a guard
for free text (emergency reasons, approval reasons) that reaches them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from change_mgmt.errors import SreError
from change_mgmt.preview import ChangeSet
from change_mgmt.preview.redact import REDACTED, NestedTooDeeply, redact

if TYPE_CHECKING:
    from change_mgmt.gate.run import GateOutcome

PREVIEW = "preview.json"
PLAN = "plan.json"
GATE_REPORT = "gate-report.json"
PREVIEW_SCHEMA = "sre-platform/evidence-preview/v1"
PLAN_SCHEMA = "sre-platform/evidence-plan/v1"
# A Pulumi config value set with --secret, as plans and stack files write it.
SECURE_KEY = "secure"


class EvidenceDocumentError(SreError):
    """A document of the run cannot be made into evidence (an unreadable plan)."""


@dataclass(frozen=True)
class EvidenceDocument:
    """One archived file: its name in the run's folder and its bytes."""

    name: str
    body: bytes
    metadata: dict[str, str] = dataclasses.field(default_factory=dict)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.body).hexdigest()


def _json(value: Any) -> bytes:
    return (json.dumps(redact(value), indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def preview_document(changeset: ChangeSet) -> EvidenceDocument:
    """The redacted change set, every field of it."""
    return EvidenceDocument(
        PREVIEW, _json({"schema": PREVIEW_SCHEMA, **dataclasses.asdict(changeset)})
    )


def _without_secure_config(value: Any) -> Any:
    """``value`` with every ``{"secure": ciphertext}`` object replaced by ``[secret]``:
    the redactor knows Pulumi's secret signature, not the config file encoding."""
    if isinstance(value, dict):
        if set(value) == {SECURE_KEY} and isinstance(value[SECURE_KEY], str):
            return REDACTED
        return {key: _without_secure_config(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_without_secure_config(item) for item in value]
    return value


def plan_document(path: Path) -> EvidenceDocument:
    """The saved plan at ``path``, redacted, with the sha256 of the file as it is."""
    try:
        raw = path.read_bytes()
        plan = json.loads(raw)
        body = _json(
            {
                "schema": PLAN_SCHEMA,
                "source_sha256": hashlib.sha256(raw).hexdigest(),
                "plan": _without_secure_config(plan),
            }
        )
    except (OSError, ValueError, RecursionError, NestedTooDeeply) as exc:
        raise EvidenceDocumentError(f"the saved plan {path} cannot be archived: {exc}") from None
    return EvidenceDocument(PLAN, body, {"source-sha256": hashlib.sha256(raw).hexdigest()})


def gate_run_documents(outcome: GateOutcome) -> list[EvidenceDocument]:
    """What one gate run archives: the preview, the plan (when saved), the report."""
    from change_mgmt.gate.report import gate_document

    documents = [preview_document(outcome.changeset)]
    if outcome.plan is not None:
        documents.append(plan_document(outcome.plan))
    documents.append(EvidenceDocument(GATE_REPORT, _json(gate_document(outcome))))
    return documents
