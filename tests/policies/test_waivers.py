from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from change_mgmt.documents import DocumentError
from policies.waivers import Waiver, load_waivers, waiver_for
from tests.policies.conftest import NOW, urn

BUCKET = urn("prod", "aws:s3/bucket:Bucket", "audit-logs")


def waiver(**overrides: object) -> Waiver:
    fields: dict[str, object] = {
        "rule": "s3-bucket-versioned",
        "resource": "audit-*",
        "reason": "write-once log bucket; object lock instead",
        "owner": "sre@example.com",
        "expires": date(2026, 12, 31),
    }
    fields.update(overrides)
    return Waiver.model_validate(fields)


def test_a_name_pattern_matches_resource_names_of_that_rule_only() -> None:
    w = waiver()
    assert w.matches("s3-bucket-versioned", BUCKET, "audit-logs")
    assert not w.matches("s3-bucket-encrypted", BUCKET, "audit-logs")
    assert not w.matches("s3-bucket-versioned", BUCKET, "billing-logs")


def test_a_urn_pattern_matches_urns() -> None:
    w = waiver(resource="urn:pulumi:prod::*::audit-logs")
    assert w.matches("s3-bucket-versioned", BUCKET, "audit-logs")
    assert not w.matches("s3-bucket-versioned", BUCKET.replace(":prod:", ":staging:"), "audit-logs")


def test_a_date_holds_through_that_day_in_utc() -> None:
    w = waiver(expires=date(2026, 11, 27))
    assert not w.expired(datetime(2026, 11, 27, 23, 59, tzinfo=UTC))
    assert w.expired(datetime(2026, 11, 28, 0, 0, tzinfo=UTC))


def test_an_expired_waiver_no_longer_covers_and_is_reported() -> None:
    lapsed = waiver(expires=date(2026, 11, 1))
    active, expired = waiver_for([lapsed], "s3-bucket-versioned", BUCKET, "audit-logs", NOW)
    assert (active, expired) == (None, lapsed)
    current = waiver(expires=date(2026, 12, 1))
    active, expired = waiver_for(
        [lapsed, current], "s3-bucket-versioned", BUCKET, "audit-logs", NOW
    )
    assert (active, expired) == (current, None)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "waivers.yaml"
    path.write_text(text)
    return path


ENTRY = """waivers:
  - rule: s3-bucket-versioned
    resource: audit-*
    reason: write-once log bucket
    owner: sre@example.com
    expires: 2026-12-31
"""


def test_a_waiver_file_loads(tmp_path: Path) -> None:
    (loaded,) = load_waivers(write(tmp_path, ENTRY), known_rules={"s3-bucket-versioned"})
    assert loaded.expires == date(2026, 12, 31) and loaded.owner == "sre@example.com"


def test_a_waiver_without_a_reason_is_rejected_at_its_line(tmp_path: Path) -> None:
    text = ENTRY.replace("    reason: write-once log bucket\n", "")
    with pytest.raises(DocumentError, match=r"waivers.yaml:2:\d+: waivers\[0\]\.reason: required"):
        load_waivers(write(tmp_path, text), known_rules={"s3-bucket-versioned"})


def test_a_blank_reason_is_rejected(tmp_path: Path) -> None:
    text = ENTRY.replace("write-once log bucket", '"   "')
    with pytest.raises(DocumentError, match=r"waivers\[0\]\.reason: must not be blank"):
        load_waivers(write(tmp_path, text), known_rules={"s3-bucket-versioned"})


def test_a_waiver_of_an_unknown_rule_is_rejected(tmp_path: Path) -> None:
    text = ENTRY.replace("rule: s3-bucket-versioned", "rule: s3-bucket-versionned")
    with pytest.raises(DocumentError, match=r"waivers.yaml:2:\d+: waivers\[0\]\.rule: no rule"):
        load_waivers(write(tmp_path, text), known_rules={"s3-bucket-versioned"})


def test_an_expiry_is_required(tmp_path: Path) -> None:
    text = ENTRY.replace("    expires: 2026-12-31\n", "")
    with pytest.raises(DocumentError, match=r"waivers\[0\]\.expires: required"):
        load_waivers(write(tmp_path, text), known_rules={"s3-bucket-versioned"})


def test_no_file_means_no_waivers(tmp_path: Path) -> None:
    assert load_waivers(tmp_path / "waivers.yaml", known_rules=set()) == ()
