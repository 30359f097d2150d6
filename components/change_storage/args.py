"""Inputs of ``ChangeStorage``, validated before anything is declared."""

from __future__ import annotations

import re
from dataclasses import dataclass

# DynamoDB table names: 3-255 of letters, digits, '_', '-', '.' (change_mgmt/ledger/config.py).
_TABLE = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")
# S3 general purpose bucket names (change_mgmt/evidence/location.py).
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_KMS_KEY_ARN = re.compile(r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[0-9a-f-]{36}$")
MAX_LOCK_DAYS = 3650


class ChangeStorageError(ValueError):
    """An input of ChangeStorage is not valid: names the input, the value, what is allowed."""


@dataclass(frozen=True)
class ChangeStorageArgs:
    """The shared change ledger's DynamoDB table and the evidence bucket of one
    environment.

    ``kms_key_arn``: a customer managed key for both (its key policy then decides who
    may read evidence); None: the AWS managed keys ``aws/dynamodb`` and ``aws/s3`` (free,
    rotated by AWS). ``evidence_lock_days``: S3 Object Lock in governance mode keeps
    every evidence version that long (0: no lock; only at bucket creation can a lock be
    turned on without AWS support). ``protect``: the table and bucket are
    ``protect=True`` and the table has DynamoDB deletion protection (production).
    """

    environment: str
    table_name: str
    bucket_name: str
    owner: str = "sre"
    team: str = "sre"
    kms_key_arn: str | None = None
    evidence_lock_days: int = 0
    protect: bool = False


def validate(args: ChangeStorageArgs) -> None:
    problems = []
    if not _TABLE.match(args.table_name):
        problems.append(
            f"table_name {args.table_name!r}: 3-255 of letters, digits, '_', '-' and '.'"
        )
    if not _BUCKET.match(args.bucket_name) or ".." in args.bucket_name:
        problems.append(
            f"bucket_name {args.bucket_name!r}: 3-63 of lowercase letters, digits, '.' and "
            "'-', starting and ending with a letter or digit"
        )
    if args.kms_key_arn is not None and not _KMS_KEY_ARN.match(args.kms_key_arn):
        problems.append(
            f"kms_key_arn {args.kms_key_arn!r}: arn:aws:kms:<region>:<account>:key/<key id>"
        )
    if not 0 <= args.evidence_lock_days <= MAX_LOCK_DAYS:
        problems.append(
            f"evidence_lock_days {args.evidence_lock_days}: 0 (no lock) to {MAX_LOCK_DAYS}"
        )
    if problems:
        raise ChangeStorageError("ChangeStorage: " + "; ".join(problems))
