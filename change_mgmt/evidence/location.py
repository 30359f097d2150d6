"""Where evidence is archived: ``SRE_EVIDENCE_URL=s3://BUCKET[/prefix][?region=REGION]``,
else ``evidence.yaml`` at the repository root (``url: s3://...``), as ``SRE_LEDGER_URL``
and ``ledger.yaml`` name the ledger; the variable wins (set but empty: no archive).

Neither: no archive, the documented default of a laptop. Set: every recorded
gate run must archive its documents there or the gate closes. A value that is not such a
URL is refused outright, never read as "no archive": a typo must not switch it off.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from pydantic import BaseModel, ConfigDict, ValidationError

from change_mgmt.documents import DocumentError, load_yaml_mapping, validation_problems
from change_mgmt.errors import SreError

EVIDENCE_URL_ENV = "SRE_EVIDENCE_URL"
CONFIG_FILE = "evidence.yaml"
SCHEME = "s3"
# S3's rules for bucket names (general purpose buckets): 3-63 characters, lowercase
# letters, digits, dots and hyphens, starting and ending with a letter or digit.
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_IP_ADDRESS = re.compile(r"^\d+\.\d+\.\d+\.\d+$")
# One segment of a key: nothing a shell, a URL or a local path would read differently.
_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-[0-9]$")
_QUERY_KEYS = frozenset({"region"})


class EvidenceConfigError(SreError):
    """The evidence archive is configured, but not as a usable ``s3://`` URL."""


def safe_segment(text: str) -> bool:
    """Whether ``text`` can be one segment of an evidence key (no ``/``, no ``..``)."""
    return bool(_SEGMENT.match(text)) and ".." not in text


@dataclass(frozen=True)
class EvidenceLocation:
    """A bucket, an optional key prefix in it, and the bucket's region (None: the AWS
    SDK's own default: ``AWS_REGION``, the profile)."""

    bucket: str
    prefix: str = ""
    region: str | None = None

    @classmethod
    def parse(cls, url: str, *, source: str = EVIDENCE_URL_ENV) -> EvidenceLocation:
        """The location ``url`` names; :class:`EvidenceConfigError` naming ``source``
        and what is wrong otherwise."""

        def refuse(why: str) -> EvidenceConfigError:
            return EvidenceConfigError(
                f"{source}: {why}; expected s3://BUCKET[/prefix][?region=REGION], "
                f"e.g. s3://acme-change-evidence?region=eu-central-1"
            )

        parts = urlsplit(url.strip())
        if parts.scheme != SCHEME:
            raise refuse(f"the scheme must be {SCHEME}://, not {parts.scheme or 'missing'!r}")
        if parts.username or parts.password or parts.port or parts.fragment:
            raise refuse("a user, password, port or #fragment has no meaning here")
        bucket = parts.netloc
        if not _BUCKET.match(bucket) or ".." in bucket or _IP_ADDRESS.match(bucket):
            raise refuse(f"{bucket!r} is not an S3 bucket name")
        segments = [segment for segment in parts.path.split("/") if segment]
        bad = [segment for segment in segments if not safe_segment(segment)]
        if bad:
            raise refuse(f"prefix segment {bad[0]!r} may hold only letters, digits, . _ -")
        try:
            query = parse_qs(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
        except ValueError:
            raise refuse(f"{parts.query!r} is not a query string") from None
        unknown = sorted(set(query) - _QUERY_KEYS)
        if unknown:
            raise refuse(f"unknown setting {unknown[0]!r} (only region)")
        regions = query.get("region", [])
        if len(regions) > 1 or (regions and not _REGION.match(regions[0])):
            raise refuse(f"region must be one AWS region such as eu-central-1, not {regions}")
        return cls(bucket=bucket, prefix="/".join(segments), region=regions[0] if regions else None)

    def key(self, *segments: str) -> str:
        """The object key of ``segments`` under the prefix."""
        return "/".join(part for part in (self.prefix, *segments) if part)

    def uri(self, key: str) -> str:
        return f"{SCHEME}://{self.bucket}/{key}"

    def __str__(self) -> str:
        return self.uri(self.prefix).rstrip("/")


class _EvidenceFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str


def configured_location(
    config_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    shown_as: str = CONFIG_FILE,
) -> EvidenceLocation | None:
    """The archive ``$SRE_EVIDENCE_URL`` names, else ``config_file`` (``evidence.yaml``,
    ``url: s3://...``; the gate passes the base branch's copy, so a pull request cannot
    switch the archive off by deleting it); None when neither says one (the variable set
    but empty: none). ``shown_as`` names the file in errors."""
    value = (os.environ if environ is None else environ).get(EVIDENCE_URL_ENV)
    if value is not None or config_file is None or not config_file.is_file():
        return EvidenceLocation.parse(value) if value and value.strip() else None
    document = load_yaml_mapping(config_file, display_path=shown_as)
    try:
        settings = _EvidenceFile.model_validate(document.data)
    except ValidationError as exc:
        raise DocumentError(validation_problems(exc, document, _EvidenceFile)) from None
    line, _ = document.position(("url",))
    return EvidenceLocation.parse(settings.url, source=f"{shown_as}:{line}: url")


def parse_uri(uri: str) -> tuple[str, str]:
    """``(bucket, key)`` of an ``s3://`` URI a change record names; every key segment
    must be a safe one, so a forged record cannot name a path outside a download
    directory."""
    parts = urlsplit(uri)
    segments = parts.path.lstrip("/").split("/")
    if (
        parts.scheme != SCHEME
        or not _BUCKET.match(parts.netloc)
        or parts.query
        or parts.fragment
        or not all(safe_segment(segment) for segment in segments)
    ):
        raise EvidenceConfigError(f"{uri!r} is not an s3:// URI of an evidence document")
    return parts.netloc, "/".join(segments)
