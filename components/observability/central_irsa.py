"""IAM roles for service accounts (IRSA): how Thanos and Loki reach their buckets.

Each role can be assumed only by one ServiceAccount of the cnc cluster and grants only
what its workload does: the store gateway reads, the compactors also write and delete.
No access keys exist anywhere.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_aws as aws

from components.aws_policies import IRSA_ROLE_ANNOTATION, trust_policy

READ_ACTIONS: tuple[str, ...] = ("s3:GetObject",)
WRITE_ACTIONS: tuple[str, ...] = (
    "s3:PutObject",
    "s3:DeleteObject",
    "s3:AbortMultipartUpload",
    "s3:ListMultipartUploadParts",
)
LIST_ACTIONS: tuple[str, ...] = ("s3:ListBucket",)

__all__ = ["IRSA_ROLE_ANNOTATION", "bucket_access_policy", "create_irsa_role"]


def bucket_access_policy(bucket_arn: str, *, write: bool) -> dict[str, Any]:
    """List and read the bucket's objects; with ``write`` also put and delete them."""
    object_actions = READ_ACTIONS + (WRITE_ACTIONS if write else ())
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ListObjects",
                "Effect": "Allow",
                "Action": list(LIST_ACTIONS),
                "Resource": [bucket_arn],
            },
            {
                "Sid": "ReadWriteObjects" if write else "ReadObjects",
                "Effect": "Allow",
                "Action": list(object_actions),
                "Resource": [f"{bucket_arn}/*"],
            },
        ],
    }


def create_irsa_role(
    logical_name: str,
    *,
    oidc_provider_arn: str,
    namespace: str,
    service_account: str,
    bucket_arn: pulumi.Input[str],
    write: bool,
    tags: Mapping[str, str],
    parent: pulumi.Resource,
) -> aws.iam.Role:
    """A role only ``namespace/service_account`` may assume, with access to one bucket."""
    role = aws.iam.Role(
        logical_name,
        description=f"S3 access of {namespace}/{service_account} (IRSA)",
        assume_role_policy=trust_policy(oidc_provider_arn, namespace, service_account),
        max_session_duration=3600,
        tags=dict(tags),
        opts=pulumi.ResourceOptions(parent=parent),
    )
    aws.iam.RolePolicy(
        f"{logical_name}-s3",
        role=role.id,
        policy=pulumi.Output.from_input(bucket_arn).apply(
            lambda arn: json.dumps(bucket_access_policy(arn, write=write))
        ),
        opts=pulumi.ResourceOptions(parent=parent),
    )
    return role
