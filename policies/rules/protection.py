"""Production resources that hold data are declared ``protect=True``.

A protected resource cannot be deleted (or replaced by delete-then-create) until someone
removes the protection in code: one review more between a typo and lost data. Which
types hold data is ``protection.stateful_types`` (shell-style patterns, case-sensitive,
so ``aws:rds/*`` covers every RDS type).
"""

from __future__ import annotations

from collections.abc import Sequence
from fnmatch import fnmatchcase

from policies.model import (
    NOT_APPLICABLE,
    Outcome,
    Resource,
    Rule,
    RuleContext,
    Violation,
    stack_rule,
)

PRODUCTION_TIER = "production"


def stateful_pattern(resource_type: str, patterns: Sequence[str]) -> str | None:
    """The first pattern of ``patterns`` that ``resource_type`` matches, or None."""
    return next((p for p in patterns if fnmatchcase(resource_type, p)), None)


@stack_rule(
    "production-stateful-protected",
    "In production every resource that holds data is declared with protect=True, so no "
    "update can delete it without a code change first.",
    "high",
    "Declare the resource with opts=pulumi.ResourceOptions(protect=True); to delete it on "
    "purpose, first merge a change that sets protect=False.",
)
def stateful_protected(resources: Sequence[Resource], ctx: RuleContext) -> Outcome:
    if ctx.tier != PRODUCTION_TIER:
        return NOT_APPLICABLE
    patterns = ctx.config.protection.stateful_types
    found: list[Violation] = []
    for resource in resources:
        pattern = stateful_pattern(resource.type, patterns)
        if pattern is None or resource.protect:
            continue
        shown = "" if pattern == resource.type else f" (matches {pattern!r})"
        found.append(
            Violation(
                f"{resource.type} '{resource.name}' holds data{shown} but is not protected: "
                "set protect=True",
                resource.urn,
            )
        )
    return found


RULES: tuple[Rule, ...] = (stateful_protected,)
