"""The environment's file store: its own S3 bucket, a prefix of the shared bucket, or
nothing (the operator runs MinIO in the namespace).

The app reaches S3 through IRSA: a ServiceAccount named after the environment carries
the ARN of an IAM role that only that ServiceAccount can assume and that only grants
access to the environment's bucket or prefix. No access keys exist.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.aws_buckets import guard_bucket
from components.aws_policies import (
    IRSA_ROLE_ANNOTATION,
    access_policy,
    tls_only_policy,
    trust_policy,
)
from components.test_environment.context import EnvironmentContext
from components.test_environment.metadata import managed_labels

S3_ENDPOINT = "s3.amazonaws.com"
# Uploads of a test environment outlive no test: expire them after this many days.
OBJECT_EXPIRY_DAYS = 30


@dataclass(frozen=True)
class FilestoreOutputs:
    """What the Mattermost resource and the component's outputs need from the file store."""

    bucket: pulumi.Output[str] | None
    path_prefix: str | None
    resources: tuple[pulumi.Resource, ...]


def create_filestore(ctx: EnvironmentContext) -> FilestoreOutputs:
    """Declare the file store ``ctx.args.filestore`` asks for."""
    if ctx.args.filestore == "aws-s3":
        return _own_bucket(ctx)
    if ctx.args.filestore == "aws-multitenant-s3":
        return _shared_bucket_prefix(ctx)
    return FilestoreOutputs(bucket=None, path_prefix=None, resources=())


def _own_bucket(ctx: EnvironmentContext) -> FilestoreOutputs:
    """A private, encrypted bucket whose contents expire and which deletes when non-empty."""
    name = ctx.name
    bucket = aws.s3.Bucket(
        f"{name}-files", force_destroy=True, tags=dict(ctx.tags), opts=ctx.child_opts()
    )
    # Not versioned: test files are disposable, and the bucket is destroyed with them.
    guards = guard_bucket(
        f"{name}-files", bucket, ctx.child_opts(), versioned=False, bucket_key=False
    )
    lifecycle = aws.s3.BucketLifecycleConfiguration(
        f"{name}-files-lifecycle",
        bucket=bucket.id,
        rules=[
            aws.s3.BucketLifecycleConfigurationRuleArgs(
                id="expire-test-files",
                status="Enabled",
                filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(
                    days=OBJECT_EXPIRY_DAYS
                ),
                noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                    noncurrent_days=1
                ),
                abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                    days_after_initiation=1
                ),
            )
        ],
        opts=ctx.child_opts(),
    )
    tls_only = aws.s3.BucketPolicy(
        f"{name}-files-tls-only",
        bucket=bucket.id,
        policy=tls_only_policy(bucket),
        # S3 rejects bucket policies while public-access settings are being applied.
        opts=ctx.child_opts(depends_on=[guards.public_access]),
    )
    access = _irsa_access(ctx, bucket_arn=bucket.arn, prefix=None)
    return FilestoreOutputs(
        bucket=bucket.bucket,
        path_prefix=None,
        resources=(bucket, *guards.resources, lifecycle, tls_only, *access),
    )


def _shared_bucket_prefix(ctx: EnvironmentContext) -> FilestoreOutputs:
    """The prefix ``<name>/`` of the platform's shared bucket; no bucket of its own."""
    shared = ctx.args.platform.shared_bucket
    access = _irsa_access(ctx, bucket_arn=f"arn:aws:s3:::{shared}", prefix=ctx.name)
    return FilestoreOutputs(
        bucket=pulumi.Output.from_input(shared),
        path_prefix=ctx.name,
        resources=access,
    )


def _irsa_access(
    ctx: EnvironmentContext, *, bucket_arn: pulumi.Input[str], prefix: str | None
) -> tuple[pulumi.Resource, ...]:
    """The IAM role, its inline policy, and the ServiceAccount the app runs as.

    The Mattermost operator (``fileStore.external.useServiceAccount``) expects a
    ServiceAccount named like the installation, annotated with the role ARN.
    """
    name = ctx.name
    role = aws.iam.Role(
        f"{name}-files",
        description=f"S3 access of test environment {name} (IRSA)",
        assume_role_policy=trust_policy(ctx.args.platform.oidc_provider_arn, name, name),
        max_session_duration=3600,
        tags=dict(ctx.tags),
        opts=ctx.child_opts(),
    )
    policy = aws.iam.RolePolicy(
        f"{name}-files",
        role=role.id,
        policy=pulumi.Output.from_input(bucket_arn).apply(
            lambda arn: json.dumps(access_policy(arn, prefix))
        ),
        opts=ctx.child_opts(),
    )
    service_account = k8s.core.v1.ServiceAccount(
        f"{name}-service-account",
        metadata=k8s.meta.v1.ObjectMetaArgs(
            name=name,
            namespace=ctx.namespace,
            labels=managed_labels(ctx.args.team),
            annotations={IRSA_ROLE_ANNOTATION: role.arn},
        ),
        opts=ctx.child_opts(),
    )
    return role, policy, service_account
