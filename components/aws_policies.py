"""The IAM and S3 policy documents every component uses: IRSA trust, least-privilege
bucket access, TLS-only buckets. One place, so a tightening reaches all of them."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws

IRSA_ROLE_ANNOTATION = "eks.amazonaws.com/role-arn"
STS_AUDIENCE = "sts.amazonaws.com"
OBJECT_ACTIONS: tuple[str, ...] = (
    "s3:GetObject",
    "s3:PutObject",
    "s3:DeleteObject",
    "s3:AbortMultipartUpload",
    "s3:ListMultipartUploadParts",
)
BUCKET_ACTIONS: tuple[str, ...] = ("s3:ListBucket", "s3:ListBucketMultipartUploads")


def oidc_issuer(oidc_provider_arn: str) -> str:
    """The issuer host/path of an IAM OIDC provider ARN (the part after ``oidc-provider/``)."""
    return oidc_provider_arn.split("oidc-provider/", 1)[1]


def trust_policy(oidc_provider_arn: str, namespace: str, *service_accounts: str) -> str:
    """IRSA trust: only these service accounts of ``namespace`` in this cluster may assume
    the role."""
    issuer = oidc_issuer(oidc_provider_arn)
    subjects = [f"system:serviceaccount:{namespace}:{account}" for account in service_accounts]
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
                            f"{issuer}:sub": subjects[0] if len(subjects) == 1 else subjects,
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


def tls_only_policy(bucket: aws.s3.Bucket) -> pulumi.Output[str]:
    """A bucket policy refusing every request that does not use TLS."""
    return pulumi.Output.json_dumps(
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
    )
