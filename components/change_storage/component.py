"""``ChangeStorage``: where the change records and their evidence outlive every runner.

* The ledger's DynamoDB table (``sre`` with ``SRE_LEDGER_URL=dynamodb://TABLE``): string
  keys ``pk`` (hash) and ``sk`` (range), exactly what ``sre ledger init`` creates
  (change_mgmt/ledger/dynamo_admin.py), on-demand capacity, point-in-time recovery,
  encrypted with KMS, deletion protection when ``protect``.
* The evidence bucket (``SRE_EVIDENCE_URL=s3://BUCKET``, docs/evidence.md): private
  (public access block, bucket owner owns every object), versioned, SSE-KMS with an S3
  Bucket Key, TLS only, and unconditional puts refused: the gate writes with
  ``If-None-Match: *``, so an object once written is never replaced by a put. Versions
  are never expired (an overwritten or deleted document stays as a noncurrent
  version); optionally S3 Object Lock (governance mode) keeps each version for
  ``evidence_lock_days``.
"""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws

from components.aws_buckets import guard_bucket
from components.aws_policies import tls_only_policy
from components.change_storage.args import ChangeStorageArgs, validate
from components.tags import platform_tags

TYPE_TOKEN = "sre:changes:ChangeStorage"
HASH_KEY = "pk"
RANGE_KEY = "sk"
ABORT_MULTIPART_DAYS = 1
LOCK_MODE = "GOVERNANCE"


def _with_no_overwrites(tls_only: str, bucket_arn: str) -> str:
    """The TLS-only policy plus a statement refusing every put without
    ``If-None-Match`` (the ``s3:if-none-match`` condition key is then absent)."""
    document: dict[str, Any] = json.loads(tls_only)
    document["Statement"].append(
        {
            "Sid": "DenyUnconditionalPuts",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:PutObject",
            "Resource": f"{bucket_arn}/*",
            "Condition": {"Null": {"s3:if-none-match": "true"}},
        }
    )
    return json.dumps(document)


class ChangeStorage(pulumi.ComponentResource):
    """The ledger table and the evidence bucket of one environment.

    Inputs are validated before anything is declared (``ChangeStorageError``); the aws
    provider comes from ``opts``. Outputs: ``table_name``, ``table_arn``,
    ``bucket_name``, ``bucket_arn``, ``ledger_url`` and ``evidence_url`` (what
    ``SRE_LEDGER_URL`` and ``SRE_EVIDENCE_URL`` are set to).
    """

    table_name: pulumi.Output[str]
    table_arn: pulumi.Output[str]
    bucket_name: pulumi.Output[str]
    bucket_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: ChangeStorageArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        validate(args)
        super().__init__(TYPE_TOKEN, name, None, opts)
        self._name, self._args = name, args
        self._tags = platform_tags(args.owner, args.team, args.environment)
        table = self._table()
        bucket = self._bucket()
        self.table_name = table.name
        self.table_arn = table.arn
        self.bucket_name = bucket.bucket
        self.bucket_arn = bucket.arn
        self.register_outputs(
            {
                "table_name": self.table_name,
                "table_arn": self.table_arn,
                "bucket_name": self.bucket_name,
                "bucket_arn": self.bucket_arn,
            }
        )

    def _table(self) -> aws.dynamodb.Table:
        args = self._args
        return aws.dynamodb.Table(
            f"{self._name}-ledger",
            name=args.table_name,
            billing_mode="PAY_PER_REQUEST",
            hash_key=HASH_KEY,
            range_key=RANGE_KEY,
            attributes=[
                aws.dynamodb.TableAttributeArgs(name=HASH_KEY, type="S"),
                aws.dynamodb.TableAttributeArgs(name=RANGE_KEY, type="S"),
            ],
            point_in_time_recovery=aws.dynamodb.TablePointInTimeRecoveryArgs(enabled=True),
            # Enabled: KMS, with the given key or the AWS managed aws/dynamodb key.
            server_side_encryption=aws.dynamodb.TableServerSideEncryptionArgs(
                enabled=True, kms_key_arn=args.kms_key_arn
            ),
            deletion_protection_enabled=args.protect,
            tags=self._tags,
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )

    def _bucket(self) -> aws.s3.Bucket:
        args, name = self._args, self._name
        child = pulumi.ResourceOptions(parent=self)
        bucket = aws.s3.Bucket(
            f"{name}-evidence",
            bucket=args.bucket_name,
            object_lock_enabled=args.evidence_lock_days > 0 or None,
            tags=self._tags,
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        guards = guard_bucket(
            f"{name}-evidence",
            bucket,
            child,
            versioned=True,
            kms=True,
            kms_key_arn=args.kms_key_arn,
        )
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-evidence-lifecycle",
            bucket=bucket.id,
            # Only abandoned uploads go: no rule expires a version, current or not.
            rules=[
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id="abort-incomplete-uploads",
                    status="Enabled",
                    filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                    abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                        days_after_initiation=ABORT_MULTIPART_DAYS
                    ),
                )
            ],
            opts=pulumi.ResourceOptions(parent=self, depends_on=guards.lifecycle_after),
        )
        if args.evidence_lock_days > 0:
            aws.s3.BucketObjectLockConfiguration(
                f"{name}-evidence-lock",
                bucket=bucket.id,
                object_lock_enabled="Enabled",
                rule=aws.s3.BucketObjectLockConfigurationRuleArgs(
                    default_retention=aws.s3.BucketObjectLockConfigurationRuleDefaultRetentionArgs(
                        mode=LOCK_MODE, days=args.evidence_lock_days
                    )
                ),
                opts=pulumi.ResourceOptions(parent=self, depends_on=guards.lifecycle_after),
            )
        aws.s3.BucketPolicy(
            f"{name}-evidence-policy",
            bucket=bucket.id,
            policy=pulumi.Output.all(tls_only_policy(bucket), bucket.arn).apply(
                lambda parts: _with_no_overwrites(parts[0], parts[1])
            ),
            # S3 rejects bucket policies while public-access settings are being applied.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[guards.public_access]),
        )
        return bucket
