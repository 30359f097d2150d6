"""Detectors for the rules that look inside a change: pure functions of one ResourceChange.

Each returns the property paths that triggered it (empty: not triggered), so every
factor can point at exactly what made it fire.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from change_mgmt.preview import ResourceChange

OPEN_CIDRS = frozenset({"0.0.0.0/0", "::/0"})
ADMIN_POLICY_SUFFIXES = (":policy/AdministratorAccess", ":policy/IAMFullAccess")


# -- open ingress ------------------------------------------------------------------------


def _open_rules(type_token: str, inputs: Mapping[str, Any] | None) -> dict[tuple[Any, ...], str]:
    """Ingress rules open to the internet, keyed by what they allow, with their path."""
    if not inputs:
        return {}
    found: dict[tuple[Any, ...], str] = {}
    if type_token == "aws:ec2/securityGroup:SecurityGroup":
        rules = inputs.get("ingress")
        for index, rule in enumerate(rules if isinstance(rules, list) else []):
            if isinstance(rule, dict):
                found.update(_open_cidrs(rule, f"ingress[{index}]"))
    elif type_token == "aws:ec2/securityGroupRule:SecurityGroupRule":
        if inputs.get("type") == "ingress":
            found.update(_open_cidrs(inputs, ""))
    elif type_token == "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule":
        for key in ("cidrIpv4", "cidrIpv6"):
            if inputs.get(key) in OPEN_CIDRS:
                found[
                    (
                        inputs.get("ipProtocol"),
                        inputs.get("fromPort"),
                        inputs.get("toPort"),
                        inputs[key],
                    )
                ] = key
    return found


def _open_cidrs(rule: Mapping[str, Any], prefix: str) -> Iterator[tuple[tuple[Any, ...], str]]:
    for key in ("cidrBlocks", "ipv6CidrBlocks"):
        blocks = rule.get(key)
        for index, cidr in enumerate(blocks if isinstance(blocks, list) else []):
            if cidr in OPEN_CIDRS:
                path = f"{prefix}.{key}[{index}]" if prefix else f"{key}[{index}]"
                yield (rule.get("protocol"), rule.get("fromPort"), rule.get("toPort"), cidr), path


def opened_ingress(change: ResourceChange) -> list[str]:
    """Paths of ingress rules open to 0.0.0.0/0 or ::/0 that the change adds."""
    if change.op == "delete":
        return []
    before = _open_rules(change.type, change.old_inputs)
    after = _open_rules(change.type, change.new_inputs)
    return [path for key, path in after.items() if key not in before]


# -- IAM wildcards -----------------------------------------------------------------------


def _policy_documents(inputs: Mapping[str, Any] | None) -> Iterator[tuple[str, Any]]:
    if not inputs:
        return
    for key in ("policy", "assumeRolePolicy"):
        if key in inputs:
            yield key, inputs[key]
    inline = inputs.get("inlinePolicies")
    for index, item in enumerate(inline if isinstance(inline, list) else []):
        if isinstance(item, dict) and "policy" in item:
            yield f"inlinePolicies[{index}].policy", item["policy"]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _wildcard_grants(document: Any) -> set[str]:
    """What an IAM or resource policy grants to everyone or for everything."""
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError:
            return set()  # "[secret]" or a value unknown until apply: nothing to read
    statements = document.get("Statement") if isinstance(document, dict) else None
    grants: set[str] = set()
    for statement in _as_list(statements):
        if not isinstance(statement, dict) or statement.get("Effect", "Allow") != "Allow":
            continue
        if "NotAction" in statement:
            grants.add("NotAction (everything but a list)")
        for action in _as_list(statement.get("Action")):
            if isinstance(action, str) and (action == "*" or action.endswith(":*")):
                grants.add(f"Action {action}")
        principal = statement.get("Principal")
        if principal == "*" or (
            isinstance(principal, dict) and "*" in _as_list(principal.get("AWS"))
        ):
            grants.add("Principal *")
    return grants


def iam_wildcards(change: ResourceChange) -> list[str]:
    """Paths (and grants) of policies that newly grant ``*`` actions or principals."""
    if change.op == "delete":
        return []
    old = dict(_policy_documents(change.old_inputs))
    found: list[str] = []
    for path, document in _policy_documents(change.new_inputs):
        added = _wildcard_grants(document) - _wildcard_grants(old.get(path))
        found.extend(f"{path}: {grant}" for grant in sorted(added))
    arn = (change.new_inputs or {}).get("policyArn")
    old_arn = (change.old_inputs or {}).get("policyArn")
    if isinstance(arn, str) and arn.endswith(ADMIN_POLICY_SUFFIXES) and arn != old_arn:
        found.append(f"policyArn: {arn.rsplit('/', 1)[-1]}")
    return found


# -- engine / major version --------------------------------------------------------------


def _top_key(path: str) -> str:
    return path.split(".", 1)[0].split("[", 1)[0]


def _major(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return None
    text = str(value).strip().lower().removeprefix("v")
    return text.split(".", 1)[0] or None


def version_replace_reasons(change: ResourceChange) -> list[str]:
    """Replace reasons that are an engine change or a major-version change."""
    if change.op != "replace":
        return []
    old = change.old_inputs or {}
    new = change.new_inputs or {}
    found: list[str] = []
    for reason in change.replace_reasons:
        key = _top_key(reason)
        lowered = key.lower()
        if lowered == "engine" and old.get(key) != new.get(key):
            found.append(f"{reason}: {old.get(key)} → {new.get(key)}")
        elif lowered.endswith("version"):
            before, after = _major(old.get(key)), _major(new.get(key))
            if before is None or after is None or before != after:
                found.append(f"{reason}: {old.get(key)} → {new.get(key)}")
    return found
