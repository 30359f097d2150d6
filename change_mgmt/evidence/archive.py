"""S3 as the evidence archive: write once, list, read back.

Keys are ``[<prefix>/]<stack>/<digest>/<run>/<document>``; ``<run>`` is the time of the
gate run and 48 random bits (``20261127T100000Z-3f9c0a1b2c4d``), so every run gets its
own folder and a second run of the same change never touches the first one's. Every
put is conditional (``If-None-Match: *``, S3 conditional writes): S3 refuses it with
412 when the key exists, so even two runners that drew the same run id could not
overwrite each other; a run whose first document meets an existing key draws a new id.
The bucket (components/change_storage) is versioned and refuses unconditional puts, so
an overwrite by any other client would still keep the original as a version.

boto3 is imported when an archive is first used: ``sre --help`` stays fast. The SDK's
standard settings apply: credentials from the environment or profile, and
``AWS_ENDPOINT_URL`` (how tests point it at a local moto server).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from change_mgmt.errors import SreError
from change_mgmt.evidence.documents import EvidenceDocument
from change_mgmt.evidence.location import EvidenceLocation, parse_uri, safe_segment
from change_mgmt.preview.redact import scrub_text

RUN_ATTEMPTS = 3
CONTENT_TYPE = "application/json"
_TIMEOUTS: dict[str, Any] = {
    "connect_timeout": 5,
    "read_timeout": 30,
    "retries": {"max_attempts": 4, "mode": "standard"},
}


class EvidenceError(SreError):
    """The archive could not be written or read (no bucket, access denied, S3 down)."""


@dataclass(frozen=True)
class ArchivedDocument:
    """One document as S3 has it (``exists`` False: the record names a missing key)."""

    uri: str
    exists: bool
    size: int | None = None
    last_modified: datetime | None = None
    version_id: str | None = None
    encryption: str | None = None


@dataclass(frozen=True)
class FetchedDocument:
    uri: str
    path: Path
    size: int


def run_id(now: datetime) -> str:
    """A new, unique, time-ordered name for one gate run's folder."""
    return f"{now.astimezone(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(6)}"


def _error_text(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        error = response.get("Error", {})
        code = error.get("Code") or response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return scrub_text(f"{code}: {error.get('Message') or exc}")
    return scrub_text(f"{type(exc).__name__}: {exc}")


def _status(exc: Exception) -> int | None:
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return None
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return status if isinstance(status, int) else None


class EvidenceArchive:
    """The archive at one location, through one S3 client."""

    def __init__(self, location: EvidenceLocation, client: Any | None = None) -> None:
        self.location = location
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3
            from botocore.config import Config

            self._client = boto3.client(
                "s3", region_name=self.location.region, config=Config(**_TIMEOUTS)
            )
        return self._client

    def _errors(self) -> tuple[type[Exception], ...]:
        from botocore.exceptions import BotoCoreError, ClientError

        return (BotoCoreError, ClientError)

    # -- writing --------------------------------------------------------------------

    def store(
        self, stack: str, digest: str, documents: Sequence[EvidenceDocument], *, now: datetime
    ) -> list[str]:
        """Write ``documents`` into a new run folder of ``stack`` and ``digest``; their
        URIs in order. :class:`EvidenceError` when any of them is not stored."""
        segments = [segment for segment in stack.split("/") if segment]
        if not segments or not all(map(safe_segment, (*segments, digest))):
            raise EvidenceError(f"stack {stack!r} and digest {digest!r} cannot name an S3 key")
        names = [document.name for document in documents]
        if not documents or len(set(names)) != len(names):
            raise EvidenceError(f"a run archives distinct documents, not {names}")
        errors = self._errors()
        for _ in range(RUN_ATTEMPTS):
            folder = self.location.key(*segments, digest, run_id(now))
            try:
                return self._store_run(folder, documents)
            except _KeyTaken:
                continue  # another run drew this id: draw a new one
            except errors as exc:
                raise EvidenceError(
                    f"evidence not archived in {self.location}: {_error_text(exc)}"
                ) from None
        raise EvidenceError(f"evidence not archived in {self.location}: no free run id")

    def _store_run(self, folder: str, documents: Sequence[EvidenceDocument]) -> list[str]:
        uris = []
        for index, document in enumerate(documents):
            key = f"{folder}/{document.name}"
            try:
                self.client.put_object(
                    Bucket=self.location.bucket,
                    Key=key,
                    Body=document.body,
                    ContentType=CONTENT_TYPE,
                    IfNoneMatch="*",
                    ChecksumAlgorithm="SHA256",
                    Metadata={"sha256": document.sha256, **document.metadata},
                )
            except self._errors() as exc:
                if _status(exc) == 412:  # PreconditionFailed: the key exists
                    if index == 0:
                        raise _KeyTaken from None
                    raise EvidenceError(
                        f"evidence not archived: {self.location.uri(key)} exists already "
                        "(another writer is using this run's folder)"
                    ) from None
                raise
            uris.append(self.location.uri(key))
        return uris

    # -- reading --------------------------------------------------------------------

    def describe(self, uri: str) -> ArchivedDocument:
        """What S3 says of one document a record names; ``exists`` False when the key
        (or bucket) is not there."""
        bucket, key = parse_uri(uri)
        try:
            head = self.client.head_object(Bucket=bucket, Key=key)
        except self._errors() as exc:
            if _status(exc) == 404:
                return ArchivedDocument(uri, exists=False)
            raise EvidenceError(f"cannot read {uri}: {_error_text(exc)}") from None
        return ArchivedDocument(
            uri,
            exists=True,
            size=head.get("ContentLength"),
            last_modified=head.get("LastModified"),
            version_id=head.get("VersionId"),
            encryption=head.get("ServerSideEncryption"),
        )

    def fetch(self, uris: Sequence[str], directory: Path) -> list[FetchedDocument]:
        """Download ``uris`` into ``directory`` as ``<run>/<document>``; refuses before
        writing anything when a target exists or two URIs would land on one file."""
        targets = [(uri, directory / local_name(uri)) for uri in uris]
        paths = [path for _, path in targets]
        taken = [path for path in paths if path.exists() or path.is_symlink()]
        if taken:
            raise EvidenceError(f"{taken[0]} exists; evidence never overwrites a local file")
        if len(set(paths)) != len(paths):
            raise EvidenceError("two documents would be written to the same file")
        fetched = []
        for uri, path in targets:
            bucket, key = parse_uri(uri)
            try:
                body = self.client.get_object(Bucket=bucket, Key=key)["Body"].read()
            except self._errors() as exc:
                raise EvidenceError(f"cannot read {uri}: {_error_text(exc)}") from None
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("xb") as handle:  # "x": never replaces a file made meanwhile
                handle.write(body)
            fetched.append(FetchedDocument(uri, path, len(body)))
        return fetched


class _KeyTaken(Exception):
    """The first document's key exists: the run id is someone else's."""


def local_name(uri: str) -> Path:
    """``<run>/<document>`` of an evidence URI: where ``--fetch DIR`` puts it."""
    _, key = parse_uri(uri)
    segments = key.split("/")
    if len(segments) < 2:
        raise EvidenceError(f"{uri!r} names no run folder")
    return Path(segments[-2]) / segments[-1]
