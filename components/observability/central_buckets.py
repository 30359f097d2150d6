"""Private, encrypted, versioned S3 buckets for Thanos blocks and Loki chunks.

Thanos' compactor and Loki's compactor delete what retention expires; with versioning on,
each delete leaves a noncurrent version that S3 would keep (and bill) forever, so the
lifecycle rules expire noncurrent versions after a grace period in which a mistaken
delete can still be undone, and clean up delete markers and abandoned uploads. Current
objects are never expired by S3: retention belongs to the compactors, which know which
blocks and chunks are still needed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.aws_buckets import guard_bucket
from components.aws_policies import tls_only_policy

# Days a deleted or overwritten object can still be restored.
NONCURRENT_VERSION_DAYS = 7
ABORT_MULTIPART_DAYS = 1


@dataclass(frozen=True)
class PrivateBucket:
    """The bucket's name and ARN (outputs) and every resource declared for it."""

    name: pulumi.Output[str]
    arn: pulumi.Output[str]
    resources: tuple[pulumi.Resource, ...]


def _lifecycle_rules() -> list[aws.s3.BucketLifecycleConfigurationRuleArgs]:
    every_object = aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix="")
    return [
        aws.s3.BucketLifecycleConfigurationRuleArgs(
            id="expire-noncurrent-versions",
            status="Enabled",
            filter=every_object,
            noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                noncurrent_days=NONCURRENT_VERSION_DAYS
            ),
            expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(
                expired_object_delete_marker=True
            ),
        ),
        aws.s3.BucketLifecycleConfigurationRuleArgs(
            id="abort-incomplete-uploads",
            status="Enabled",
            filter=every_object,
            abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                days_after_initiation=ABORT_MULTIPART_DAYS
            ),
        ),
    ]


def create_private_bucket(
    logical_name: str,
    bucket_name: str,
    tags: Mapping[str, str],
    parent: pulumi.Resource,
    *,
    protect: bool,
) -> PrivateBucket:
    """A bucket nobody outside the account can reach, encrypted with SSE-S3, versioned,
    reachable over TLS only; ``protect`` guards the bucket itself (it holds the data)."""
    child = pulumi.ResourceOptions(parent=parent)
    bucket = aws.s3.Bucket(
        logical_name,
        bucket=bucket_name,
        tags=dict(tags),
        opts=pulumi.ResourceOptions(parent=parent, protect=protect),
    )
    guards = guard_bucket(logical_name, bucket, child, versioned=True)
    lifecycle = aws.s3.BucketLifecycleConfiguration(
        f"{logical_name}-lifecycle",
        bucket=bucket.id,
        rules=_lifecycle_rules(),
        # S3 requires versioning to be configured before noncurrent-version rules apply.
        opts=pulumi.ResourceOptions(parent=parent, depends_on=guards.lifecycle_after),
    )
    tls_only = aws.s3.BucketPolicy(
        f"{logical_name}-tls-only",
        bucket=bucket.id,
        policy=tls_only_policy(bucket),
        # S3 rejects bucket policies while public-access settings are being applied.
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[guards.public_access]),
    )
    return PrivateBucket(
        name=bucket.bucket,
        arn=bucket.arn,
        resources=(bucket, *guards.resources, lifecycle, tls_only),
    )
