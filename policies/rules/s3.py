"""S3: buckets are not public, are encrypted, and (in production) keep old versions.

Resource rules judge one side resource on its own (a public access block that leaves a
flag off, a public ACL, a public bucket policy). Stack rules judge each bucket by the
side resources that belong to it. A side resource belongs to a bucket when its ``bucket``
input came from that bucket (``property_dependencies["bucket"]`` holds the bucket's URN,
the usual case: ``bucket=bucket.id``) or when both carry the same literal bucket name
(the bucket's ``bucket`` input equals the side resource's ``bucket`` input).

When some side resource of the kind a stack rule looks for cannot be tied to any bucket
(its ``bucket`` is unknown and it has no property dependency), a bucket without a match
might be the one it belongs to: such buckets are skipped rather than reported.

An ``aws:s3/accountPublicAccessBlock`` in the same stack with all four protections on
covers every bucket of the account, so the per-bucket block is then not required.

The pre-v7 inline inputs of a bucket (``serverSideEncryptionConfiguration``,
``versioning``, ``policy``, ``acl``, ``grants``; ``…s`` lists on the legacy ``BucketV2``)
still configure the bucket and count like the side resources.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from policies.model import (
    NOT_APPLICABLE,
    Outcome,
    Resource,
    Rule,
    RuleContext,
    Violation,
    is_unknown,
    resource_rule,
    stack_rule,
)
from policies.rules.iam import PolicyParseError, as_list, describe, parse_policy, statements

BUCKET_TYPES = frozenset({"aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"})
PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
ACCOUNT_PUBLIC_ACCESS_BLOCK = "aws:s3/accountPublicAccessBlock:AccountPublicAccessBlock"
ACL_TYPES = frozenset({"aws:s3/bucketAcl:BucketAcl", "aws:s3/bucketAclV2:BucketAclV2"})
POLICY_TYPE = "aws:s3/bucketPolicy:BucketPolicy"
ENCRYPTION_TYPES = frozenset(
    {
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "aws:s3/bucketServerSideEncryptionConfigurationV2:"
        "BucketServerSideEncryptionConfigurationV2",
    }
)
VERSIONING_TYPES = frozenset(
    {
        "aws:s3/bucketVersioning:BucketVersioning",
        "aws:s3/bucketVersioningV2:BucketVersioningV2",
    }
)

BLOCK_FLAGS: tuple[str, ...] = (
    "blockPublicAcls",
    "blockPublicPolicy",
    "ignorePublicAcls",
    "restrictPublicBuckets",
)
PUBLIC_CANNED_ACLS = frozenset({"public-read", "public-read-write", "authenticated-read"})
PUBLIC_GRANTEE_URIS = frozenset(
    {
        "http://acs.amazonaws.com/groups/global/AllUsers",
        "http://acs.amazonaws.com/groups/global/AuthenticatedUsers",
    }
)


def unblocked_flags(resource: Resource) -> list[str]:
    """The public-access-block flags of ``resource`` not set to true (unknown = set)."""
    return [
        flag
        for flag in BLOCK_FLAGS
        if not is_unknown(resource.get(flag)) and resource.get(flag) is not True
    ]


@resource_rule(
    "s3-public-access-block",
    "An S3 public access block turns on all four of its protections.",
    "high",
    "Set `blockPublicAcls`, `blockPublicPolicy`, `ignorePublicAcls` and "
    "`restrictPublicBuckets` to true on the BucketPublicAccessBlock.",
)
def public_access_block(resource: Resource, ctx: RuleContext) -> Outcome:
    if resource.type not in {PUBLIC_ACCESS_BLOCK, ACCOUNT_PUBLIC_ACCESS_BLOCK}:
        return NOT_APPLICABLE
    return [
        Violation(f"{resource.label}: `{flag}` is {resource.get(flag)!r}, not true", resource.urn)
        for flag in unblocked_flags(resource)
    ]


def _grants(resource: Resource) -> list[tuple[str, Any]]:
    """(input path, grantee URI) of every grant ``resource`` makes."""
    found: list[tuple[str, Any]] = []
    if resource.type in BUCKET_TYPES:
        for index, grant in enumerate(as_list(resource.get("grants")) or []):
            if isinstance(grant, Mapping):
                found.append((f"grants[{index}].uri", grant.get("uri")))
    else:
        grants = as_list(resource.get("accessControlPolicy", "grants")) or []
        for index, grant in enumerate(grants):
            if isinstance(grant, Mapping):
                grantee = grant.get("grantee")
                uri = grantee.get("uri") if isinstance(grantee, Mapping) else None
                found.append((f"accessControlPolicy.grants[{index}].grantee.uri", uri))
    return found


@resource_rule(
    "s3-no-public-acl",
    "No S3 bucket ACL grants access to everyone or to every AWS account.",
    "critical",
    "Remove the public canned `acl` (public-read, public-read-write, authenticated-read) "
    "and any grant to the AllUsers/AuthenticatedUsers groups (`grants[].uri`, "
    "`accessControlPolicy.grants[].grantee.uri`); use `acl: private` or, better, "
    "BucketOwnershipControls with BucketOwnerEnforced.",
)
def no_public_acl(resource: Resource, ctx: RuleContext) -> Outcome:
    if resource.type not in BUCKET_TYPES | ACL_TYPES:
        return NOT_APPLICABLE
    found: list[Violation] = []
    acl = resource.get("acl")
    if isinstance(acl, str) and acl.strip() in PUBLIC_CANNED_ACLS:
        found.append(Violation(f"{resource.label}: `acl` is public ({acl!r})", resource.urn))
    for where, uri in _grants(resource):
        if isinstance(uri, str) and uri.strip() in PUBLIC_GRANTEE_URIS:
            found.append(
                Violation(f"{resource.label}: `{where}` grants access to {uri}", resource.urn)
            )
    return found


def _is_public_principal(principal: Any) -> bool:
    if isinstance(principal, str):
        return principal.strip() == "*"
    if isinstance(principal, Mapping):
        return any(
            isinstance(value, str) and value.strip() == "*"
            for entry in principal.values()
            for value in (as_list(entry) or [])
        )
    return False


def public_statements(document: Mapping[str, Any]) -> list[str]:
    """Descriptions of the statements of a bucket policy that let anyone in."""
    found: list[str] = []
    for index, statement in statements(document):
        effect = statement.get("Effect")
        if not (isinstance(effect, str) and effect.strip().lower() == "allow"):
            continue
        condition = statement.get("Condition")
        if condition or is_unknown(condition):
            continue  # a condition may restrict it (source VPC, org id): not judged here
        if _is_public_principal(statement.get("Principal")):
            found.append(
                f"{describe(index, statement)} allows Principal {statement['Principal']!r}"
            )
        elif "NotPrincipal" in statement and not is_unknown(statement["NotPrincipal"]):
            found.append(
                f"{describe(index, statement)} allows everyone but NotPrincipal "
                f"{statement['NotPrincipal']!r}"
            )
    return found


@resource_rule(
    "s3-no-public-policy",
    "No S3 bucket policy allows any principal ('*') without a condition.",
    "critical",
    "In the bucket `policy`, name the principals (account, role ARNs) instead of "
    "`Principal: '*'`/`{AWS: '*'}`, or add a `Condition` that restricts the caller "
    "(aws:PrincipalOrgID, aws:SourceVpce).",
)
def no_public_policy(resource: Resource, ctx: RuleContext) -> Outcome:
    if resource.type not in BUCKET_TYPES | {POLICY_TYPE}:
        return NOT_APPLICABLE
    try:
        document = parse_policy(resource.get("policy"))
    except PolicyParseError as error:
        return [
            Violation(
                f"{resource.label}: `policy` {error}, so it cannot be checked; write it as "
                "valid JSON (e.g. with json.dumps)",
                resource.urn,
            )
        ]
    if document is None:
        return []
    return [
        Violation(f"{resource.label}: `policy` {problem} without a Condition", resource.urn)
        for problem in public_statements(document)
    ]


# --- stack rules: each bucket and its side resources ------------------------------------


def belongs_to(side: Resource, bucket: Resource) -> bool:
    """Whether ``side``'s ``bucket`` input came from ``bucket`` (see the module notes)."""
    if side.depends_on(bucket.urn, "bucket"):
        return True
    name, wanted = bucket.get("bucket"), side.get("bucket")
    return isinstance(name, str) and bool(name) and name == wanted


def _unattributable(side: Resource) -> bool:
    """A side resource that cannot be tied to any bucket: its target cannot be seen."""
    return is_unknown(side.get("bucket")) and not side.property_dependencies.get("bucket")


def _judge_buckets(
    resources: Sequence[Resource],
    side_types: frozenset[str],
    judge: Callable[[Resource, list[Resource], bool], list[str]],
) -> Outcome:
    """Run ``judge(bucket, its side resources, whether an unattributable side exists)``
    for every bucket; the messages become violations on the bucket."""
    buckets = [r for r in resources if r.type in BUCKET_TYPES]
    if not buckets:
        return NOT_APPLICABLE
    sides = [r for r in resources if r.type in side_types]
    blind = any(_unattributable(side) for side in sides)
    found: list[Violation] = []
    for bucket in buckets:
        own = [side for side in sides if belongs_to(side, bucket)]
        found.extend(Violation(message, bucket.urn) for message in judge(bucket, own, blind))
    return found


def _has_entries(value: Any) -> bool:
    """An inline configuration that is set: a non-empty object or list, or unknown."""
    if is_unknown(value):
        return True
    if isinstance(value, Mapping | list | tuple):
        return bool(value)
    return False


@stack_rule(
    "s3-bucket-public-access-blocked",
    "Every S3 bucket has a public access block with all four protections on.",
    "high",
    "Add an aws.s3.BucketPublicAccessBlock with `bucket=<bucket>.id` and "
    "`blockPublicAcls`, `blockPublicPolicy`, `ignorePublicAcls`, `restrictPublicBuckets` "
    "all true.",
)
def bucket_public_access_blocked(resources: Sequence[Resource], ctx: RuleContext) -> Outcome:
    account_blocks = [r for r in resources if r.type == ACCOUNT_PUBLIC_ACCESS_BLOCK]
    account_blocked = any(not unblocked_flags(block) for block in account_blocks)

    def judge(bucket: Resource, blocks: list[Resource], blind: bool) -> list[str]:
        if account_blocked:
            return []  # the account-wide block in this stack covers every bucket
        if not blocks:
            if blind:
                return []
            return [
                f"{bucket.label} has no BucketPublicAccessBlock (none has `bucket` set "
                "to this bucket)"
            ]
        if any(not unblocked_flags(block) for block in blocks):
            return []
        return [
            f"{bucket.label}: its BucketPublicAccessBlock {block.name!r} leaves "
            f"{', '.join(f'`{flag}`' for flag in unblocked_flags(block))} not true"
            for block in blocks
        ]

    return _judge_buckets(resources, frozenset({PUBLIC_ACCESS_BLOCK}), judge)


@stack_rule(
    "s3-bucket-encrypted",
    "Every S3 bucket has an explicit default-encryption configuration (S3 already encrypts "
    "new objects with SSE-S3 since January 2023, so this is about an explicit, reviewable "
    "choice of key, not about plaintext data).",
    "medium",
    "Add an aws.s3.BucketServerSideEncryptionConfiguration with `bucket=<bucket>.id` and "
    "`rules=[{applyServerSideEncryptionByDefault: {sseAlgorithm: 'aws:kms' or 'AES256'}}]`.",
)
def bucket_encrypted(resources: Sequence[Resource], ctx: RuleContext) -> Outcome:
    def judge(bucket: Resource, configs: list[Resource], blind: bool) -> list[str]:
        inline = bucket.get("serverSideEncryptionConfiguration") or bucket.get(
            "serverSideEncryptionConfigurations"
        )
        if configs or blind or _has_entries(inline):
            return []
        return [
            f"{bucket.label} has no BucketServerSideEncryptionConfiguration (none has "
            "`bucket` set to this bucket)"
        ]

    return _judge_buckets(resources, ENCRYPTION_TYPES, judge)


def _versioning_status(side: Resource) -> Any:
    return side.get("versioningConfiguration", "status")


def _inline_versioning(bucket: Resource) -> bool | None:
    """Whether the bucket's own (pre-v7) versioning input enables it; None when unset."""
    legacy = bucket.get("versioning")
    entries: list[Any] = [legacy] if legacy is not None else []
    entries += as_list(bucket.get("versionings")) or []
    if not entries:
        return None
    return any(
        is_unknown(entry)
        or (
            isinstance(entry, Mapping)
            and (entry.get("enabled") is True or is_unknown(entry.get("enabled")))
        )
        for entry in entries
    )


@stack_rule(
    "s3-bucket-versioned",
    "In production every S3 bucket has versioning enabled, so overwritten and deleted "
    "objects can be recovered.",
    "medium",
    "Add an aws.s3.BucketVersioning with `bucket=<bucket>.id` and "
    "`versioningConfiguration={'status': 'Enabled'}`.",
)
def bucket_versioned(resources: Sequence[Resource], ctx: RuleContext) -> Outcome:
    if ctx.tier != "production":
        return NOT_APPLICABLE

    def judge(bucket: Resource, configs: list[Resource], blind: bool) -> list[str]:
        if _inline_versioning(bucket):
            return []
        statuses = [_versioning_status(side) for side in configs]
        if any(is_unknown(status) or status == "Enabled" for status in statuses):
            return []
        if configs:
            return [
                f"{bucket.label}: its BucketVersioning {side.name!r} has "
                f"`versioningConfiguration.status` {_versioning_status(side)!r}, not 'Enabled'"
                for side in configs
            ]
        if blind:
            return []
        return [
            f"{bucket.label} has no BucketVersioning with `versioningConfiguration.status` "
            "'Enabled' (none has `bucket` set to this bucket)"
        ]

    return _judge_buckets(resources, VERSIONING_TYPES, judge)


RULES: tuple[Rule, ...] = (
    public_access_block,
    no_public_acl,
    no_public_policy,
    bucket_public_access_blocked,
    bucket_encrypted,
    bucket_versioned,
)
