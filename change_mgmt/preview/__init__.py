"""Preview ingestion: both Pulumi preview formats → one redacted ChangeSet with a digest.

This package is the floor of ``change_mgmt``: it imports nothing else of ours but the
error root, and every other part reads its :class:`ChangeSet`.
"""

from change_mgmt.preview.load import load_preview
from change_mgmt.preview.model import (
    KNOWN_OPS,
    ChangeSet,
    Diagnostic,
    PolicyViolation,
    ResourceChange,
)
from change_mgmt.preview.parse import (
    PreviewError,
    parse_event_stream,
    parse_events,
    parse_preview_json,
)

__all__ = [
    "KNOWN_OPS",
    "ChangeSet",
    "Diagnostic",
    "PolicyViolation",
    "PreviewError",
    "ResourceChange",
    "load_preview",
    "parse_event_stream",
    "parse_events",
    "parse_preview_json",
]
