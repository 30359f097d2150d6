"""The IAM rules: no '*' on '*', no inline '*' actions, no AdministratorAccess attached."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from policies.config import DEFAULT_CONFIG
from policies.model import NOT_APPLICABLE, UNKNOWN, Resource, RuleContext
from policies.rules.iam import RULES, no_inline_admin, no_wildcard_admin

NOW = datetime(2026, 11, 27, tzinfo=UTC)
CTX = RuleContext(stack="prod-us-east-1", tier="production", config=DEFAULT_CONFIG, now=NOW)
POLICY = "aws:iam/policy:Policy"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "*"}
        ],
    }
)


def res(type_: str, name: str, **inputs: Any) -> Resource:
    return Resource(
        type=type_,
        name=name,
        urn=f"urn:pulumi:prod-us-east-1::sre-platform::{type_}::{name}",
        inputs=inputs,
    )


def doc(*statements: dict[str, Any], as_json: bool = True) -> Any:
    document = {"Version": "2012-10-17", "Statement": list(statements)}
    return json.dumps(document) if as_json else document


def messages(outcome: Any) -> list[str]:
    assert outcome is not NOT_APPLICABLE
    return [v.message for v in outcome]


ADMIN_STATEMENT = {"Sid": "Admin", "Effect": "Allow", "Action": "*", "Resource": "*"}
READ_BUCKET = {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::logs/*"}


def test_module_rules() -> None:
    assert {r.id: r.severity for r in RULES} == {
        "iam-no-wildcard-admin": "critical",
        "iam-no-inline-admin": "high",
        "iam-github-oidc-trust-pinned": "critical",  # tests: test_iam_github_oidc.py
    }


# --- iam-no-wildcard-admin ---------------------------------------------------------------


@pytest.mark.parametrize("type_", [POLICY, ROLE_POLICY, "aws:iam/userPolicy:UserPolicy"])
def test_least_privilege_policy_passes(type_: str) -> None:
    assert messages(no_wildcard_admin.check(res(type_, "p", policy=doc(READ_BUCKET)), CTX)) == []


@pytest.mark.parametrize(
    "statement",
    [
        ADMIN_STATEMENT,
        {**ADMIN_STATEMENT, "Action": "*:*"},
        {**ADMIN_STATEMENT, "Action": ["s3:GetObject", "*"], "Resource": ["*"]},
        {"Sid": "Admin", "Effect": "Allow", "NotAction": ["iam:*"], "Resource": "*"},
        {**ADMIN_STATEMENT, "Resource": None, "NotResource": "arn:aws:s3:::secret/*"},
    ],
)
def test_wildcard_admin_statement(statement: dict[str, Any]) -> None:
    statement = {k: v for k, v in statement.items() if v is not None}
    policy = res(POLICY, "ops-admin", policy=doc(READ_BUCKET, statement))
    [message] = messages(no_wildcard_admin.check(policy, CTX))
    assert "statement 1 (Sid 'Admin') of `policy`" in message
    assert "'ops-admin'" in message


def test_parsed_document_and_single_statement_object() -> None:
    parsed = res(POLICY, "p", policy=doc(ADMIN_STATEMENT, as_json=False))
    assert "Action '*' on Resource '*'" in messages(no_wildcard_admin.check(parsed, CTX))[0]
    single = res(POLICY, "p", policy=json.dumps({"Statement": ADMIN_STATEMENT}))
    assert len(messages(no_wildcard_admin.check(single, CTX))) == 1


def test_deny_and_scoped_wildcards_pass() -> None:
    deny = {**ADMIN_STATEMENT, "Effect": "Deny"}
    scoped = {"Effect": "Allow", "Action": "*", "Resource": "arn:aws:s3:::logs/*"}
    service_wide = {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}
    policy = res(POLICY, "p", policy=doc(deny, scoped, service_wide))
    assert messages(no_wildcard_admin.check(policy, CTX)) == []


def test_role_inline_policies_are_checked_but_not_the_trust_policy() -> None:
    role = res(
        ROLE,
        "app",
        assumeRolePolicy=TRUST,
        inlinePolicies=[
            {"name": "read", "policy": doc(READ_BUCKET)},
            {"name": "all", "policy": doc(ADMIN_STATEMENT)},
        ],
    )
    [message] = messages(no_wildcard_admin.check(role, CTX))
    assert "`inlinePolicies[1].policy`" in message
    assert messages(no_wildcard_admin.check(res(ROLE, "app", assumeRolePolicy=TRUST), CTX)) == []


def test_unknown_parts_are_not_judged() -> None:
    for value in (
        UNKNOWN,
        doc({**ADMIN_STATEMENT, "Action": UNKNOWN}, as_json=False),
        doc({**ADMIN_STATEMENT, "Resource": UNKNOWN}, as_json=False),
        {"Version": "2012-10-17", "Statement": UNKNOWN},
    ):
        assert messages(no_wildcard_admin.check(res(POLICY, "p", policy=value), CTX)) == []


@pytest.mark.parametrize(("value", "expected"), [("{not json", "not valid JSON"), ("[1]", "list")])
def test_unreadable_policy_fails_safe(value: str, expected: str) -> None:
    [message] = messages(no_wildcard_admin.check(res(POLICY, "p", policy=value), CTX))
    assert expected in message
    assert "cannot be checked" in message


def test_wildcard_admin_not_applicable_elsewhere() -> None:
    bucket_policy = res("aws:s3/bucketPolicy:BucketPolicy", "bp", policy=doc(ADMIN_STATEMENT))
    assert no_wildcard_admin.check(bucket_policy, CTX) is NOT_APPLICABLE
    attachment = res("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "a", policyArn=ADMIN)
    assert no_wildcard_admin.check(attachment, CTX) is NOT_APPLICABLE


# --- iam-no-inline-admin -----------------------------------------------------------------


def test_inline_star_action_on_any_resource() -> None:
    scoped = {"Sid": "AllOnLogs", "Effect": "Allow", "Action": "*", "Resource": "arn:aws:s3:::l"}
    [message] = messages(no_inline_admin.check(res(ROLE_POLICY, "rp", policy=doc(scoped)), CTX))
    assert "statement 0 (Sid 'AllOnLogs') of inline `policy` allows Action '*'" in message
    group_policy = res("aws:iam/groupPolicy:GroupPolicy", "gp", policy=doc(READ_BUCKET))
    assert messages(no_inline_admin.check(group_policy, CTX)) == []


def test_inline_rule_ignores_managed_policies() -> None:
    assert no_inline_admin.check(res(POLICY, "p", policy=doc(ADMIN_STATEMENT)), CTX) is (
        NOT_APPLICABLE
    )
    assert no_inline_admin.check(res("aws:s3/bucket:Bucket", "b"), CTX) is NOT_APPLICABLE


def test_role_inline_policies_and_managed_arns() -> None:
    role = res(
        ROLE,
        "ci",
        assumeRolePolicy=TRUST,
        inlinePolicies=[{"name": "x", "policy": doc({**READ_BUCKET, "Action": "*:*"})}],
        managedPolicyArns=["arn:aws:iam::aws:policy/ReadOnlyAccess", ADMIN],
    )
    found = messages(no_inline_admin.check(role, CTX))
    assert len(found) == 2
    assert "inline `inlinePolicies[0].policy` allows Action '*:*'" in found[0]
    assert f"`managedPolicyArns[1]` attaches {ADMIN}" in found[1]


@pytest.mark.parametrize(
    "type_",
    [
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        "aws:iam/userPolicyAttachment:UserPolicyAttachment",
        "aws:iam/groupPolicyAttachment:GroupPolicyAttachment",
        "aws:iam/policyAttachment:PolicyAttachment",
    ],
)
@pytest.mark.parametrize(
    "arn",
    [
        ADMIN,
        "arn:aws-us-gov:iam::aws:policy/AdministratorAccess",
        "arn:aws-cn:iam::aws:policy/AdministratorAccess",
    ],
)
def test_administrator_access_attachments(type_: str, arn: str) -> None:
    [message] = messages(no_inline_admin.check(res(type_, "a", policyArn=arn), CTX))
    assert f"`policyArn` attaches {arn}" in message


def test_other_attachments_pass() -> None:
    attach = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
    for arn in (
        "arn:aws:iam::aws:policy/ReadOnlyAccess",
        "arn:aws:iam::123456789012:policy/AdministratorAccess",  # a customer policy's name
        "arn:aws:iam::aws:policy/job-function/SystemAdministrator",
        UNKNOWN,
    ):
        assert messages(no_inline_admin.check(res(attach, "a", policyArn=arn), CTX)) == []


def test_exclusive_attachments_list() -> None:
    exclusive = res(
        "aws:iam/rolePolicyAttachmentsExclusive:RolePolicyAttachmentsExclusive",
        "ci-policies",
        roleName="ci",
        policyArns=[UNKNOWN, ADMIN],
    )
    [message] = messages(no_inline_admin.check(exclusive, CTX))
    assert "`policyArns[1]`" in message


def test_inline_unreadable_and_unknown() -> None:
    [message] = messages(no_inline_admin.check(res(ROLE_POLICY, "rp", policy="nope"), CTX))
    assert "cannot be checked" in message
    assert messages(no_inline_admin.check(res(ROLE_POLICY, "rp", policy=UNKNOWN), CTX)) == []
    role = res(ROLE, "r", assumeRolePolicy=TRUST, managedPolicyArns=UNKNOWN, inlinePolicies=UNKNOWN)
    assert messages(no_inline_admin.check(role, CTX)) == []
