"""The S3 evidence archive against moto: write once, never overwrite, read back."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from change_mgmt.evidence import archive as archive_module
from change_mgmt.evidence.archive import EvidenceArchive, EvidenceError, local_name
from change_mgmt.evidence.documents import (
    GATE_REPORT,
    PREVIEW,
    EvidenceDocument,
    plan_document,
)
from change_mgmt.evidence.location import (
    EvidenceConfigError,
    EvidenceLocation,
    configured_location,
)
from tests.change_mgmt.evidence.s3 import BUCKET, REGION, all_objects, fake_aws_env, make_bucket
from tests.conftest import NOW

DIGEST = "ab" * 32
STACK = "acme/sre-platform/prod"
SECRET = "hunter2-Never-Archive-Me"
CIPHERTEXT = "v1:AAAAciphertextOfTheStack=="


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    fake_aws_env(monkeypatch)
    with mock_aws():
        client = boto3.client("s3", region_name=REGION)
        make_bucket(client)
        yield client


def _docs(tag: str = "1") -> list[EvidenceDocument]:
    return [
        EvidenceDocument(PREVIEW, f'{{"preview": {tag}}}'.encode()),
        EvidenceDocument(GATE_REPORT, f'{{"report": {tag}}}'.encode()),
    ]


def _archive(prefix: str = "") -> EvidenceArchive:
    return EvidenceArchive(EvidenceLocation(BUCKET, prefix, REGION))


# -- location ------------------------------------------------------------------------


def test_a_url_names_bucket_prefix_and_region() -> None:
    location = EvidenceLocation.parse("s3://acme-change-evidence/ci/gates?region=eu-central-1")
    assert (location.bucket, location.prefix, location.region) == (BUCKET, "ci/gates", REGION)
    assert location.uri(location.key("prod", "x")) == f"s3://{BUCKET}/ci/gates/prod/x"
    assert EvidenceLocation.parse(f"s3://{BUCKET}") == EvidenceLocation(BUCKET)


@pytest.mark.parametrize(
    "url",
    [
        f"https://{BUCKET}",
        "s3://Upper_Case",
        "s3://ab",
        "s3://192.168.1.1",
        f"s3://{BUCKET}/../etc",
        f"s3://{BUCKET}/with space",
        f"s3://{BUCKET}?regoin=eu-central-1",
        f"s3://{BUCKET}?region=mars",
        f"s3://{BUCKET}?region=eu-central-1&region=us-east-1",
        f"s3://key:secret@{BUCKET}",
        f"s3://{BUCKET}#frag",
    ],
)
def test_a_bad_url_is_refused_never_read_as_no_archive(url: str) -> None:
    with pytest.raises(EvidenceConfigError, match="SRE_EVIDENCE_URL"):
        EvidenceLocation.parse(url)


def test_unset_or_empty_means_no_archive() -> None:
    assert configured_location(environ={}) is None
    assert configured_location(environ={"SRE_EVIDENCE_URL": "  "}) is None
    assert configured_location(environ={"SRE_EVIDENCE_URL": f"s3://{BUCKET}"}) == EvidenceLocation(
        BUCKET
    )


# -- writing -------------------------------------------------------------------------


def test_a_run_stores_each_document_under_stack_digest_and_run(s3: Any) -> None:
    uris = _archive("gates").store(STACK, DIGEST, _docs(), now=NOW)
    run = uris[0].split("/")[-2]
    assert run.startswith("20261127T000000Z-")
    assert uris == [
        f"s3://{BUCKET}/gates/{STACK}/{DIGEST}/{run}/{PREVIEW}",
        f"s3://{BUCKET}/gates/{STACK}/{DIGEST}/{run}/{GATE_REPORT}",
    ]
    head = s3.head_object(Bucket=BUCKET, Key=f"gates/{STACK}/{DIGEST}/{run}/{PREVIEW}")
    assert head["ContentType"] == "application/json"
    assert head["Metadata"]["sha256"] == hashlib.sha256(b'{"preview": 1}').hexdigest()


def test_a_second_run_of_the_same_change_gets_its_own_folder(s3: Any) -> None:
    first = _archive().store(STACK, DIGEST, _docs("1"), now=NOW)
    second = _archive().store(STACK, DIGEST, _docs("2"), now=NOW)
    assert first[0].rsplit("/", 2)[-2] != second[0].rsplit("/", 2)[-2]
    stored = all_objects(s3)
    assert len(stored) == 4 and all(len(bodies) == 1 for bodies in stored.values())


def test_a_taken_run_id_is_never_overwritten_a_new_one_is_drawn(
    s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = iter(["20261127T000000Z-aaaaaaaaaaaa", "20261127T000000Z-aaaaaaaaaaaa", "fresh"])
    monkeypatch.setattr(archive_module, "run_id", lambda now: next(ids))
    first = _archive().store(STACK, DIGEST, _docs("1"), now=NOW)
    second = _archive().store(STACK, DIGEST, _docs("2"), now=NOW)
    assert second[0].endswith(f"/fresh/{PREVIEW}")
    stored = all_objects(s3)
    key = first[0].split(f"{BUCKET}/", 1)[1]
    assert stored[key] == [b'{"preview": 1}']  # one version: the conditional put refused


def test_a_key_taken_inside_the_run_folder_fails(s3: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(archive_module, "run_id", lambda now: "run-1")
    s3.put_object(Bucket=BUCKET, Key=f"{STACK}/{DIGEST}/run-1/{GATE_REPORT}", Body=b"planted")
    with pytest.raises(EvidenceError, match="exists already"):
        _archive().store(STACK, DIGEST, _docs(), now=NOW)
    assert all_objects(s3)[f"{STACK}/{DIGEST}/run-1/{GATE_REPORT}"] == [b"planted"]


def test_no_bucket_is_an_error_naming_it(s3: Any) -> None:
    archive = EvidenceArchive(EvidenceLocation("no-such-evidence-bucket", "", REGION))
    with pytest.raises(EvidenceError, match="no-such-evidence-bucket.*NoSuchBucket"):
        archive.store(STACK, DIGEST, _docs(), now=NOW)


@pytest.mark.parametrize(("stack", "digest"), [("../prod", DIGEST), (STACK, "a b"), ("", DIGEST)])
def test_names_that_cannot_be_keys_are_refused(s3: Any, stack: str, digest: str) -> None:
    with pytest.raises(EvidenceError, match="cannot name an S3 key"):
        _archive().store(stack, digest, _docs(), now=NOW)
    assert all_objects(s3) == {}


# -- the plan ------------------------------------------------------------------------


def _plan(tmp_path: Path) -> Path:
    plan = {
        "manifest": {"time": "2026-11-27T00:00:00Z", "version": "v3.140.0"},
        "config": {
            "sre-platform:grafanaAdminPassword": {"secure": CIPHERTEXT},
            "sre-platform:region": "eu-central-1",
        },
        "resourcePlans": {
            "urn:pulumi:prod::sre-platform::aws:rds/instance:Instance::db": {
                "goal": {
                    "type": "aws:rds/instance:Instance",
                    "name": "db",
                    "inputDiff": {
                        "adds": {
                            "password": {
                                "4dabf18193072939515e22adb298388d": (
                                    "1b47061264138c4ac30d75fd1eb44270"
                                ),
                                "ciphertext": CIPHERTEXT,
                            },
                            "masterPassword": SECRET,
                            "instanceClass": "db.t4g.micro",
                        }
                    },
                },
                "steps": ["create"],
            }
        },
    }
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan))
    return path


def test_the_plan_is_archived_redacted_with_the_hash_of_the_file(tmp_path: Path) -> None:
    path = _plan(tmp_path)
    document = plan_document(path)
    assert SECRET.encode() not in document.body and CIPHERTEXT.encode() not in document.body
    archived = json.loads(document.body)
    assert archived["schema"] == "sre-platform/evidence-plan/v1"
    assert archived["source_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert document.metadata == {"source-sha256": archived["source_sha256"]}
    plan = archived["plan"]
    assert plan["config"]["sre-platform:grafanaAdminPassword"] == "[secret]"
    assert plan["config"]["sre-platform:region"] == "eu-central-1"
    adds = next(iter(plan["resourcePlans"].values()))["goal"]["inputDiff"]["adds"]
    assert adds == {
        "password": "[secret]",
        "masterPassword": "[secret]",
        "instanceClass": "db.t4g.micro",
    }


def test_an_unreadable_plan_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_text("{not json")
    with pytest.raises(Exception, match="cannot be archived"):
        plan_document(path)


# -- reading -------------------------------------------------------------------------


def test_documents_are_described_and_fetched_into_run_folders(s3: Any, tmp_path: Path) -> None:
    uris = _archive().store(STACK, DIGEST, _docs(), now=NOW)
    missing = uris[0].replace(PREVIEW, "gone.json")
    described = [_archive().describe(uri) for uri in [*uris, missing]]
    assert [d.exists for d in described] == [True, True, False]
    assert described[0].size == len(b'{"preview": 1}') and described[0].version_id
    fetched = _archive().fetch(uris, tmp_path / "out")
    run = uris[0].split("/")[-2]
    assert [f.path for f in fetched] == [
        tmp_path / "out" / run / PREVIEW,
        tmp_path / "out" / run / GATE_REPORT,
    ]
    assert (tmp_path / "out" / run / PREVIEW).read_bytes() == b'{"preview": 1}'


def test_fetch_never_overwrites_and_writes_nothing_then(s3: Any, tmp_path: Path) -> None:
    uris = _archive().store(STACK, DIGEST, _docs(), now=NOW)
    target = tmp_path / local_name(uris[1])
    target.parent.mkdir(parents=True)
    target.write_text("mine")
    with pytest.raises(EvidenceError, match="never overwrites"):
        _archive().fetch(uris, tmp_path)
    assert target.read_text() == "mine"
    assert not (tmp_path / local_name(uris[0])).exists()


@pytest.mark.parametrize(
    "uri",
    [
        f"s3://{BUCKET}/prod/../../../etc/passwd",
        f"s3://{BUCKET}/prod/.ssh/authorized_keys",
        f"https://{BUCKET}/prod/x/preview.json",
        f"s3://{BUCKET}/prod/x/a b.json",
    ],
)
def test_a_forged_uri_cannot_name_a_path_outside_the_directory(uri: str) -> None:
    with pytest.raises(EvidenceConfigError):
        local_name(uri)
