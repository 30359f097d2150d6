"""The environment's file store: its own S3 bucket, a prefix of the shared bucket, or
nothing (the operator runs MinIO in the namespace).

The app reaches S3 through IRSA: a ServiceAccount named after the environment carries
the ARN of an IAM role that only that ServiceAccount can assume and that only grants
access to the environment's bucket or prefix. No access keys exist.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.test_environment.context import EnvironmentContext
from components.test_environment.metadata import managed_labels

S3_ENDPOINT = "s3.amazonaws.com"
IRSA_ROLE_ANNOTATION = "eks.amazonaws.com/role-arn"
STS_AUDIENCE = "sts.amazonaws.com"
# Uploads of a test environment outlive no test: expire them after this many days.
OBJECT_EXPIRY_DAYS = 30
OBJECT_ACTIONS: tuple[str, ...] = (
    "s3:GetObject",
    "s3:PutObject",
    "s3:DeleteObject",
    "s3:AbortMultipartUpload",
    "s3:ListMultipartUploadParts",
)
BUCKET_ACTIONS: tuple[str, ...] = ("s3:ListBucket", "s3:ListBucketMultipartUploads")


@dataclass(frozen=True)
class FilestoreOutputs:
    """What the Mattermost resource and the component's outputs need from the file store."""

    bucket: pulumi.Output[str] | None
    path_prefix: str | None
    resources: tuple[pulumi.Resource, ...]


def oidc_issuer(oidc_provider_arn: str) -> str:
    """The issuer host/path of an IAM OIDC provider ARN (the part after ``oidc-provider/``)."""
    return oidc_provider_arn.split("oidc-provider/", 1)[1]


def trust_policy(oidc_provider_arn: str, namespace: str, service_account: str) -> str:
    """IRSA trust: only ``namespace/service_account`` of this cluster may assume the role."""
    issuer = oidc_issuer(oidc_provider_arn)
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Federated": oidc_provider_arn},
                    "Action": "sts:AssumeRoleWithWebIdentity",
                    "Condition": {
                        "StringEquals": {
                            f"{issuer}:sub": f"system:serviceaccount:{namespace}:{service_account}",
                            f"{issuer}:aud": STS_AUDIENCE,
                        }
                    },
                }
            ],
        }
    )


def access_policy(bucket_arn: str, prefix: str | None) -> dict[str, Any]:
    """Least privilege on one bucket, or on one prefix of a shared bucket."""
    objects = f"{bucket_arn}/{prefix}/*" if prefix else f"{bucket_arn}/*"
    list_statement: dict[str, Any] = {
        "Sid": "ListFiles",
        "Effect": "Allow",
        "Action": list(BUCKET_ACTIONS),
        "Resource": [bucket_arn],
    }
    if prefix:
        list_statement["Condition"] = {"StringLike": {"s3:prefix": [prefix, f"{prefix}/*"]}}
    return {
        "Version": "2012-10-17",
        "Statement": [
            list_statement,
            {
                "Sid": "ReadWriteFiles",
                "Effect": "Allow",
                "Action": list(OBJECT_ACTIONS),
                "Resource": [objects],
            },
        ],
    }


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
    public_access = aws.s3.BucketPublicAccessBlock(
        f"{name}-files-public-access",
        bucket=bucket.id,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
        opts=ctx.child_opts(),
    )
    encryption = aws.s3.BucketServerSideEncryptionConfiguration(
        f"{name}-files-encryption",
        bucket=bucket.id,
        rules=[
            aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                    sse_algorithm="AES256"
                ),
            )
        ],
        opts=ctx.child_opts(),
    )
    ownership = aws.s3.BucketOwnershipControls(
        f"{name}-files-ownership",
        bucket=bucket.id,
        rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
        opts=ctx.child_opts(),
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
        policy=pulumi.Output.json_dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "DenyInsecureTransport",
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "s3:*",
                        "Resource": [bucket.arn, pulumi.Output.concat(bucket.arn, "/*")],
                        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                    }
                ],
            }
        ),
        # S3 rejects bucket policies while public-access settings are being applied.
        opts=ctx.child_opts(depends_on=[public_access]),
    )
    access = _irsa_access(ctx, bucket_arn=bucket.arn, prefix=None)
    return FilestoreOutputs(
        bucket=bucket.bucket,
        path_prefix=None,
        resources=(bucket, public_access, encryption, ownership, lifecycle, tls_only, *access),
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
