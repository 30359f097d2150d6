"""The strict, line-aware YAML document loader, re-exported from ``policies.documents``.

It lives in the policy pack because ``pulumi policy publish`` ships only ``policies/`` and
the pack reads its own settings and waivers with it; ``change_mgmt`` keeps importing it
from here so the one loader has one home and its users need not know where that is.
"""

from __future__ import annotations

from policies.documents import (
    DOCUMENT_FIELD,
    EXAMPLE_TIMESTAMP,
    TEXT_ERRORS,
    TEXT_EXPECTED,
    DocumentError,
    LoadedDocument,
    Location,
    Problem,
    field_name,
    load_yaml_mapping,
    shorten,
    validation_problems,
)

__all__ = [
    "DOCUMENT_FIELD",
    "EXAMPLE_TIMESTAMP",
    "TEXT_ERRORS",
    "TEXT_EXPECTED",
    "DocumentError",
    "LoadedDocument",
    "Location",
    "Problem",
    "field_name",
    "load_yaml_mapping",
    "shorten",
    "validation_problems",
]
