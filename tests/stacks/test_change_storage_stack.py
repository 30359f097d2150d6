"""The platform stacks declare the shared ledger's table and the evidence bucket
(ChangeStorage) from their config, run under mocks from their stack files."""

from __future__ import annotations

import json
from typing import Any

import pytest

from change_mgmt.environments.render import (
    RENDER_SECRET_PLACEHOLDERS,
    project_config,
    with_secret_keys,
)
from change_mgmt.evidence.location import EvidenceLocation
from change_mgmt.ledger.config import parse_ledger_url
from policies.evaluate import evaluate, load_settings
from stacks.mock_engine import MockRun, run_under_mocks
from stacks.platform_config import StackConfigError
from stacks.platform_stack_config import PLATFORM_STACKS
from stacks.program import run_stack
from tests.conftest import NOW, REPO_ROOT

SECRETS = list(RENDER_SECRET_PLACEHOLDERS)
TABLE = "aws:dynamodb/table:Table"
BUCKET = "aws:s3/bucket:Bucket"
LOCK = "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration"
SHIPPED = load_settings(REPO_ROOT / "policies").config


def _config(stack: str, **overrides: Any) -> dict[str, str]:
    config = project_config(REPO_ROOT, stack)
    for key, value in overrides.items():
        config[f"sre-platform:{key}"] = value if isinstance(value, str) else json.dumps(value)
    return config


def _run(stack: str, config: dict[str, str] | None = None, *, preview: bool = True) -> MockRun:
    return run_under_mocks(
        with_secret_keys(lambda: run_stack(REPO_ROOT), SECRETS),
        project="sre-platform",
        stack=stack,
        config=_config(stack) if config is None else config,
        preview=preview,
    )


@pytest.fixture(scope="module", params=PLATFORM_STACKS)
def rendered(request: pytest.FixtureRequest) -> MockRun:
    return _run(str(request.param))


def test_every_stack_declares_the_table_and_the_bucket(rendered: MockRun) -> None:
    stack = rendered.stack
    table = rendered.one(TABLE, f"changes-{stack}-ledger")
    bucket = rendered.one(BUCKET, f"changes-{stack}-evidence")
    production = stack == "prod"
    assert table.inputs["name"] == "sre-ledger"
    assert table.inputs["pointInTimeRecovery"] == {"enabled": True}
    assert table.inputs["deletionProtectionEnabled"] is production
    assert (table.protect, bucket.protect) == (production, production)
    assert bool(rendered.of_type(LOCK)) is production  # prod keeps evidence 400 days
    # The exports are what SRE_LEDGER_URL and SRE_EVIDENCE_URL are set to.
    ledger = parse_ledger_url(rendered.exports["ledgerUrl"])
    assert (ledger.table, ledger.region) == ("sre-ledger", "us-east-1")
    evidence = EvidenceLocation.parse(rendered.exports["evidenceUrl"])
    assert evidence.bucket == bucket.inputs["bucket"] and evidence.region == "us-east-1"


def test_the_pack_passes_over_every_stack(rendered: MockRun) -> None:
    report = evaluate(rendered.resources, stack=rendered.stack, config=SHIPPED, now=NOW)
    assert report.passed, [f.message for f in report.findings]


def test_config_names_the_table_the_key_and_the_lock() -> None:
    key = "arn:aws:kms:us-east-1:000000000000:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    mock = _run(
        "dev",
        _config(
            "dev",
            ledgerTableName="team-ledger",
            evidenceBucket="acme-dev-change-evidence",
            changeStorageKmsKeyArn=key,
            evidenceLockDays=30,
        ),
    )
    table = mock.one(TABLE)
    assert table.inputs["name"] == "team-ledger"
    assert table.inputs["serverSideEncryption"] == {"enabled": True, "kmsKeyArn": key}
    assert mock.one(BUCKET, "changes-dev-evidence").inputs["bucket"] == "acme-dev-change-evidence"
    assert mock.one(LOCK).inputs["rule"]["defaultRetention"]["days"] == 30


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("evidenceBucket", "Not_A_Bucket"),
        ("ledgerTableName", "x"),
        ("evidenceLockDays", "-1"),
        ("changeStorageKmsKeyArn", "alias/aws/s3"),
    ],
)
def test_bad_config_names_its_key(key: str, value: str) -> None:
    with pytest.raises(StackConfigError, match=key):
        _run("dev", _config("dev", **{key: value}))


def test_a_real_update_refuses_the_placeholder_bucket() -> None:
    config = {**_config("dev"), "sre-platform:gateReceiptSigners": "[]"}
    with pytest.raises(Exception, match="evidenceBucket"):
        _run("dev", config, preview=False)
