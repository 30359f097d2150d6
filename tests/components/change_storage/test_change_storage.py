"""ChangeStorage under Pulumi mocks: the ledger table as `sre ledger init` makes it, a
private versioned evidence bucket that refuses overwrites, and the pack's verdict."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from change_mgmt.ledger.dynamo_admin import ATTRIBUTES, KEY_SCHEMA
from components.change_storage import (
    TYPE_TOKEN,
    ChangeStorage,
    ChangeStorageArgs,
    ChangeStorageError,
)
from policies.evaluate import evaluate, load_settings
from stacks.mock_engine import DeclaredResource, MockRun, run_under_mocks
from tests.conftest import NOW, REPO_ROOT

NAME = "changes-prod"
TABLE = "aws:dynamodb/table:Table"
BUCKET = "aws:s3/bucket:Bucket"
POLICY = "aws:s3/bucketPolicy:BucketPolicy"
LOCK = "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration"
SHIPPED = load_settings(REPO_ROOT / "policies").config
KEY_ARN = "arn:aws:kms:eu-central-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def make_args(**overrides: Any) -> ChangeStorageArgs:
    base = ChangeStorageArgs(
        environment="prod", table_name="sre-ledger-prod", bucket_name="acme-change-evidence-prod"
    )
    return replace(base, **overrides)


def run(stack: str = "prod", **overrides: Any) -> MockRun:
    def program() -> None:
        ChangeStorage(NAME, make_args(**overrides))

    return run_under_mocks(program, project="sre-platform", stack=stack)


def _child(mock: MockRun, type_: str, role: str) -> DeclaredResource:
    return mock.one(type_, f"{NAME}-{role}")


def test_the_table_has_the_keys_the_ledger_creates_and_its_protections() -> None:
    mock = run(protect=True)
    table = _child(mock, TABLE, "ledger")
    keys = [{"AttributeName": table.inputs["hashKey"], "KeyType": "HASH"}]
    keys.append({"AttributeName": table.inputs["rangeKey"], "KeyType": "RANGE"})
    assert keys == KEY_SCHEMA
    attributes = [
        {"AttributeName": a["name"], "AttributeType": a["type"]} for a in table.inputs["attributes"]
    ]
    assert attributes == ATTRIBUTES
    assert table.inputs["name"] == "sre-ledger-prod"
    assert table.inputs["billingMode"] == "PAY_PER_REQUEST"
    assert table.inputs["pointInTimeRecovery"] == {"enabled": True}
    assert table.inputs["serverSideEncryption"] == {"enabled": True}
    assert table.inputs["deletionProtectionEnabled"] is True and table.protect
    assert mock.one(TYPE_TOKEN).name == NAME and table.parent_name == NAME


def test_outside_production_nothing_is_protected() -> None:
    mock = run(stack="dev", environment="dev", protect=False)
    table = _child(mock, TABLE, "ledger")
    assert table.inputs["deletionProtectionEnabled"] is False and not table.protect
    assert not _child(mock, BUCKET, "evidence").protect


def test_the_bucket_is_private_versioned_kms_encrypted_and_refuses_overwrites() -> None:
    mock = run(protect=True, kms_key_arn=KEY_ARN)
    bucket = _child(mock, BUCKET, "evidence")
    assert bucket.protect and bucket.inputs["bucket"] == "acme-change-evidence-prod"
    block = _child(
        mock, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "evidence-public-access"
    )
    assert all(
        block.inputs[k]
        for k in (
            "blockPublicAcls",
            "blockPublicPolicy",
            "ignorePublicAcls",
            "restrictPublicBuckets",
        )
    )
    versioning = _child(mock, "aws:s3/bucketVersioning:BucketVersioning", "evidence-versioning")
    assert versioning.inputs["versioningConfiguration"]["status"] == "Enabled"
    (rule,) = _child(
        mock,
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "evidence-encryption",
    ).inputs["rules"]
    assert rule["applyServerSideEncryptionByDefault"] == {
        "sseAlgorithm": "aws:kms",
        "kmsMasterKeyId": KEY_ARN,
    }
    table = _child(mock, TABLE, "ledger")
    assert table.inputs["serverSideEncryption"] == {"enabled": True, "kmsKeyArn": KEY_ARN}
    statements = {
        s["Sid"]: s
        for s in json.loads(_child(mock, POLICY, "evidence-policy").inputs["policy"])["Statement"]
    }
    assert statements["DenyInsecureTransport"]["Condition"] == {
        "Bool": {"aws:SecureTransport": "false"}
    }
    overwrite = statements["DenyUnconditionalPuts"]
    assert (overwrite["Effect"], overwrite["Action"]) == ("Deny", "s3:PutObject")
    assert overwrite["Condition"] == {"Null": {"s3:if-none-match": "true"}}


def test_versions_are_never_expired() -> None:
    mock = run()
    (rule,) = _child(
        mock,
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
        "evidence-lifecycle",
    ).inputs["rules"]
    assert rule["id"] == "abort-incomplete-uploads"
    assert not {"expiration", "noncurrentVersionExpiration", "transitions"} & set(rule)
    assert mock.of_type(LOCK) == [] and not _child(mock, BUCKET, "evidence").inputs.get(
        "objectLockEnabled"
    )


def test_an_object_lock_keeps_every_version_for_the_configured_days() -> None:
    mock = run(evidence_lock_days=400)
    assert _child(mock, BUCKET, "evidence").inputs["objectLockEnabled"] is True
    lock = _child(mock, LOCK, "evidence-lock")
    assert lock.inputs["rule"]["defaultRetention"] == {"mode": "GOVERNANCE", "days": 400}


def test_the_policy_pack_passes_in_production() -> None:
    mock = run(protect=True, evidence_lock_days=30)
    report = evaluate(mock.resources, stack="prod", config=SHIPPED, now=NOW)
    assert report.passed and not report.findings, [f.message for f in report.findings]
    assert {"production-stateful-protected", "s3-bucket-versioned"} <= report.applicable


def test_unprotected_production_storage_fails_the_pack() -> None:
    report = evaluate(run(protect=False).resources, stack="prod", config=SHIPPED, now=NOW)
    assert not report.passed
    assert {f.rule.id for f in report.findings} == {"production-stateful-protected"}


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"table_name": "ab"}, "table_name"),
        ({"table_name": "sre ledger"}, "table_name"),
        ({"bucket_name": "Evidence_Bucket"}, "bucket_name"),
        ({"bucket_name": "a..b"}, "bucket_name"),
        ({"kms_key_arn": "alias/aws/s3"}, "kms_key_arn"),
        ({"evidence_lock_days": -1}, "evidence_lock_days"),
        ({"evidence_lock_days": 3651}, "evidence_lock_days"),
    ],
)
def test_bad_inputs_are_refused_before_anything_is_declared(
    overrides: dict[str, Any], field: str
) -> None:
    with pytest.raises(ChangeStorageError, match=field):
        ChangeStorage(NAME, make_args(**overrides))
