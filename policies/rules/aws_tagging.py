"""Tags on AWS resources: who owns a resource, which team pays for it, when it goes away.

Only the ``tags`` input counts. ``tagsAll`` is an output, and tags the AWS provider adds
from its ``defaultTags`` setting are not part of a resource's inputs, so a stack that
relies on provider default tags must still set them on each resource (the components do,
through ``components.test_environment.metadata.aws_tags``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from policies.aws_taggable import taggable_types
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
from policies.tagging import missing_tags

EXPIRES_AT = "expires-at"


def tag_map(tags: Any) -> Mapping[str, Any] | None:
    """``tags`` as a key → value mapping, or None when it cannot be read (unknown).

    Almost every type takes a map; ``aws:autoscaling/group:Group`` takes a list of
    ``{key, value, propagateAtLaunch}`` objects. An absent input is an empty mapping.
    """
    if tags is None:
        return {}
    if is_unknown(tags):
        return None
    if isinstance(tags, Mapping):
        return tags
    if isinstance(tags, Sequence) and not isinstance(tags, str | bytes):
        pairs: dict[str, Any] = {}
        for item in tags:
            if isinstance(item, Mapping) and isinstance(item.get("key"), str):
                pairs[item["key"]] = item.get("value")
            elif is_unknown(item) or (isinstance(item, Mapping) and is_unknown(item.get("key"))):
                return None  # an unknown entry could be any of the required keys
        return pairs
    return {}


def expiry_problem(value: Any, ctx: RuleContext) -> str | None:
    """Why an ``expires-at`` value is unacceptable, or None (also when it is unknown).

    It must be an ISO-8601 time with a timezone (``2026-11-30T12:00:00Z``) no more than
    ``tagging.max_lifetime_days`` after now. A time in the past is accepted: expired
    environments are reaped elsewhere.
    """
    if is_unknown(value):
        return None
    limit_days = ctx.config.tagging.max_lifetime_days
    shown = repr(value)
    if not isinstance(value, str):
        return f"tag {EXPIRES_AT}={shown} is not an ISO-8601 UTC time like 2026-11-30T12:00:00Z"
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return f"tag {EXPIRES_AT}={shown} is not an ISO-8601 UTC time like 2026-11-30T12:00:00Z"
    if moment.tzinfo is None or moment.utcoffset() is None:
        return (
            f"tag {EXPIRES_AT}={shown} has no timezone; write it in UTC like 2026-11-30T12:00:00Z"
        )
    now = ctx.now if ctx.now.tzinfo is not None else ctx.now.replace(tzinfo=UTC)
    latest = now + timedelta(days=limit_days)
    if moment > latest:
        return (
            f"tag {EXPIRES_AT}={shown} is more than {limit_days} days from now "
            f"(latest allowed: {latest.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')})"
        )
    return None


@resource_rule(
    "aws-required-tags",
    "Every taggable AWS resource carries the required tags (owner, team, environment, "
    "managed-by; in test stacks also an expires-at time within the maximum lifetime).",
    "medium",
    "Set the resource's `tags` input to include every key in `tagging.required` (and, in "
    "test stacks, `expires-at` as an ISO-8601 UTC time such as 2026-11-30T12:00:00Z, at "
    "most `tagging.max_lifetime_days` ahead); the components add them with "
    "`components.test_environment.metadata.aws_tags`.",
)
def required_tags(resource: Resource, ctx: RuleContext) -> Outcome:
    if not resource.type.startswith("aws:") or resource.type not in taggable_types():
        return NOT_APPLICABLE
    tags = tag_map(resource.get("tags"))
    if tags is None:
        return []
    required = tuple(ctx.config.tagging.required)
    if ctx.tier == "test":
        required += tuple(k for k in ctx.config.tagging.required_in_test if k not in required)
    found: list[Violation] = []
    missing = missing_tags(tags, required)
    if missing:
        found.append(
            Violation(
                f"{resource.label} is missing required tags "
                f"{', '.join(missing)} in its `tags` input",
                resource.urn,
            )
        )
    if ctx.tier == "test" and EXPIRES_AT in required and EXPIRES_AT not in missing:
        problem = expiry_problem(tags.get(EXPIRES_AT), ctx)
        if problem is not None:
            found.append(Violation(f"{resource.label}: {problem}", resource.urn))
    return found


RULES: tuple[Rule, ...] = (required_tags,)
