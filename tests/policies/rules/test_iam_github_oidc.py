"""iam-github-oidc-trust-pinned: a role GitHub Actions may assume names exactly which
workflows, with StringEquals on `sub` and `aud`; every way around that is a violation."""

from __future__ import annotations

import json
from typing import Any

import pytest

from policies.model import NOT_APPLICABLE, UNKNOWN, Outcome
from policies.rules.iam import github_claim, github_oidc_trust_pinned
from tests.policies.conftest import context, resource

ROLE = "aws:iam/role:Role"
PROVIDER = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
SUB = "token.actions.githubusercontent.com:sub"
AUD = "token.actions.githubusercontent.com:aud"
DEPLOY = "repo:example-org/sre-platform:environment:production"


def statement(condition: Any = None, **overrides: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Federated": PROVIDER},
        "Action": "sts:AssumeRoleWithWebIdentity",
    }
    if condition is not None:
        entry["Condition"] = condition
    entry.update(overrides)
    return entry


def pinned(sub: Any = DEPLOY, aud: Any = "sts.amazonaws.com") -> dict[str, Any]:
    return {"StringEquals": {SUB: sub, AUD: aud}}


def check(*statements: dict[str, Any], as_json: bool = True) -> Outcome:
    document: Any = {"Version": "2012-10-17", "Statement": list(statements)}
    role = resource(ROLE, "ci", {"assumeRolePolicy": json.dumps(document) if as_json else document})
    return github_oidc_trust_pinned.check(role, context())


def messages(outcome: Outcome) -> list[str]:
    assert outcome is not NOT_APPLICABLE
    return [violation.message for violation in outcome]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "sub",
    [
        DEPLOY,
        "repo:example-org/sre-platform:ref:refs/heads/main",
        "repo:example-org/sre-platform:ref:refs/heads/release/2026.11",
        "repo:example-org/sre-platform:pull_request",
        [DEPLOY, "repo:example-org/sre-platform:environment:staging"],
    ],
)
def test_exact_subjects_pass(sub: Any) -> None:
    assert messages(check(statement(pinned(sub)))) == []


def test_a_parsed_document_and_a_single_statement_object_are_read_too() -> None:
    assert messages(check(statement(pinned()), as_json=False)) == []
    single = {"Statement": statement({"StringLike": {SUB: "repo:example-org/*"}})}
    role = resource(ROLE, "ci", {"assumeRolePolicy": json.dumps(single)})
    found = messages(github_oidc_trust_pinned.check(role, context()))
    assert ["'StringLike'" in found[0], "not pin `" + SUB in found[1], AUD in found[2]] == [
        True,
        True,
        True,
    ]


def test_string_like_with_an_owner_wildcard_fails() -> None:
    found = messages(
        check(
            statement(
                {
                    "StringLike": {SUB: "repo:example-org/*"},
                    "StringEquals": {AUD: "sts.amazonaws.com"},
                }
            )
        )
    )
    assert f"tests `{SUB}` with 'StringLike'" in found[0]
    assert f"does not pin `{SUB}` with StringEquals" in found[1]
    assert len(found) == 2 and all("'ci'" in m and "statement 0" in m for m in found)


def test_string_like_beside_a_pinned_sub_still_fails() -> None:
    condition = {**pinned(), "StringLike": {SUB: "repo:example-org/*"}}
    [message] = messages(check(statement(condition)))
    assert "'StringLike'" in message


@pytest.mark.parametrize(
    ("sub", "shown"),
    [
        ("Repo:example-org/sre-platform:environment:production", "'Repo:"),
        ("repo:example-org/sre-platform:Environment:production", ":Environment:"),
        ("repo:example-org/*", "'repo:example-org/*'"),
        ("repo:example-org/sre-platform:environment:prod?", "prod?"),
        ("repo:example-org/sre-platform:*", ":*'"),
        ("${token.actions.githubusercontent.com:sub}", "${"),
        ("repo:example-org/sre-platform", "'repo:example-org/sre-platform'"),
        ("repo:example-org/sre-platform:environment:production\n", "production\\n"),
        ("", "''"),
    ],
)
def test_inexact_subjects_fail(sub: str, shown: str) -> None:
    [message] = messages(check(statement(pinned(sub))))
    assert f"pins `{SUB}` to" in message and shown in message


def test_a_sub_list_with_one_wildcard_entry_fails() -> None:
    [message] = messages(check(statement(pinned([DEPLOY, "repo:example-org/*"]))))
    assert "'repo:example-org/*'" in message and DEPLOY not in message


def test_an_empty_sub_list_or_a_non_string_fails() -> None:
    assert "to no value" in messages(check(statement(pinned([]))))[0]
    assert "pins" in messages(check(statement(pinned(7))))[0]


def test_a_second_statement_without_conditions_fails() -> None:
    found = messages(check(statement(pinned()), statement(Sid="Anyone")))
    assert found == [
        "aws:iam/role:Role 'ci': `assumeRolePolicy` statement 1 (Sid 'Anyone') trusts "
        "GitHub's OIDC provider without a Condition: any workflow of any repository on "
        "GitHub could assume the role"
    ]


@pytest.mark.parametrize(
    "operator",
    [
        "ForAnyValue:StringLike",
        "ForAnyValue:StringEquals",
        "ForAllValues:StringEquals",
        "StringEqualsIfExists",
        "StringEqualsIgnoreCase",
        "StringNotEquals",
        "stringequals",
    ],
)
def test_other_operators_on_github_claims_fail(operator: str) -> None:
    condition = {operator: {SUB: DEPLOY}, "StringEquals": {AUD: "sts.amazonaws.com"}}
    found = messages(check(statement(condition)))
    assert f"with {operator!r}" in found[0]
    assert "does not pin" in found[1]


@pytest.mark.parametrize(
    "key",
    [
        "TOKEN.actions.githubusercontent.com:sub",
        "token.actions.githubusercontent.com:SUB",
        "Token.Actions.GitHubUserContent.com:Sub",
    ],
)
def test_a_condition_key_in_another_case_is_the_same_key(key: str) -> None:
    """IAM compares condition keys case-insensitively: a wildcard hides behind no case."""
    widened = {"StringEquals": {SUB: DEPLOY, AUD: "sts.amazonaws.com"}, "StringLike": {key: "*"}}
    [message] = messages(check(statement(widened)))
    assert f"tests `{key}` with 'StringLike'" in message
    # ...and an exact pin under another case of the key counts as a pin.
    assert (
        messages(check(statement({"StringEquals": {key: DEPLOY, AUD: "sts.amazonaws.com"}}))) == []
    )


def test_aud_must_be_pinned_too() -> None:
    [message] = messages(check(statement({"StringEquals": {SUB: DEPLOY}})))
    assert f"does not pin `{AUD}` with StringEquals" in message
    [wild] = messages(check(statement(pinned(aud="sts.*"))))
    assert f"pins `{AUD}` to 'sts.*'" in wild


def test_a_claim_test_under_any_principal_is_about_github() -> None:
    """``Principal: *`` (or another provider's ARN) with GitHub claims is still judged."""
    anyone = statement({"StringLike": {SUB: "repo:example-org/*"}}, Principal="*")
    assert len(messages(check(anyone))) == 3  # StringLike; sub and aud not pinned
    spelled = statement(pinned(), Principal={"Federated": PROVIDER.upper()})
    assert messages(check(spelled)) == []
    listed = statement(Principal={"Federated": ["cognito-identity.amazonaws.com", PROVIDER]})
    assert "without a Condition" in messages(check(listed))[0]


def test_deny_statements_and_other_principals_are_not_its_business() -> None:
    ec2 = statement(Principal={"Service": "ec2.amazonaws.com"}, Action="sts:AssumeRole")
    assert check(ec2) is NOT_APPLICABLE
    deny = statement(Effect="Deny")
    assert check(deny) is NOT_APPLICABLE
    irsa = statement(
        {
            "StringEquals": {
                "oidc.eks.us-east-1.amazonaws.com/id/X:sub": "system:serviceaccount:a:b"
            }
        },
        Principal={
            "Federated": "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/X"
        },
    )
    assert check(irsa) is NOT_APPLICABLE
    assert github_oidc_trust_pinned.check(resource("aws:s3/bucket:Bucket", "b"), context()) is (
        NOT_APPLICABLE
    )


def test_unknowns_are_not_judged_and_unreadable_trust_fails_safe() -> None:
    assert (
        messages(
            github_oidc_trust_pinned.check(
                resource(ROLE, "r", {"assumeRolePolicy": UNKNOWN}), context()
            )
        )
        == []
    )
    assert messages(check(statement(UNKNOWN), as_json=False)) == []
    assert messages(check(statement(pinned(sub=UNKNOWN)), as_json=False)) == []
    bad = resource(ROLE, "r", {"assumeRolePolicy": "{not json"})
    [message] = messages(github_oidc_trust_pinned.check(bad, context()))
    assert "not valid JSON" in message and "cannot be checked" in message


def test_github_claim_reads_enterprise_issuers_and_nothing_else() -> None:
    assert github_claim("token.actions.githubusercontent.com/acme:sub") == "sub"
    assert github_claim("TOKEN.ACTIONS.GITHUBUSERCONTENT.COM:AUD") == "aud"
    assert github_claim("token.actions.githubusercontent.com.evil.example:sub") is None
    assert github_claim("aws:PrincipalTag/sub") is None
    assert github_claim(3) is None
