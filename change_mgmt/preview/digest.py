"""The identity of a change: sha256 over a canonical form of stack + steps.

Approvals and tickets bind to this digest, so it must change whenever what would be
applied changes, and must not change for anything else: durations, timestamps, event
sequence numbers, step order, ``same`` steps (present or not depending on
``--show-sames``), or which machine format the preview came in. New inputs enter as a
hash of their redacted canonical JSON, so the digest never carries a secret.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

from change_mgmt.preview.model import ResourceChange

DIGEST_VERSION = 1


# One encoder for every call: json.dumps with options builds a new one each time.
_CANONICAL = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=True
)


def canonical_json(value: Any) -> bytes:
    # surrogatepass: a lone "\\ud800" escape in a preview must not crash the digest.
    return _CANONICAL.encode(value).encode("utf-8", "surrogatepass")


def _step_form(change: ResourceChange) -> dict[str, Any]:
    inputs = change.new_inputs
    return {
        "urn": change.urn,
        "op": change.op,
        "changed": sorted(change.changed_paths),
        "replaceReasons": sorted(change.replace_reasons),
        "newInputs": None if inputs is None else hashlib.sha256(canonical_json(inputs)).hexdigest(),
    }


def change_digest(stack: str, changes: Iterable[ResourceChange]) -> str:
    """The 64-hex sha256 that identifies this change of ``stack``."""
    steps = sorted(
        (_step_form(change) for change in changes if change.is_change),
        key=lambda step: (step["urn"], step["op"]),
    )
    document = {"version": DIGEST_VERSION, "stack": stack, "steps": steps}
    return hashlib.sha256(canonical_json(document)).hexdigest()
