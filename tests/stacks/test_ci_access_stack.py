"""CI access of the platform stacks dev, staging and prod, run under mocks from their
stack files: who GitHub lets in, what the previewer may do, and the config that sets it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from change_mgmt.environments.render import (
    RENDER_SECRET_PLACEHOLDERS,
    check_declared,
    project_config,
    with_secret_keys,
)
from components.ci_access.documents import LEDGER_ACTIONS
from policies.config import PACK_DIR
from policies.evaluate import as_resource, evaluate, load_settings
from policies.model import NOT_APPLICABLE, RuleContext
from policies.rules.iam import github_oidc_trust_pinned
from stacks.mock_engine import DeclaredResource, MockRun, run_under_mocks
from stacks.platform_config import StackConfigError
from stacks.platform_stack_config import PLATFORM_STACKS
from stacks.program import run_stack
from tests.conftest import NOW, REPO_ROOT

SECRETS = list(RENDER_SECRET_PLACEHOLDERS)
REPOSITORY = "example-org/sre-platform"  # Pulumi.yaml's [placeholder] githubRepository
# Pull requests, and the scheduled drift check on main (outside any GitHub environment).
PREVIEWER_SUBJECTS = [f"repo:{REPOSITORY}:pull_request", f"repo:{REPOSITORY}:ref:refs/heads/main"]
PROVIDER_ARN = "arn:aws:iam::000000000000:oidc-provider/token.actions.githubusercontent.com"
SUB = "token.actions.githubusercontent.com:sub"
AUD = "token.actions.githubusercontent.com:aud"
ROLE = "aws:iam/role:Role"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
DEPLOY_ENVIRONMENT = {"dev": "dev", "staging": "staging", "prod": "production"}
READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"


def _config(stack: str, **overrides: Any) -> dict[str, str]:
    config = project_config(REPO_ROOT, stack)
    for key, value in overrides.items():
        full = f"sre-platform:{key}"
        if value is None:
            config.pop(full, None)
        else:
            config[full] = value if isinstance(value, str) else json.dumps(value)
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


def _role(run: MockRun, kind: str) -> DeclaredResource:
    return run.one(ROLE, f"ci-{run.stack}-{kind}")


def _statement(role: DeclaredResource) -> dict[str, Any]:
    (statement,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    return statement  # type: ignore[no-any-return]


def test_the_stack_files_name_their_github_environment() -> None:
    for stack, environment in DEPLOY_ENVIRONMENT.items():
        assert _config(stack)["sre-platform:githubDeployEnvironment"] == environment


def test_the_deployer_trusts_exactly_its_github_environment(rendered: MockRun) -> None:
    statement = _statement(_role(rendered, "deployer"))
    subject = f"repo:{REPOSITORY}:environment:{DEPLOY_ENVIRONMENT[rendered.stack]}"
    assert statement == {
        "Sid": "GitHubActions",
        "Effect": "Allow",
        "Principal": {"Federated": PROVIDER_ARN},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {SUB: subject, AUD: "sts.amazonaws.com"}},
    }


def test_only_the_production_environment_can_assume_the_prod_deployer() -> None:
    condition = _statement(_role(_run("prod"), "deployer"))["Condition"]
    assert list(condition) == ["StringEquals"]
    assert condition["StringEquals"][SUB] == f"repo:{REPOSITORY}:environment:production"


def test_the_previewer_trusts_pull_requests_and_only_reads(rendered: MockRun) -> None:
    previewer = _role(rendered, "previewer")
    statement = _statement(previewer)
    assert statement["Condition"] == {
        "StringEquals": {SUB: PREVIEWER_SUBJECTS, AUD: "sts.amazonaws.com"}
    }
    name = previewer.inputs["name"]
    managed = [
        r.inputs["policyArn"] for r in rendered.of_type(ATTACHMENT) if r.inputs["role"] == name
    ]
    assert managed == [READ_ONLY]
    inline = [
        s
        for r in rendered.of_type(ROLE_POLICY)
        if r.inputs["role"] == name
        for s in json.loads(r.inputs["policy"])["Statement"]
    ]
    denies = [s for s in inline if s["Effect"] == "Deny"]
    denied = {resource for s in denies for resource in s["Resource"]}
    assert f"arn:aws:s3:::cloud-{rendered.stack}-prometheus-metrics/*" in denied
    assert f"arn:aws:s3:::cloud-{rendered.stack}-loki-logs/*" in denied
    # What it may write: the stack's own ledger table and evidence bucket (ChangeStorage).
    config = project_config(REPO_ROOT, rendered.stack)
    region, account = config["sre-platform:region"], config["sre-platform:accountId"]
    (table,) = rendered.of_type("aws:dynamodb/table:Table")
    (bucket,) = [b for b in rendered.of_type("aws:s3/bucket:Bucket") if "evidence" in b.name]
    allowed = {
        action: statement["Resource"]
        for statement in inline
        if statement["Effect"] == "Allow"
        for action in statement["Action"]
    }
    table_arn = f"arn:aws:dynamodb:{region}:{account}:table/{table.inputs['name']}"
    assert allowed == {
        **{action: [table_arn] for action in LEDGER_ACTIONS},
        "s3:PutObject": [f"arn:aws:s3:::{bucket.inputs['bucket']}/*"],
    }


def test_no_role_of_the_stack_trusts_a_person_or_a_wildcard(rendered: MockRun) -> None:
    """No laptop gets a write role: every role is assumed with a web identity (IRSA or
    GitHub), each pinned with StringEquals, none with a pattern."""
    roles = rendered.of_type(ROLE)
    assert len(roles) >= 3
    for role in roles:
        for statement in json.loads(role.inputs["assumeRolePolicy"])["Statement"]:
            assert list(statement["Principal"]) == ["Federated"], role.name
            assert statement["Action"] == "sts:AssumeRoleWithWebIdentity", role.name
            assert list(statement["Condition"]) == ["StringEquals"], role.name
            assert "*" not in json.dumps(statement["Condition"]), role.name


def test_the_github_rule_judges_both_ci_roles_and_the_pack_passes(rendered: MockRun) -> None:
    settings = load_settings(REPO_ROOT / PACK_DIR, shown_dir=PACK_DIR)
    report = check_declared(rendered, settings)
    assert report.passed, [f.message for f in report.blocking]
    only = evaluate(
        rendered.resources,
        stack=rendered.stack,
        config=settings.config,
        rules=[github_oidc_trust_pinned],
    )
    assert only.applicable == {"iam-github-oidc-trust-pinned"} and not only.findings
    context = RuleContext(
        rendered.stack, settings.config.tier_of(rendered.stack), settings.config, NOW
    )
    outcomes = {
        role.name: github_oidc_trust_pinned.check(as_resource(role), context)
        for role in rendered.of_type(ROLE)
    }
    ci_roles = {f"ci-{rendered.stack}-deployer", f"ci-{rendered.stack}-previewer"}
    # Judged and compliant: the two CI roles; the IRSA roles are not the rule's business.
    assert {name for name, outcome in outcomes.items() if outcome == []} == ci_roles
    assert all(outcomes[name] is NOT_APPLICABLE for name in outcomes.keys() - ci_roles)


def test_the_role_arns_are_exported(rendered: MockRun) -> None:
    assert rendered.exports["ciPreviewerRoleArn"].endswith(f"ci-{rendered.stack}-previewer")
    assert rendered.exports["ciDeployerRoleArn"].endswith(f"ci-{rendered.stack}-deployer")


def test_a_stack_can_trust_the_provider_another_stack_declares() -> None:
    run = _run("staging", _config("staging", createGithubOidcProvider="false"))
    assert run.of_type("aws:iam/openIdConnectProvider:OpenIdConnectProvider") == []
    assert _statement(_role(run, "deployer"))["Principal"] == {"Federated": PROVIDER_ARN}
    (provider,) = _run("dev").of_type("aws:iam/openIdConnectProvider:OpenIdConnectProvider")
    assert provider.name == "ci-dev-github-oidc"


@pytest.mark.parametrize(
    ("stack", "overrides", "expected"),
    [
        (
            "prod",
            {"githubDeployEnvironment": "staging"},
            "sre-platform:githubDeployEnvironment: the prod stack deploys only from the GitHub "
            "environment 'production' (its required reviewers), not 'staging' "
            "(set it with `pulumi config set sre-platform:githubDeployEnvironment <value>`)",
        ),
        (
            "dev",
            {"githubDeployEnvironment": "dev*"},
            "sre-platform:githubDeployEnvironment: String should match pattern",
        ),
        (
            "dev",
            {"githubDeployEnvironment": None},
            "sre-platform:githubDeployEnvironment: Field required "
            "(set it with `pulumi config set sre-platform:githubDeployEnvironment <value>`)",
        ),
        (
            "staging",
            {"githubRepository": "example-org/*"},
            "sre-platform:githubRepository: String should match pattern",
        ),
        (
            "prod",
            {"githubRepository": "Example-Org"},
            "(set it with `pulumi config set sre-platform:githubRepository <value>`)",
        ),
        (
            "prod",
            {"createGithubOidcProvider": "maybe"},
            "sre-platform:createGithubOidcProvider: Input should be a valid boolean",
        ),
    ],
)
def test_bad_ci_config_names_the_key_and_the_command(
    stack: str, overrides: dict[str, Any], expected: str
) -> None:
    with pytest.raises(StackConfigError) as error:
        _run(stack, _config(stack, **overrides))
    assert expected in str(error.value)


def test_a_real_update_refuses_the_placeholder_repository() -> None:
    with pytest.raises(StackConfigError) as error:
        _run("dev", preview=False)
    assert "pulumi config set --stack dev sre-platform:githubRepository <value>" in str(error.value)
