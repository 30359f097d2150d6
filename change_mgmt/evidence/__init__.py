"""The evidence archive: every recorded gate run's redacted preview, plan and gate report
in S3, under keys that are never overwritten, named on the change record."""

from change_mgmt.evidence.archive import (
    ArchivedDocument,
    EvidenceArchive,
    EvidenceError,
    FetchedDocument,
)
from change_mgmt.evidence.documents import (
    GATE_REPORT,
    PLAN,
    PREVIEW,
    EvidenceDocument,
    gate_run_documents,
)
from change_mgmt.evidence.location import (
    EVIDENCE_URL_ENV,
    EvidenceConfigError,
    EvidenceLocation,
    configured_location,
)

__all__ = [
    "EVIDENCE_URL_ENV",
    "GATE_REPORT",
    "PLAN",
    "PREVIEW",
    "ArchivedDocument",
    "EvidenceArchive",
    "EvidenceConfigError",
    "EvidenceDocument",
    "EvidenceError",
    "EvidenceLocation",
    "FetchedDocument",
    "configured_location",
    "gate_run_documents",
]
