"""IAM: no policy grants every action on every resource, and no inline policy or
attachment hands out administrator rights.

Policy documents arrive as JSON strings or as already-parsed objects (the SDK's
``PolicyDocumentArgs``); ``Statement`` may be one object or a list; ``Action``,
``NotAction``, ``Resource`` and ``NotResource`` may be a string or a list. A document that
is not valid JSON cannot be checked, and an unchecked policy could grant anything, so it
is a violation (fail safe); an unknown document (computed at deploy time) is skipped.

An ``Allow`` with ``NotAction`` grants every action except those listed, and one with
``NotResource`` every resource except those listed: both count as wildcards here.

The helpers :func:`parse_policy` and :func:`statements` are shared with the S3 rules.

A role that GitHub Actions may assume (its trust policy names GitHub's OIDC provider, or
tests GitHub's claims) must say exactly which workflows: ``StringEquals`` on the token's
``sub`` (one repository's environment, branch or pull requests) and on its ``aud``. IAM
reads condition keys case-insensitively and ANDs its operators, so every GitHub claim
under another operator (``StringLike``, ``ForAnyValue:…``, ``…IfExists``) is a violation
too: only plain ``StringEquals`` says what it seems to say.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
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
)

POLICY = "aws:iam/policy:Policy"
ROLE = "aws:iam/role:Role"
INLINE_POLICY_TYPES = frozenset(
    {
        "aws:iam/rolePolicy:RolePolicy",
        "aws:iam/userPolicy:UserPolicy",
        "aws:iam/groupPolicy:GroupPolicy",
    }
)
# Attachments of one managed policy (``policyArn``) or of a list (``policyArns``).
ATTACHMENT_TYPES = frozenset(
    {
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        "aws:iam/userPolicyAttachment:UserPolicyAttachment",
        "aws:iam/groupPolicyAttachment:GroupPolicyAttachment",
        "aws:iam/policyAttachment:PolicyAttachment",
    }
)
EXCLUSIVE_ATTACHMENT_TYPES = frozenset(
    {
        "aws:iam/rolePolicyAttachmentsExclusive:RolePolicyAttachmentsExclusive",
        "aws:iam/userPolicyAttachmentsExclusive:UserPolicyAttachmentsExclusive",
        "aws:iam/groupPolicyAttachmentsExclusive:GroupPolicyAttachmentsExclusive",
    }
)
# AWS's own AdministratorAccess in any partition (aws, aws-cn, aws-us-gov, aws-iso…).
ADMINISTRATOR_ACCESS = re.compile(r"^arn:aws[a-z-]*:iam::aws:policy/AdministratorAccess$")
WILDCARD_ACTIONS = frozenset({"*", "*:*"})

_DOCUMENT_TYPES = INLINE_POLICY_TYPES | {POLICY, ROLE}
_INLINE_ADMIN_TYPES = INLINE_POLICY_TYPES | ATTACHMENT_TYPES | EXCLUSIVE_ATTACHMENT_TYPES | {ROLE}


class PolicyParseError(ValueError):
    """A policy document that is not JSON, or not a JSON object."""


def parse_policy(value: Any) -> Mapping[str, Any] | None:
    """The policy document in ``value`` (JSON text or an object); None when unknown or
    absent. Raises :class:`PolicyParseError` when it cannot be read."""
    if value is None or is_unknown(value):
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise PolicyParseError(f"is not valid JSON ({exc})") from None
    if not isinstance(value, Mapping):
        raise PolicyParseError(f"is not a JSON object but {type(value).__name__}")
    return value


def as_list(value: Any) -> list[Any] | None:
    """A string-or-list IAM element as a list; None when unknown; [] when absent."""
    if value is None:
        return []
    if is_unknown(value):
        return None
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return list(value)
    return [value]


def statements(document: Mapping[str, Any]) -> Iterator[tuple[int, Mapping[str, Any]]]:
    """(index, statement) for each readable statement of ``document``."""
    entries = as_list(document.get("Statement"))
    for index, entry in enumerate(entries or []):
        if isinstance(entry, Mapping):
            yield index, entry


def is_allow(statement: Mapping[str, Any]) -> bool:
    effect = statement.get("Effect")
    return isinstance(effect, str) and effect.strip().lower() == "allow"


def describe(index: int, statement: Mapping[str, Any]) -> str:
    sid = statement.get("Sid")
    return f"statement {index}" + (f" (Sid {sid!r})" if isinstance(sid, str) and sid else "")


def wildcard_action(statement: Mapping[str, Any]) -> str | None:
    """How ``statement`` grants every action (``Action '*'``, ``NotAction […]``), or None
    when it does not or cannot be known."""
    actions = as_list(statement.get("Action")) or []
    hit = next((a for a in actions if isinstance(a, str) and a.strip() in WILDCARD_ACTIONS), None)
    if hit is not None:
        return f"Action {hit!r}"
    if "NotAction" in statement and not is_unknown(statement["NotAction"]):
        return f"every action except NotAction {statement['NotAction']!r}"
    return None


def wildcard_resource(statement: Mapping[str, Any]) -> str | None:
    """How ``statement`` covers every resource (``Resource '*'``, ``NotResource``)."""
    targets = as_list(statement.get("Resource")) or []
    if any(isinstance(r, str) and r.strip() == "*" for r in targets):
        return "Resource '*'"
    if "NotResource" in statement and not is_unknown(statement["NotResource"]):
        return f"every resource except NotResource {statement['NotResource']!r}"
    return None


@dataclass(frozen=True)
class _Document:
    where: str  # the input path, e.g. "policy" or "inlinePolicies[0].policy"
    value: Any


def _documents(resource: Resource) -> list[_Document]:
    if resource.type == POLICY or resource.type in INLINE_POLICY_TYPES:
        return [_Document("policy", resource.get("policy"))]
    if resource.type == ROLE:
        inline = resource.get("inlinePolicies")
        if not isinstance(inline, Sequence) or isinstance(inline, str | bytes):
            return []
        return [
            _Document(f"inlinePolicies[{i}].policy", entry.get("policy"))
            for i, entry in enumerate(inline)
            if isinstance(entry, Mapping)
        ]
    return []


def _allow_statements(
    resource: Resource, found: list[Violation]
) -> Iterator[tuple[_Document, int, Mapping[str, Any]]]:
    """Each Allow statement (with its document and index) of the resource's policy
    documents; a document that cannot be read adds its violation to ``found`` (fail safe)."""
    for document in _documents(resource):
        try:
            parsed = parse_policy(document.value)
        except PolicyParseError as error:
            found.append(
                Violation(
                    f"{resource.label}: `{document.where}` {error}, so it "
                    "cannot be checked; write it as valid JSON (e.g. with json.dumps)",
                    resource.urn,
                )
            )
            continue
        if parsed is None:
            continue
        for index, statement in statements(parsed):
            if is_allow(statement):
                yield document, index, statement


@resource_rule(
    "iam-no-wildcard-admin",
    "No IAM policy document allows every action ('*') on every resource ('*').",
    "critical",
    "Replace `Action: '*'` (or `NotAction`) and `Resource: '*'` in the `policy` input (or "
    "`inlinePolicies[].policy` of a Role) with the specific actions and resource ARNs the "
    "principal needs.",
)
def no_wildcard_admin(resource: Resource, ctx: RuleContext) -> Outcome:
    if resource.type not in _DOCUMENT_TYPES:
        return NOT_APPLICABLE
    found: list[Violation] = []
    for document, index, statement in _allow_statements(resource, found):
        action, target = wildcard_action(statement), wildcard_resource(statement)
        if action and target:
            found.append(
                Violation(
                    f"{resource.label}: {describe(index, statement)} of "
                    f"`{document.where}` allows {action} on {target} (administrator access)",
                    resource.urn,
                )
            )
    return found


def _attached_arns(resource: Resource) -> list[tuple[str, Any]]:
    if resource.type in ATTACHMENT_TYPES:
        return [("policyArn", resource.get("policyArn"))]
    name = "managedPolicyArns" if resource.type == ROLE else "policyArns"
    if resource.type == ROLE or resource.type in EXCLUSIVE_ATTACHMENT_TYPES:
        arns = as_list(resource.get(name)) or []
        return [(f"{name}[{i}]", arn) for i, arn in enumerate(arns)]
    return []


@resource_rule(
    "iam-no-inline-admin",
    "Inline IAM policies grant no '*' actions, and no role, user or group is attached "
    "AWS's AdministratorAccess managed policy.",
    "high",
    "List the specific actions in the inline `policy` (or `inlinePolicies[].policy` of a "
    "Role) instead of `*`, and attach a least-privilege policy instead of "
    "arn:aws:iam::aws:policy/AdministratorAccess in `policyArn`/`managedPolicyArns`.",
)
def no_inline_admin(resource: Resource, ctx: RuleContext) -> Outcome:
    if resource.type not in _INLINE_ADMIN_TYPES:
        return NOT_APPLICABLE
    found: list[Violation] = []
    for document, index, statement in _allow_statements(resource, found):
        action = wildcard_action(statement)
        if action:
            found.append(
                Violation(
                    f"{resource.label}: {describe(index, statement)} of "
                    f"inline `{document.where}` allows {action}",
                    resource.urn,
                )
            )
    for where, arn in _attached_arns(resource):
        if isinstance(arn, str) and ADMINISTRATOR_ACCESS.match(arn.strip()):
            found.append(
                Violation(
                    f"{resource.label}: `{where}` attaches {arn}",
                    resource.urn,
                )
            )
    return found


GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
PINNING_OPERATOR = "StringEquals"
# A GitHub claim as an IAM condition key; IAM compares keys case-insensitively, and an
# enterprise's own issuer adds a path (token.actions.githubusercontent.com/<slug>).
_GITHUB_CLAIM_KEY = re.compile(
    r"token\.actions\.githubusercontent\.com(?:/[^:]*)?:(?P<claim>[A-Za-z_]+)", re.IGNORECASE
)
_OWNER = r"[A-Za-z0-9][A-Za-z0-9-]{0,38}"
_REPOSITORY = r"[A-Za-z0-9._-]{1,100}"
GITHUB_ENVIRONMENT_NAME = r"[A-Za-z0-9._-]{1,255}"
# What `sub` may be pinned to: exact names only (no '*', '?', '${…}' policy variables).
GITHUB_SUBJECT = re.compile(
    rf"repo:{_OWNER}/{_REPOSITORY}:(?:environment:{GITHUB_ENVIRONMENT_NAME}"
    r"|ref:refs/heads/[A-Za-z0-9._/-]{1,255}|pull_request)"
)
_AUDIENCE = re.compile(r"[A-Za-z0-9._:/-]{1,255}")
_PINNED_CLAIMS = {
    "sub": (
        GITHUB_SUBJECT,
        "repo:<owner>/<repo>:environment:<name>, repo:<owner>/<repo>:ref:refs/heads/<branch> "
        "or repo:<owner>/<repo>:pull_request",
    ),
    "aud": (_AUDIENCE, "the audience the workflow requests, e.g. sts.amazonaws.com"),
}


def github_claim(key: object) -> str | None:
    """The GitHub OIDC claim (lower case) that condition key ``key`` tests, or None."""
    if not isinstance(key, str):
        return None
    match = _GITHUB_CLAIM_KEY.fullmatch(key)
    return match["claim"].lower() if match else None


def _federated_github(principal: Any) -> bool:
    if not isinstance(principal, Mapping):
        return False
    federated = as_list(principal.get("Federated")) or []
    return any(isinstance(p, str) and GITHUB_OIDC_HOST in p.lower() for p in federated)


def _tests_github_claims(condition: Any) -> bool:
    return isinstance(condition, Mapping) and any(
        isinstance(block, Mapping) and any(github_claim(key) for key in block)
        for block in condition.values()
    )


def trusts_github(statement: Mapping[str, Any]) -> bool:
    """Whether ``statement`` lets GitHub Actions' tokens in: it names GitHub's OIDC
    provider as its federated principal, or it tests a GitHub claim (whatever principal
    it names: a claim test only means something for GitHub's tokens)."""
    return _federated_github(statement.get("Principal")) or _tests_github_claims(
        statement.get("Condition")
    )


def _claim_problems(condition: Mapping[str, Any]) -> list[str]:
    """What is wrong with how ``condition`` pins GitHub's claims (empty: pinned)."""
    problems: list[str] = []
    under_string_equals: set[str] = set()
    for operator, block in condition.items():
        if not isinstance(block, Mapping):
            continue
        for key, value in block.items():
            claim = github_claim(key)
            if claim is None:
                continue
            if operator != PINNING_OPERATOR:
                problems.append(
                    f"tests `{key}` with {operator!r}; only {PINNING_OPERATOR!r} pins a claim "
                    "(no patterns, no set operators, no IfExists)"
                )
                continue
            if claim not in _PINNED_CLAIMS:
                continue
            under_string_equals.add(claim)
            pattern, expected = _PINNED_CLAIMS[claim]
            values = as_list(value)
            if values is None:
                continue  # not known at preview time: not judged
            bad = [v for v in values if not (isinstance(v, str) and pattern.fullmatch(v))]
            if not values:
                problems.append(f"pins `{key}` to no value")
            elif bad:
                shown = ", ".join(repr(v) for v in bad)
                problems.append(f"pins `{key}` to {shown}, not an exact {expected}")
    for claim, (_, expected) in _PINNED_CLAIMS.items():
        if claim not in under_string_equals:
            problems.append(
                f"does not pin `{GITHUB_OIDC_HOST}:{claim}` with {PINNING_OPERATOR} to {expected}"
            )
    return problems


def github_trust_problems(document: Mapping[str, Any]) -> list[str]:
    """One line per way a trust policy lets more GitHub workflows in than it names."""
    problems: list[str] = []
    for index, statement in statements(document):
        if not is_allow(statement) or not trusts_github(statement):
            continue
        where = describe(index, statement)
        condition = statement.get("Condition")
        if is_unknown(condition):
            continue
        if not isinstance(condition, Mapping) or not condition:
            problems.append(
                f"{where} trusts GitHub's OIDC provider without a Condition: any workflow of "
                "any repository on GitHub could assume the role"
            )
            continue
        problems.extend(f"{where} {problem}" for problem in _claim_problems(condition))
    return problems


def _trusts_github_at_all(document: Mapping[str, Any]) -> bool:
    return any(is_allow(s) and trusts_github(s) for _, s in statements(document))


@resource_rule(
    "iam-github-oidc-trust-pinned",
    "An IAM role that GitHub Actions may assume (its trust policy names the "
    "token.actions.githubusercontent.com OIDC provider) pins the token's `sub` with "
    "StringEquals to one repository's environment, branch or pull requests, and its `aud`.",
    "critical",
    "In the role's `assumeRolePolicy`, give every statement that trusts GitHub's OIDC "
    "provider a `StringEquals` condition on `token.actions.githubusercontent.com:sub` "
    "(exactly `repo:<owner>/<repo>:environment:<name>`, `repo:<owner>/<repo>:ref:refs/heads/"
    "<branch>`, or `repo:<owner>/<repo>:pull_request` for a read-only role) and on "
    "`token.actions.githubusercontent.com:aud` (`sts.amazonaws.com`); use no `StringLike`, "
    "no `ForAnyValue:`/`ForAllValues:` and no `IfExists` on these keys.",
)
def github_oidc_trust_pinned(resource: Resource, ctx: RuleContext) -> Outcome:
    if resource.type != ROLE:
        return NOT_APPLICABLE
    try:
        document = parse_policy(resource.get("assumeRolePolicy"))
    except PolicyParseError as error:
        return [
            Violation(
                f"{resource.label}: `assumeRolePolicy` {error}, so it cannot be checked; "
                "write it as valid JSON (e.g. with json.dumps)",
                resource.urn,
            )
        ]
    if document is None:
        return []
    if not _trusts_github_at_all(document):
        return NOT_APPLICABLE
    return [
        Violation(f"{resource.label}: `assumeRolePolicy` {problem}", resource.urn)
        for problem in github_trust_problems(document)
    ]


RULES: tuple[Rule, ...] = (no_wildcard_admin, no_inline_admin, github_oidc_trust_pinned)
