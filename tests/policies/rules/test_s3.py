"""The S3 rules: public access blocks, ACLs, bucket policies, encryption, versioning."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from policies.config import DEFAULT_CONFIG
from policies.model import NOT_APPLICABLE, UNKNOWN, Resource, RuleContext, Tier
from policies.rules.s3 import (
    RULES,
    bucket_encrypted,
    bucket_public_access_blocked,
    bucket_versioned,
    no_public_acl,
    no_public_policy,
    public_access_block,
)

NOW = datetime(2026, 11, 27, tzinfo=UTC)
BUCKET = "aws:s3/bucket:Bucket"
PAB = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
ACL = "aws:s3/bucketAcl:BucketAcl"
POLICY = "aws:s3/bucketPolicy:BucketPolicy"
ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
BLOCK_ALL = {
    "blockPublicAcls": True,
    "blockPublicPolicy": True,
    "ignorePublicAcls": True,
    "restrictPublicBuckets": True,
}


def ctx(tier: Tier = "production") -> RuleContext:
    return RuleContext(stack="prod", tier=tier, config=DEFAULT_CONFIG, now=NOW)


def urn(type_: str, name: str) -> str:
    return f"urn:pulumi:prod::sre-platform::{type_}::{name}"


def res(
    type_: str, name: str, inputs: dict[str, Any], deps: dict[str, tuple[str, ...]] | None = None
) -> Resource:
    return Resource(
        type=type_,
        name=name,
        urn=urn(type_, name),
        inputs=inputs,
        property_dependencies=deps or {},
    )


def bucket(name: str = "audit", **inputs: Any) -> Resource:
    return res(BUCKET, name, inputs)


def side(type_: str, name: str, of: Resource, **inputs: Any) -> Resource:
    """A side resource tied to ``of`` the way the engine ties ``bucket=of.id``."""
    return res(type_, name, {"bucket": UNKNOWN, **inputs}, {"bucket": (of.urn,)})


def messages(outcome: Any) -> list[str]:
    assert outcome is not NOT_APPLICABLE
    return [v.message for v in outcome]


def test_module_rules() -> None:
    assert {r.id: (r.severity, r.scope) for r in RULES} == {
        "s3-public-access-block": ("high", "resource"),
        "s3-no-public-acl": ("critical", "resource"),
        "s3-no-public-policy": ("critical", "resource"),
        "s3-bucket-public-access-blocked": ("high", "stack"),
        "s3-bucket-encrypted": ("medium", "stack"),
        "s3-bucket-versioned": ("medium", "stack"),
    }
    assert "SSE-S3" in bucket_encrypted.description


# --- s3-public-access-block --------------------------------------------------------------


def test_public_access_block_all_true_passes() -> None:
    block = res(PAB, "audit-pab", {"bucket": "audit", **BLOCK_ALL})
    assert messages(public_access_block.check(block, ctx())) == []


def test_public_access_block_flags_off_or_missing_are_named() -> None:
    inputs = {"bucket": "audit", **BLOCK_ALL, "blockPublicPolicy": False}
    del inputs["restrictPublicBuckets"]
    found = messages(public_access_block.check(res(PAB, "audit-pab", inputs), ctx()))
    assert len(found) == 2
    assert "`blockPublicPolicy` is False" in found[0]
    assert "`restrictPublicBuckets` is None" in found[1]


def test_public_access_block_unknown_flag_is_not_judged() -> None:
    inputs = {"bucket": "audit", **BLOCK_ALL, "ignorePublicAcls": UNKNOWN}
    assert messages(public_access_block.check(res(PAB, "audit-pab", inputs), ctx())) == []


def test_account_public_access_block_is_judged_too() -> None:
    account = res("aws:s3/accountPublicAccessBlock:AccountPublicAccessBlock", "acct", {})
    assert len(messages(public_access_block.check(account, ctx()))) == 4


def test_public_access_block_not_applicable_elsewhere() -> None:
    assert public_access_block.check(bucket(), ctx()) is NOT_APPLICABLE


# --- s3-no-public-acl --------------------------------------------------------------------


@pytest.mark.parametrize("acl", ["public-read", "public-read-write", "authenticated-read"])
def test_public_canned_acl_on_bucket_and_bucket_acl(acl: str) -> None:
    [on_bucket] = messages(no_public_acl.check(bucket(acl=acl), ctx()))
    assert f"`acl` is public ({acl!r})" in on_bucket
    [on_acl] = messages(no_public_acl.check(res(ACL, "audit-acl", {"acl": acl}), ctx()))
    assert acl in on_acl


@pytest.mark.parametrize("acl", ["private", "log-delivery-write", "bucket-owner-full-control"])
def test_private_acls_pass(acl: str) -> None:
    assert messages(no_public_acl.check(res(ACL, "audit-acl", {"acl": acl}), ctx())) == []


def test_grants_to_everyone_are_found() -> None:
    acl = res(
        "aws:s3/bucketAclV2:BucketAclV2",
        "audit-acl",
        {
            "bucket": "audit",
            "accessControlPolicy": {
                "owner": {"id": "abc"},
                "grants": [
                    {"grantee": {"type": "CanonicalUser", "id": "abc"}, "permission": "FULL"},
                    {"grantee": {"type": "Group", "uri": ALL_USERS}, "permission": "READ"},
                ],
            },
        },
    )
    [message] = messages(no_public_acl.check(acl, ctx()))
    assert "accessControlPolicy.grants[1].grantee.uri" in message
    assert ALL_USERS in message
    legacy = bucket(
        grants=[
            {
                "type": "Group",
                "uri": "http://acs.amazonaws.com/groups/global/AuthenticatedUsers",
                "permissions": ["READ"],
            }
        ]
    )
    [message] = messages(no_public_acl.check(legacy, ctx()))
    assert "grants[0].uri" in message


def test_acl_unknown_is_not_judged() -> None:
    assert messages(no_public_acl.check(res(ACL, "a", {"acl": UNKNOWN}), ctx())) == []


def test_no_public_acl_not_applicable_elsewhere() -> None:
    assert no_public_acl.check(res(PAB, "p", BLOCK_ALL), ctx()) is NOT_APPLICABLE


# --- s3-no-public-policy -----------------------------------------------------------------


def policy_doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


READ = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::audit/*"}


@pytest.mark.parametrize("principal", ["*", {"AWS": "*"}, {"AWS": ["arn:aws:iam::1:root", "*"]}])
def test_public_principal_without_condition(principal: Any) -> None:
    document = json.dumps(policy_doc({**READ, "Sid": "Public", "Principal": principal}))
    [message] = messages(no_public_policy.check(res(POLICY, "p", {"policy": document}), ctx()))
    assert "statement 0 (Sid 'Public')" in message
    assert repr(principal) in message


def test_public_principal_with_condition_passes() -> None:
    statement = {
        **READ,
        "Principal": "*",
        "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abc"}},
    }
    document = policy_doc(statement)  # an already-parsed object
    assert messages(no_public_policy.check(res(POLICY, "p", {"policy": document}), ctx())) == []


def test_named_principal_and_deny_pass() -> None:
    document = json.dumps(
        {
            "Statement": [
                {**READ, "Principal": {"AWS": "arn:aws:iam::123456789012:role/app"}},
                {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*"},
            ]
        }
    )
    assert messages(no_public_policy.check(res(POLICY, "p", {"policy": document}), ctx())) == []


def test_single_statement_object_and_inline_bucket_policy() -> None:
    document = json.dumps({"Statement": {**READ, "Principal": {"AWS": "*"}}})
    [message] = messages(no_public_policy.check(bucket(policy=document), ctx()))
    assert "`policy` statement 0 allows Principal" in message


def test_not_principal_allow_is_public() -> None:
    statement = {**READ, "NotPrincipal": {"AWS": "arn:aws:iam::1:root"}}
    [message] = messages(
        no_public_policy.check(res(POLICY, "p", {"policy": policy_doc(statement)}), ctx())
    )
    assert "NotPrincipal" in message


def test_unparseable_policy_fails_safe_but_unknown_is_skipped() -> None:
    [message] = messages(no_public_policy.check(res(POLICY, "p", {"policy": "{nope"}), ctx()))
    assert "not valid JSON" in message
    assert "cannot be checked" in message
    assert messages(no_public_policy.check(res(POLICY, "p", {"policy": UNKNOWN}), ctx())) == []
    unknown_principal = policy_doc({**READ, "Principal": UNKNOWN})
    assert (
        messages(no_public_policy.check(res(POLICY, "p", {"policy": unknown_principal}), ctx()))
        == []
    )


def test_no_public_policy_not_applicable_elsewhere() -> None:
    iam = res("aws:iam/policy:Policy", "p", {"policy": policy_doc({**READ, "Principal": "*"})})
    assert no_public_policy.check(iam, ctx()) is NOT_APPLICABLE


# --- stack rules ------------------------------------------------------------------------


def test_stack_rules_not_applicable_without_buckets() -> None:
    others = [res(PAB, "p", BLOCK_ALL), res("aws:kms/key:Key", "k", {})]
    for rule in (bucket_public_access_blocked, bucket_encrypted, bucket_versioned):
        assert rule.check(others, ctx()) is NOT_APPLICABLE


def test_bucket_with_compliant_block_passes() -> None:
    audit = bucket()
    stack = [audit, side(PAB, "audit-pab", audit, **BLOCK_ALL)]
    assert messages(bucket_public_access_blocked.check(stack, ctx())) == []


def test_bucket_without_block_is_reported_on_the_bucket() -> None:
    audit, other = bucket("audit"), bucket("other")
    stack = [audit, other, side(PAB, "other-pab", other, **BLOCK_ALL)]
    found = bucket_public_access_blocked.check(stack, ctx())
    assert not isinstance(found, type(NOT_APPLICABLE))
    [violation] = found
    assert violation.urn == audit.urn
    assert "'audit' has no BucketPublicAccessBlock" in violation.message


def test_bucket_with_partial_block_names_the_flags() -> None:
    audit = bucket()
    stack = [audit, side(PAB, "audit-pab", audit, **{**BLOCK_ALL, "ignorePublicAcls": False})]
    [message] = messages(bucket_public_access_blocked.check(stack, ctx()))
    assert "'audit-pab' leaves `ignorePublicAcls` not true" in message


def test_side_resource_tied_by_literal_bucket_name() -> None:
    audit = bucket(bucket="cloud-prod-audit")
    block = res(PAB, "audit-pab", {"bucket": "cloud-prod-audit", **BLOCK_ALL})
    assert messages(bucket_public_access_blocked.check([audit, block], ctx())) == []
    elsewhere = res(PAB, "audit-pab", {"bucket": "cloud-prod-other", **BLOCK_ALL})
    assert len(messages(bucket_public_access_blocked.check([audit, elsewhere], ctx()))) == 1


def test_unattributable_side_resource_means_not_judged() -> None:
    block = res(PAB, "mystery-pab", {"bucket": UNKNOWN, **BLOCK_ALL})
    assert messages(bucket_public_access_blocked.check([bucket(), block], ctx())) == []


def test_compliant_account_block_covers_every_bucket() -> None:
    account = res("aws:s3/accountPublicAccessBlock:AccountPublicAccessBlock", "acct", BLOCK_ALL)
    assert messages(bucket_public_access_blocked.check([bucket(), account], ctx())) == []
    weak = res("aws:s3/accountPublicAccessBlock:AccountPublicAccessBlock", "acct", {})
    assert len(messages(bucket_public_access_blocked.check([bucket(), weak], ctx()))) == 1


SSE_RULES = [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms"}}]


def test_encryption_configuration_required() -> None:
    audit = bucket()
    [message] = messages(bucket_encrypted.check([audit], ctx("development")))
    assert "no BucketServerSideEncryptionConfiguration" in message
    with_config = [audit, side(SSE, "audit-sse", audit, rules=SSE_RULES)]
    assert messages(bucket_encrypted.check(with_config, ctx("development"))) == []
    legacy_v2 = [
        audit,
        side(SSE.replace("Configuration", "ConfigurationV2"), "audit-sse", audit, rules=SSE_RULES),
    ]
    assert messages(bucket_encrypted.check(legacy_v2, ctx())) == []


def test_inline_encryption_counts() -> None:
    inline = bucket(serverSideEncryptionConfiguration={"rule": SSE_RULES[0]})
    assert messages(bucket_encrypted.check([inline], ctx())) == []
    unknown = bucket(serverSideEncryptionConfiguration=UNKNOWN)
    assert messages(bucket_encrypted.check([unknown], ctx())) == []


def test_versioning_only_in_production() -> None:
    audit = bucket()
    assert bucket_versioned.check([audit], ctx("staging")) is NOT_APPLICABLE
    assert bucket_versioned.check([audit], ctx("test")) is NOT_APPLICABLE
    [message] = messages(bucket_versioned.check([audit], ctx("production")))
    assert "no BucketVersioning" in message


@pytest.mark.parametrize(
    ("status", "ok"), [("Enabled", True), (UNKNOWN, True), ("Suspended", False)]
)
def test_versioning_status(status: Any, ok: bool) -> None:
    audit = bucket()
    stack = [audit, side(VERSIONING, "audit-v", audit, versioningConfiguration={"status": status})]
    found = messages(bucket_versioned.check(stack, ctx()))
    if ok:
        assert found == []
    else:
        [message] = found
        assert "`versioningConfiguration.status` 'Suspended'" in message


def test_inline_versioning_counts() -> None:
    assert messages(bucket_versioned.check([bucket(versioning={"enabled": True})], ctx())) == []
    assert (
        len(messages(bucket_versioned.check([bucket(versioning={"enabled": False})], ctx()))) == 1
    )
    legacy = res("aws:s3/bucketV2:BucketV2", "old", {"versionings": [{"enabled": True}]})
    assert messages(bucket_versioned.check([legacy], ctx())) == []
