"""The IAM documents of ``CiAccess``: GitHub OIDC trust and the roles' own policies.

Pure functions of validated args (no Pulumi), so tests read them directly and the
trust policies are known at preview time, where the policy pack judges them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from components.aws_policies import STS_AUDIENCE
from policies.rules.iam import GITHUB_OIDC_HOST

GITHUB_OIDC_URL = f"https://{GITHUB_OIDC_HOST}"
SUB = f"{GITHUB_OIDC_HOST}:sub"
AUD = f"{GITHUB_OIDC_HOST}:aud"
# What the deployer may do in IAM: the roles and the OIDC provider this repository's
# stacks declare (IRSA roles, CI roles), nothing for users, groups or access keys.
ROLE_ACTIONS: tuple[str, ...] = (
    "iam:CreateRole",
    "iam:DeleteRole",
    "iam:GetRole",
    "iam:UpdateRole",
    "iam:UpdateRoleDescription",
    "iam:UpdateAssumeRolePolicy",
    "iam:TagRole",
    "iam:UntagRole",
    "iam:ListRoleTags",
    "iam:PutRolePolicy",
    "iam:GetRolePolicy",
    "iam:DeleteRolePolicy",
    "iam:ListRolePolicies",
    "iam:AttachRolePolicy",
    "iam:DetachRolePolicy",
    "iam:ListAttachedRolePolicies",
    "iam:ListInstanceProfilesForRole",
)
OIDC_PROVIDER_ACTIONS: tuple[str, ...] = (
    "iam:CreateOpenIDConnectProvider",
    "iam:GetOpenIDConnectProvider",
    "iam:DeleteOpenIDConnectProvider",
    "iam:TagOpenIDConnectProvider",
    "iam:UntagOpenIDConnectProvider",
    "iam:ListOpenIDConnectProviderTags",
    "iam:UpdateOpenIDConnectProviderThumbprint",
    "iam:AddClientIDToOpenIDConnectProvider",
    "iam:RemoveClientIDFromOpenIDConnectProvider",
)
DATA_READ_ACTIONS: tuple[str, ...] = ("s3:GetObject", "s3:GetObjectVersion")


def provider_arn(partition: str, account_id: str) -> str:
    """The ARN IAM gives the account's GitHub OIDC provider (fixed by its URL)."""
    return f"arn:{partition}:iam::{account_id}:oidc-provider/{GITHUB_OIDC_HOST}"


def pull_request_subject(repository: str) -> str:
    return f"repo:{repository}:pull_request"


def environment_subject(repository: str, environment: str) -> str:
    return f"repo:{repository}:environment:{environment}"


def branch_subject(repository: str, branch: str) -> str:
    """A job of a workflow run on ``branch`` outside any GitHub environment (the
    scheduled drift check on ``main``)."""
    return f"repo:{repository}:ref:refs/heads/{branch}"


def github_trust_policy(oidc_provider_arn: str, subject: str | Sequence[str]) -> str:
    """Only tokens GitHub issued to exactly ``subject`` (or one of several exact
    subjects), for STS, may assume the role."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "GitHubActions",
                    "Effect": "Allow",
                    "Principal": {"Federated": oidc_provider_arn},
                    "Action": "sts:AssumeRoleWithWebIdentity",
                    "Condition": {
                        "StringEquals": {
                            SUB: subject if isinstance(subject, str) else list(subject),
                            AUD: STS_AUDIENCE,
                        }
                    },
                }
            ],
        }
    )


def deny_data_reads_policy(bucket_arns: Sequence[str]) -> str:
    """An explicit Deny (wins over ReadOnlyAccess) on reading the data buckets' objects."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "NoDataReads",
                    "Effect": "Deny",
                    "Action": list(DATA_READ_ACTIONS),
                    "Resource": [f"{arn}/*" for arn in sorted(bucket_arns)],
                }
            ],
        }
    )


# What a gate run does to the ledger (docs/ledger.md, "IAM permissions") and the archive
# (docs/evidence.md): no Scan, no DeleteItem, no table changes; puts only, never reads.
LEDGER_ACTIONS = (
    "dynamodb:ConditionCheckItem",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:Query",
    "dynamodb:UpdateItem",
)
EVIDENCE_ACTIONS = ("s3:PutObject",)
KMS_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey")


def change_records_policy(
    table_arn: str | None, bucket_arn: str | None, kms_key_arn: str | None
) -> str:
    """Writes to exactly the ledger table and the evidence bucket, for the gate of a pull
    request (the bucket's own policy refuses overwrites)."""
    statements: list[dict[str, Any]] = []
    if table_arn is not None:
        statements.append(
            {
                "Sid": "ChangeLedger",
                "Effect": "Allow",
                "Action": list(LEDGER_ACTIONS),
                "Resource": [table_arn],
            }
        )
    if bucket_arn is not None:
        statements.append(
            {
                "Sid": "EvidenceArchive",
                "Effect": "Allow",
                "Action": list(EVIDENCE_ACTIONS),
                "Resource": [f"{bucket_arn}/*"],
            }
        )
    if kms_key_arn is not None:
        statements.append(
            {
                "Sid": "ChangeStorageKey",
                "Effect": "Allow",
                "Action": list(KMS_ACTIONS),
                "Resource": [kms_key_arn],
            }
        )
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def deployer_iam_policy(partition: str, account_id: str) -> str:
    """The IAM the deployer needs: the account's roles and its GitHub OIDC provider."""
    statements: list[dict[str, Any]] = [
        {
            "Sid": "ManageRoles",
            "Effect": "Allow",
            "Action": list(ROLE_ACTIONS),
            "Resource": [f"arn:{partition}:iam::{account_id}:role/*"],
        },
        {
            "Sid": "ManageGitHubOidcProvider",
            "Effect": "Allow",
            "Action": list(OIDC_PROVIDER_ACTIONS),
            "Resource": [provider_arn(partition, account_id)],
        },
    ]
    return json.dumps({"Version": "2012-10-17", "Statement": statements})
