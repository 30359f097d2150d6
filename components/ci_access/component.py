"""``CiAccess``: what GitHub Actions may do in one platform environment's AWS account.

The account's GitHub OIDC provider and two roles, both trusting exactly one ``sub`` of
this repository (StringEquals, with ``aud``): the *previewer* (``…:pull_request``
and ``…:ref:refs/heads/main`` for the scheduled drift check;
ReadOnlyAccess, no reads of the data buckets) that pull-request workflows assume for
``pulumi preview``, and the *deployer* (``…:environment:<deploy environment>``) that the
deploy job of that GitHub environment assumes for ``sre up``. No role trusts a person:
laptops get no write role. docs/platform.md, "Who can change production".
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components.aws_policies import STS_AUDIENCE
from components.ci_access import documents
from components.ci_access.args import READ_ONLY_ACCESS, CiAccessArgs, validate
from components.tags import platform_tags

TYPE_TOKEN = "sre:ci:CiAccess"


class CiAccess(pulumi.ComponentResource):
    """The GitHub OIDC provider (unless another stack of the account declares it), the
    previewer and deployer roles with their policies.

    Inputs are validated before anything is declared (``CiAccessError``). The aws
    provider comes from ``opts``. Outputs: ``oidc_provider_arn``, ``previewer_role_arn``,
    ``deployer_role_arn``.
    """

    oidc_provider_arn: pulumi.Output[str]
    previewer_role_arn: pulumi.Output[str]
    deployer_role_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: CiAccessArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        validate(args)
        super().__init__(TYPE_TOKEN, name, None, opts)
        self._name, self._args = name, args
        self._tags = platform_tags(args.owner, args.team, args.environment)
        provider_arn = documents.provider_arn(args.partition, args.account_id)
        after: list[pulumi.Resource] = []
        if args.create_oidc_provider:
            # GitHub is one of the providers IAM validates against its own trusted CAs:
            # pulumi-aws 7 needs no thumbprint (a configured one would be ignored).
            provider = aws.iam.OpenIdConnectProvider(
                f"{name}-github-oidc",
                url=documents.GITHUB_OIDC_URL,
                client_id_lists=[STS_AUDIENCE],
                tags=self._tags,
                opts=pulumi.ResourceOptions(parent=self),
            )
            after.append(provider)
        previewer = self._role(
            "previewer",
            [
                documents.pull_request_subject(args.repository),
                # The scheduled drift check runs on main, outside any GitHub environment.
                documents.branch_subject(args.repository, "main"),
            ],
            "pulumi preview from pull requests and the drift check on main: read-only",
            after,
        )
        aws.iam.RolePolicyAttachment(
            f"{name}-previewer-read-only",
            role=previewer.name,
            policy_arn=args.managed_policy_arn(READ_ONLY_ACCESS),
            opts=pulumi.ResourceOptions(parent=self),
        )
        if args.data_bucket_arns:
            aws.iam.RolePolicy(
                f"{name}-previewer-no-data-reads",
                role=previewer.name,
                policy=documents.deny_data_reads_policy(args.data_bucket_arns),
                opts=pulumi.ResourceOptions(parent=self),
            )
        if args.ledger_table_arn or args.evidence_bucket_arn:
            aws.iam.RolePolicy(
                f"{name}-previewer-change-records",
                role=previewer.name,
                policy=documents.change_records_policy(
                    args.ledger_table_arn,
                    args.evidence_bucket_arn,
                    args.change_storage_kms_key_arn,
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
        deployer = self._role(
            "deployer",
            documents.environment_subject(args.repository, args.deploy_environment),
            f"sre up from the GitHub environment {args.deploy_environment}",
            after,
        )
        for policy in args.deployer_managed_policies:
            aws.iam.RolePolicyAttachment(
                f"{name}-deployer-{policy.lower()}",
                role=deployer.name,
                policy_arn=args.managed_policy_arn(policy),
                opts=pulumi.ResourceOptions(parent=self),
            )
        aws.iam.RolePolicy(
            f"{name}-deployer-iam",
            role=deployer.name,
            policy=documents.deployer_iam_policy(args.partition, args.account_id),
            opts=pulumi.ResourceOptions(parent=self),
        )

        self.oidc_provider_arn = pulumi.Output.from_input(provider_arn)
        self.previewer_role_arn = previewer.arn
        self.deployer_role_arn = deployer.arn
        self.register_outputs(
            {
                "oidc_provider_arn": self.oidc_provider_arn,
                "previewer_role_arn": self.previewer_role_arn,
                "deployer_role_arn": self.deployer_role_arn,
            }
        )

    def _role(
        self, kind: str, subject: str | list[str], purpose: str, after: list[pulumi.Resource]
    ) -> aws.iam.Role:
        """A role only GitHub's tokens for exactly ``subject`` may assume."""
        args = self._args
        return aws.iam.Role(
            f"{self._name}-{kind}",
            # A fixed name, so workflows can name the role: sre-platform-<env>-<kind>.
            name=f"sre-platform-{args.environment}-{kind}",
            description=f"GitHub Actions of {args.repository} ({purpose})",
            assume_role_policy=documents.github_trust_policy(
                documents.provider_arn(args.partition, args.account_id), subject
            ),
            max_session_duration=args.max_session_seconds,
            tags=self._tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=after),
        )
