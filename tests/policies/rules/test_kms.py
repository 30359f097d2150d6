"""kms-key-rotation."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from policies.config import DEFAULT_CONFIG
from policies.model import NOT_APPLICABLE, UNKNOWN, Resource, RuleContext, Tier
from policies.rules.kms import RULES, key_rotation

NOW = datetime(2026, 11, 27, tzinfo=UTC)
KEY = "aws:kms/key:Key"


def ctx(tier: Tier = "production") -> RuleContext:
    return RuleContext(stack="prod-us-east-1", tier=tier, config=DEFAULT_CONFIG, now=NOW)


def key(name: str = "data", **inputs: Any) -> Resource:
    return Resource(
        type=KEY,
        name=name,
        urn=f"urn:pulumi:prod-us-east-1::sre-platform::{KEY}::{name}",
        inputs={"description": "chat data", "deletionWindowInDays": 30, **inputs},
    )


def messages(outcome: Any) -> list[str]:
    assert outcome is not NOT_APPLICABLE
    return [v.message for v in outcome]


def test_module_rules() -> None:
    assert [(r.id, r.severity) for r in RULES] == [("kms-key-rotation", "medium")]
    assert "`enableKeyRotation: true`" in RULES[0].remediation


@pytest.mark.parametrize("tier", ["production", "test"])
def test_rotating_key_passes(tier: Tier) -> None:
    assert messages(key_rotation.check(key(enableKeyRotation=True), ctx(tier))) == []
    explicit = key(enableKeyRotation=True, customerMasterKeySpec="SYMMETRIC_DEFAULT")
    assert messages(key_rotation.check(explicit, ctx(tier))) == []


def test_key_without_rotation_is_reported() -> None:
    [message] = messages(key_rotation.check(key(), ctx()))
    assert "'data': `enableKeyRotation` is not set (AWS defaults to false)" in message
    [message] = messages(key_rotation.check(key(enableKeyRotation=False), ctx("development")))
    assert "`enableKeyRotation` is False" in message


@pytest.mark.parametrize(
    "inputs",
    [
        {"customerMasterKeySpec": "RSA_2048", "keyUsage": "SIGN_VERIFY"},
        {"customerMasterKeySpec": "ECC_NIST_P256", "keyUsage": "SIGN_VERIFY"},
        {"customerMasterKeySpec": "HMAC_256", "keyUsage": "GENERATE_VERIFY_MAC"},
        {"keySpec": "ML_DSA_65"},
        {"customKeyStoreId": "cks-1234567890abcdef0"},
        {"xksKeyId": "ext-key-1"},
    ],
)
def test_keys_aws_cannot_rotate_are_not_applicable(inputs: dict[str, Any]) -> None:
    assert key_rotation.check(key(enableKeyRotation=False, **inputs), ctx()) is NOT_APPLICABLE


def test_other_types_not_applicable() -> None:
    replica = Resource(
        type="aws:kms/replicaKey:ReplicaKey",
        name="data-eu",
        urn="urn:pulumi:prod-us-east-1::sre-platform::aws:kms/replicaKey:ReplicaKey::data-eu",
        inputs={"primaryKeyArn": UNKNOWN},
    )
    assert key_rotation.check(replica, ctx()) is NOT_APPLICABLE


@pytest.mark.parametrize(
    "inputs",
    [
        {"enableKeyRotation": UNKNOWN},
        {"customerMasterKeySpec": UNKNOWN},
        {"keyUsage": UNKNOWN},
    ],
)
def test_unknown_values_are_not_judged(inputs: dict[str, Any]) -> None:
    assert messages(key_rotation.check(key(**inputs), ctx())) == []
