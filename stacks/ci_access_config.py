"""The platform stack's CI access (``CiAccess``) from its typed config.

Kept apart from ``stacks/platform.py`` so that the stack program only calls
:func:`declare_ci_access`; the config keys are ``githubRepository``,
``githubDeployEnvironment`` and ``createGithubOidcProvider`` (stacks/platform_stack_config.py).
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components.ci_access import CiAccess, CiAccessArgs, CiAccessError
from components.observability.central import logs_bucket_name, metrics_bucket_arn
from stacks.platform_config import StackConfigError
from stacks.platform_stack_config import PlatformStackConfig


def ci_access_args(settings: PlatformStackConfig) -> CiAccessArgs:
    """Previewer and deployer of the stack's account; the previewer may not read the
    platform's metrics and logs buckets, and may write the change ledger and the evidence
    archive the stack declares (``ChangeStorage``: the same names)."""
    return CiAccessArgs(
        environment=settings.environment,
        account_id=settings.account_id,
        region=settings.region,
        repository=settings.github_repository,
        deploy_environment=settings.github_deploy_environment,
        create_oidc_provider=settings.create_github_oidc_provider,
        data_bucket_arns=(
            metrics_bucket_arn(settings.environment),
            f"arn:aws:s3:::{logs_bucket_name(settings.environment)}",
        ),
        ledger_table_name=settings.ledger_table_name,
        evidence_bucket_name=settings.evidence_bucket,
        change_storage_kms_key_arn=settings.change_storage_kms_key_arn,
    )


def declare_ci_access(settings: PlatformStackConfig, aws_: aws.Provider) -> CiAccess:
    """``CiAccess`` (``ci-<environment>``) through the stack's aws provider; exports the
    role ARNs the workflows assume."""
    try:
        access = CiAccess(
            f"ci-{settings.environment}",
            ci_access_args(settings),
            pulumi.ResourceOptions(providers={"aws": aws_}),
        )
    except CiAccessError as exc:
        raise StackConfigError(f"stack {pulumi.get_stack()!r}: {exc}") from None
    pulumi.export("ciPreviewerRoleArn", access.previewer_role_arn)
    pulumi.export("ciDeployerRoleArn", access.deployer_role_arn)
    return access
