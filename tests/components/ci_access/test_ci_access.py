"""CiAccess under Pulumi mocks: exact GitHub trust, a read-only previewer, a deployer
without wildcards, validation before anything is declared, and the pack's verdict."""

from __future__ import annotations

import functools
import json
from dataclasses import replace
from typing import Any

import pytest

from components.ci_access import TYPE_TOKEN, CiAccess, CiAccessArgs, CiAccessError
from policies.evaluate import evaluate, load_settings
from policies.rules.iam import github_oidc_trust_pinned
from stacks.mock_engine import DeclaredResource, MockRun, run_under_mocks
from tests.conftest import NOW, REPO_ROOT

NAME = "ci-prod"
ACCOUNT = "123456789012"
REPOSITORY = "example-org/sre-platform"
# Pull requests, and the scheduled drift check on main (outside any GitHub environment).
PREVIEWER_SUBJECTS = [f"repo:{REPOSITORY}:pull_request", f"repo:{REPOSITORY}:ref:refs/heads/main"]
PROVIDER_ARN = f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"
SUB = "token.actions.githubusercontent.com:sub"
AUD = "token.actions.githubusercontent.com:aud"
ROLE = "aws:iam/role:Role"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
OIDC_PROVIDER = "aws:iam/openIdConnectProvider:OpenIdConnectProvider"
DATA_BUCKETS = ("arn:aws:s3:::cloud-prod-prometheus-metrics", "arn:aws:s3:::cloud-prod-loki-logs")
SHIPPED = load_settings(REPO_ROOT / "policies").config


def make_args(**overrides: Any) -> CiAccessArgs:
    base = CiAccessArgs(
        environment="prod",
        account_id=ACCOUNT,
        region="us-east-1",
        repository=REPOSITORY,
        deploy_environment="production",
        data_bucket_arns=DATA_BUCKETS,
    )
    return replace(base, **overrides)


def run(stack: str = "prod", **overrides: Any) -> MockRun:
    def program() -> None:
        CiAccess(NAME, make_args(**overrides))

    return run_under_mocks(program, project="sre-platform", stack=stack)


@functools.cache
def prod() -> MockRun:
    return run()


def role(mock: MockRun, kind: str) -> DeclaredResource:
    return mock.one(ROLE, f"{NAME}-{kind}")


def trust(resource: DeclaredResource) -> dict[str, Any]:
    return json.loads(resource.inputs["assumeRolePolicy"])  # type: ignore[no-any-return]


def expected_trust(subject: str | list[str], provider_arn: str = PROVIDER_ARN) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "GitHubActions",
                "Effect": "Allow",
                "Principal": {"Federated": provider_arn},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {"StringEquals": {SUB: subject, AUD: "sts.amazonaws.com"}},
            }
        ],
    }


def attached(mock: MockRun, role_name: str) -> list[str]:
    return sorted(
        r.inputs["policyArn"] for r in mock.of_type(ATTACHMENT) if r.inputs["role"] == role_name
    )


def inline(mock: MockRun, role_name: str) -> list[dict[str, Any]]:
    return [
        json.loads(r.inputs["policy"])
        for r in mock.of_type(ROLE_POLICY)
        if r.inputs["role"] == role_name
    ]


def test_the_github_oidc_provider_needs_no_thumbprint() -> None:
    provider = prod().one(OIDC_PROVIDER, f"{NAME}-github-oidc")
    assert provider.inputs["url"] == "https://token.actions.githubusercontent.com"
    assert provider.inputs["clientIdLists"] == ["sts.amazonaws.com"]
    assert "thumbprintLists" not in provider.inputs
    assert provider.inputs["tags"]["managed-by"] == "sre-platform"


def test_the_previewer_trusts_only_this_repositorys_pull_requests() -> None:
    previewer = role(prod(), "previewer")
    assert trust(previewer) == expected_trust(PREVIEWER_SUBJECTS)
    assert previewer.inputs["name"] == "sre-platform-prod-previewer"
    assert previewer.inputs["maxSessionDuration"] == 3600


def test_the_prod_deployer_trusts_only_the_production_environment() -> None:
    deployer = role(prod(), "deployer")
    assert trust(deployer) == expected_trust(f"repo:{REPOSITORY}:environment:production")
    assert deployer.inputs["name"] == "sre-platform-prod-deployer"


def test_no_trust_policy_has_a_pattern_or_wildcard() -> None:
    for resource in prod().of_type(ROLE):
        text = resource.inputs["assumeRolePolicy"]
        assert "StringLike" not in text and "*" not in text and "?" not in text
        assert "IfExists" not in text and "ForAnyValue" not in text and "ForAllValues" not in text
    # Only two roles exist, and neither trusts a person or an account: no laptop role.
    principals = [s["Principal"] for r in prod().of_type(ROLE) for s in trust(r)["Statement"]]
    assert principals == [{"Federated": PROVIDER_ARN}] * 2


def test_the_previewer_has_read_only_access_and_no_data_reads() -> None:
    mock = prod()
    assert attached(mock, "sre-platform-prod-previewer") == [
        "arn:aws:iam::aws:policy/ReadOnlyAccess"
    ]
    [deny] = inline(mock, "sre-platform-prod-previewer")
    [statement] = deny["Statement"]
    assert statement["Effect"] == "Deny"
    assert statement["Action"] == ["s3:GetObject", "s3:GetObjectVersion"]
    assert statement["Resource"] == sorted(f"{arn}/*" for arn in DATA_BUCKETS)


def test_the_previewer_allows_nothing_inline_without_change_storage() -> None:
    """Without a ledger table or evidence bucket the previewer is ReadOnlyAccess alone:
    every inline statement denies."""
    statements = [
        s for doc in inline(prod(), "sre-platform-prod-previewer") for s in doc["Statement"]
    ]
    assert statements and all(s["Effect"] == "Deny" for s in statements)
    assert inline(run(data_bucket_arns=()), "sre-platform-prod-previewer") == []


def test_the_previewer_writes_exactly_the_ledger_table_and_puts_evidence() -> None:
    mock = run(ledger_table_name="sre-ledger", evidence_bucket_name="acme-evidence")
    allowed = [
        s
        for doc in inline(mock, "sre-platform-prod-previewer")
        for s in doc["Statement"]
        if s["Effect"] == "Allow"
    ]
    assert allowed == [
        {
            "Sid": "ChangeLedger",
            "Effect": "Allow",
            "Action": [
                "dynamodb:ConditionCheckItem",
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:Query",
                "dynamodb:UpdateItem",
            ],
            "Resource": [f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/sre-ledger"],
        },
        {
            "Sid": "EvidenceArchive",
            "Effect": "Allow",
            "Action": ["s3:PutObject"],
            "Resource": ["arn:aws:s3:::acme-evidence/*"],
        },
    ]
    key = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    keyed = run(ledger_table_name="sre-ledger", change_storage_kms_key_arn=key)
    statements = [
        s for doc in inline(keyed, "sre-platform-prod-previewer") for s in doc["Statement"]
    ]
    assert {
        "Sid": "ChangeStorageKey",
        "Effect": "Allow",
        "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
        "Resource": [key],
    } in statements


def test_the_deployer_has_power_user_and_scoped_iam_without_wildcard_actions() -> None:
    mock = prod()
    assert attached(mock, "sre-platform-prod-deployer") == [
        "arn:aws:iam::aws:policy/PowerUserAccess"
    ]
    [policy] = inline(mock, "sre-platform-prod-deployer")
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow"
        assert all(a.startswith("iam:") and "*" not in a for a in statement["Action"])
        assert all(r.startswith(f"arn:aws:iam::{ACCOUNT}:") for r in statement["Resource"])
    resources = {s["Sid"]: s["Resource"] for s in policy["Statement"]}
    assert resources == {
        "ManageRoles": [f"arn:aws:iam::{ACCOUNT}:role/*"],
        "ManageGitHubOidcProvider": [PROVIDER_ARN],
    }
    actions = {a for s in policy["Statement"] for a in s["Action"]}
    assert not actions & {"iam:CreateUser", "iam:CreateAccessKey", "iam:CreateLoginProfile"}


def test_a_staging_deployer_trusts_its_own_environment() -> None:
    mock = run("staging", environment="staging", deploy_environment="staging")
    deployer = mock.one(ROLE, f"{NAME}-deployer")
    assert trust(deployer) == expected_trust(f"repo:{REPOSITORY}:environment:staging")
    assert deployer.inputs["name"] == "sre-platform-staging-deployer"


def test_an_existing_provider_is_trusted_but_not_declared() -> None:
    mock = run(create_oidc_provider=False)
    assert mock.of_type(OIDC_PROVIDER) == []
    assert trust(role(mock, "deployer"))["Statement"][0]["Principal"] == {"Federated": PROVIDER_ARN}


def test_the_partition_follows_the_region() -> None:
    mock = run(region="cn-north-1")
    arn = f"arn:aws-cn:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"
    assert trust(role(mock, "previewer")) == expected_trust(PREVIEWER_SUBJECTS, arn)
    assert attached(mock, "sre-platform-prod-previewer") == [
        "arn:aws-cn:iam::aws:policy/ReadOnlyAccess"
    ]


def test_every_child_is_parented_named_after_the_component_and_waits_for_the_provider() -> None:
    mock = prod()
    (component,) = mock.of_type(TYPE_TOKEN)
    children = [r for r in mock.resources if r.type != TYPE_TOKEN]
    assert len(children) == 7  # provider, 2 roles, 2 attachments, 2 inline policies
    assert all(r.parent == component.urn and r.name.startswith(f"{NAME}-") for r in children)
    provider = mock.one(OIDC_PROVIDER)
    for resource in mock.of_type(ROLE):
        assert provider.urn in resource.dependencies


def test_outputs_are_the_provider_and_role_arns() -> None:
    mock_outputs: dict[str, Any] = {}

    def program() -> None:
        import pulumi

        access = CiAccess(NAME, make_args())
        pulumi.export("provider", access.oidc_provider_arn)
        pulumi.export("previewer", access.previewer_role_arn)
        pulumi.export("deployer", access.deployer_role_arn)

    mock_outputs = run_under_mocks(program, project="sre-platform", stack="prod").exports
    assert mock_outputs["provider"] == PROVIDER_ARN
    assert mock_outputs["previewer"].endswith(f"{NAME}-previewer")
    assert mock_outputs["deployer"].endswith(f"{NAME}-deployer")


def test_the_shipped_pack_passes_and_the_github_rule_judges_both_roles() -> None:
    mock = prod()
    report = evaluate(mock.resources, stack="prod", config=SHIPPED, now=NOW)
    assert report.passed and not report.findings, [f.message for f in report.findings]
    assert "iam-github-oidc-trust-pinned" in report.applicable
    only = evaluate(
        mock.resources, stack="prod", config=SHIPPED, now=NOW, rules=[github_oidc_trust_pinned]
    )
    assert not only.findings and only.applicable == {"iam-github-oidc-trust-pinned"}


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"repository": "example-org/*"}, "repository"),
        ({"repository": "*/sre-platform"}, "repository"),
        ({"repository": "example-org"}, "repository"),
        ({"repository": "example-org/sre-platform:environment:production"}, "repository"),
        ({"repository": "-org/repo"}, "repository"),
        ({"deploy_environment": "prod*"}, "deploy_environment"),
        ({"deploy_environment": "prod?"}, "deploy_environment"),
        ({"deploy_environment": "${aws:username}"}, "deploy_environment"),
        ({"deploy_environment": ""}, "deploy_environment"),
        ({"environment": "Prod"}, "environment"),
        ({"account_id": "12345"}, "account_id"),
        ({"region": "mars"}, "region"),
        ({"data_bucket_arns": ("arn:aws:s3:::*",)}, "data_bucket_arns"),
        ({"deployer_managed_policies": ("AdministratorAccess",)}, "deployer_managed_policies"),
        ({"deployer_managed_policies": ()}, "deployer_managed_policies"),
        ({"deployer_managed_policies": ("Power User",)}, "deployer_managed_policies"),
        ({"max_session_seconds": 43201}, "max_session_seconds"),
        ({"max_session_seconds": 899}, "max_session_seconds"),
        ({"ledger_table_name": "*"}, "ledger_table_name"),
        ({"ledger_table_name": "ok/../x"}, "ledger_table_name"),
        ({"evidence_bucket_name": "Acme_Evidence"}, "evidence_bucket_name"),
        ({"evidence_bucket_name": "acme-*"}, "evidence_bucket_name"),
        (
            {"change_storage_kms_key_arn": "arn:aws:kms:us-east-1:123456789012:key/*"},
            "change_storage_kms_key_arn",
        ),
    ],
)
def test_bad_inputs_are_refused_before_anything_is_declared(
    overrides: dict[str, Any], field: str
) -> None:
    with pytest.raises(CiAccessError) as caught:
        run(**overrides)
    assert caught.value.field == field
    assert str(caught.value).startswith(f"invalid {field} ")
