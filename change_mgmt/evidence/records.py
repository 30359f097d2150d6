"""The evidence a change record names, checked against S3 and read back
(``sre changes show ID --evidence [--fetch DIR]``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from change_mgmt.evidence.archive import (
    ArchivedDocument,
    EvidenceArchive,
    EvidenceError,
    FetchedDocument,
)
from change_mgmt.evidence.location import EvidenceLocation, configured_location, parse_uri


@dataclass(frozen=True)
class EvidenceCheck:
    documents: tuple[ArchivedDocument, ...]
    fetched: tuple[FetchedDocument, ...] = ()

    @property
    def missing(self) -> tuple[str, ...]:
        return tuple(d.uri for d in self.documents if not d.exists)

    def as_dict(self) -> list[dict[str, object]]:
        fetched = {f.uri: str(f.path) for f in self.fetched}
        return [
            {
                "uri": d.uri,
                "exists": d.exists,
                "size": d.size,
                "last_modified": d.last_modified.isoformat() if d.last_modified else None,
                "version_id": d.version_id,
                "encryption": d.encryption,
                "fetched_to": fetched.get(d.uri),
            }
            for d in self.documents
        ]


def reader(uris: Sequence[str], repo_root: Path | None = None) -> EvidenceArchive:
    """An archive client for reading ``uris``: in the region the configured archive
    names, else the SDK's default region."""
    location = configured_location(repo_root)
    if location is None:
        bucket, _ = parse_uri(uris[0])
        location = EvidenceLocation(bucket)
    return EvidenceArchive(location)


def check_evidence(
    uris: Sequence[str],
    fetch_to: Path | None = None,
    *,
    repo_root: Path | None = None,
    archive: EvidenceArchive | None = None,
) -> EvidenceCheck:
    """Whether each of ``uris`` is in S3, and with ``fetch_to`` their download: only when
    every one of them is there (else :class:`EvidenceError`, nothing written)."""
    if not uris:
        return EvidenceCheck(())
    archive = archive or reader(uris, repo_root)
    documents = tuple(archive.describe(uri) for uri in uris)
    check = EvidenceCheck(documents)
    if fetch_to is None:
        return check
    if check.missing:
        raise EvidenceError(
            f"{len(check.missing)} document(s) the record names are not in the archive, "
            f"nothing fetched: {', '.join(check.missing)}"
        )
    return EvidenceCheck(documents, tuple(archive.fetch(uris, fetch_to)))
