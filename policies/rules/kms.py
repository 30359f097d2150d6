"""KMS: customer managed keys rotate their key material.

AWS rotates only symmetric encryption keys whose material it generated. Asymmetric and
HMAC keys (``customerMasterKeySpec`` other than ``SYMMETRIC_DEFAULT``), keys in a custom
key store (``customKeyStoreId``: CloudHSM) and external key store keys (``xksKeyId``)
cannot be rotated automatically, so the rule does not concern them. Replica keys
(``aws:kms/replicaKey``) follow their primary and imported keys (``aws:kms/externalKey``)
cannot rotate: neither type is judged.
"""

from __future__ import annotations

from typing import Any

from policies.model import (
    NOT_APPLICABLE,
    Outcome,
    Resource,
    Rule,
    RuleContext,
    Violation,
    is_unknown,
    resource_rule,
)

KEY = "aws:kms/key:Key"
SYMMETRIC_DEFAULT = "SYMMETRIC_DEFAULT"
# Key usages only asymmetric or HMAC keys have.
NON_SYMMETRIC_USAGES = frozenset({"SIGN_VERIFY", "GENERATE_VERIFY_MAC", "KEY_AGREEMENT"})


def _set(value: Any) -> bool:
    return value is not None and value != ""


def cannot_rotate(resource: Resource) -> bool:
    """Whether AWS cannot rotate the key automatically (asymmetric, HMAC, custom store)."""
    spec = resource.get("customerMasterKeySpec") or resource.get("keySpec")
    usage = resource.get("keyUsage")
    return (
        (isinstance(spec, str) and bool(spec.strip()) and spec.strip() != SYMMETRIC_DEFAULT)
        or (isinstance(usage, str) and usage.strip() in NON_SYMMETRIC_USAGES)
        or _set(resource.get("customKeyStoreId"))
        or _set(resource.get("xksKeyId"))
    )


@resource_rule(
    "kms-key-rotation",
    "Symmetric KMS keys have automatic key rotation turned on.",
    "medium",
    "Set `enableKeyRotation: true` on the aws.kms.Key (optionally `rotationPeriodInDays`, "
    "90-2560, default 365).",
)
def key_rotation(resource: Resource, ctx: RuleContext) -> Outcome:
    if resource.type != KEY or cannot_rotate(resource):
        return NOT_APPLICABLE
    spec = resource.get("customerMasterKeySpec") or resource.get("keySpec")
    if is_unknown(spec) or is_unknown(resource.get("keyUsage")):
        return []  # cannot tell whether the key can rotate
    value = resource.get("enableKeyRotation")
    if value is True or is_unknown(value):
        return []
    shown = "not set (AWS defaults to false)" if value is None else repr(value)
    return [Violation(f"{resource.label}: `enableKeyRotation` is {shown}", resource.urn)]


RULES: tuple[Rule, ...] = (key_rotation,)
