"""What makes an S3 bucket private: no public access, the owner owns every object,
encryption at rest, versioning where asked. One place for the metrics and logs buckets,
an environment's file store and the evidence archive, so a tightening reaches them all.

Children are named ``<logical name>-public-access``, ``-ownership``, ``-encryption`` and
``-versioning`` (names are a contract: a rename needs ``aliases``).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

SSE_S3 = "AES256"
SSE_KMS = "aws:kms"


@dataclass(frozen=True)
class BucketGuards:
    public_access: aws.s3.BucketPublicAccessBlock
    ownership: aws.s3.BucketOwnershipControls
    encryption: aws.s3.BucketServerSideEncryptionConfiguration
    versioning: aws.s3.BucketVersioning | None

    @property
    def lifecycle_after(self) -> list[pulumi.Resource]:
        """What a lifecycle configuration must wait for: S3 applies noncurrent-version
        rules only once versioning is configured."""
        return [self.versioning] if self.versioning is not None else []

    @property
    def resources(self) -> tuple[pulumi.Resource, ...]:
        found = (self.public_access, self.ownership, self.encryption, self.versioning)
        return tuple(resource for resource in found if resource is not None)


def guard_bucket(
    logical_name: str,
    bucket: aws.s3.Bucket,
    opts: pulumi.ResourceOptions,
    *,
    versioned: bool,
    kms_key_arn: pulumi.Input[str] | None = None,
    kms: bool = False,
    bucket_key: bool = True,
) -> BucketGuards:
    """Block public access, enforce bucket-owner ownership, encrypt with SSE-S3 (or
    SSE-KMS with ``kms``: ``kms_key_arn``, else the AWS managed key), and version when
    ``versioned``. ``opts`` are the children's options (their parent)."""
    public_access = aws.s3.BucketPublicAccessBlock(
        f"{logical_name}-public-access",
        bucket=bucket.id,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
        opts=opts,
    )
    ownership = aws.s3.BucketOwnershipControls(
        f"{logical_name}-ownership",
        bucket=bucket.id,
        rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
        opts=opts,
    )
    by_default = (
        aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
            sse_algorithm=SSE_KMS if kms else SSE_S3,
            kms_master_key_id=kms_key_arn if kms else None,
        )
    )
    encryption = aws.s3.BucketServerSideEncryptionConfiguration(
        f"{logical_name}-encryption",
        bucket=bucket.id,
        rules=[
            aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                apply_server_side_encryption_by_default=by_default,
                bucket_key_enabled=True if bucket_key else None,
            )
        ],
        opts=opts,
    )
    versioning = None
    if versioned:
        versioning = aws.s3.BucketVersioning(
            f"{logical_name}-versioning",
            bucket=bucket.id,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(
                status="Enabled"
            ),
            opts=opts,
        )
    return BucketGuards(public_access, ownership, encryption, versioning)
