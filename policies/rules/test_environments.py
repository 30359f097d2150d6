"""Caps on self-serve test environments: their size and what they cost each month.

Both rules concern the ``test`` tier only and are NOT_APPLICABLE elsewhere. The database
instance class of a test environment is judged by the AWS ``rds-instance-class`` rule,
whose allowed classes are set per tier.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from policies.config import CONFIG_FILE, TestEnvironmentSettings
from policies.cost import MATTERMOST_TYPE, CostLine, estimate_monthly_cost
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
    violations,
)
from policies.rules.kubernetes import lookup

TEST_TIER = "test"
POLICY_CONFIG_PATH = f"policies/{CONFIG_FILE}"
# How many of the most expensive lines a cost violation lists.
TOP_LINES = 3


@resource_rule(
    "test-env-size-cap",
    "A test environment's Mattermost installation uses one of the allowed sizes.",
    "medium",
    "Set the request's size (the Mattermost resource's spec.size, or its "
    "sre-platform/size label when spec.size is absent) to one of "
    "test_environment.allowed_sizes, e.g. 1000users.",
)
def size_cap(resource: Resource, ctx: RuleContext) -> Outcome:
    """``spec.size`` when set (the operator sizes the app from it), and the size label
    (what the TestEnvironment component declares, as it sets replicas and resources
    itself) must both be allowed; an installation stating neither gets the operator's
    default sizing and is a violation."""
    if ctx.tier != TEST_TIER or resource.type != MATTERMOST_TYPE:
        return NOT_APPLICABLE
    settings = ctx.config.test_environment
    allowed = settings.allowed_sizes
    sources = {
        "spec.size": lookup(resource, "spec", "size"),
        f"label {settings.size_label}": _label(resource, settings.size_label),
    }
    if any(is_unknown(value) for value in sources.values()):
        return []
    stated = {source: value for source, value in sources.items() if value not in (None, "")}
    if not stated:
        return violations(
            [
                f"Mattermost '{resource.name}' states no size (neither spec.size nor label "
                f"{settings.size_label}); allowed: {', '.join(allowed)}"
            ],
            resource.urn,
        )
    return violations(
        (
            f"Mattermost '{resource.name}' {source} is {value!r}, not an allowed test "
            f"environment size ({', '.join(allowed)})"
            for source, value in stated.items()
            if not isinstance(value, str) or size_refusal(value, settings)
        ),
        resource.urn,
    )


def size_refusal(size: str, settings: TestEnvironmentSettings) -> str | None:
    """Why a request may not ask for ``size``, by the setting :func:`size_cap` enforces;
    request validation calls it so that a valid request is never refused here."""
    if size in settings.allowed_sizes:
        return None
    return (
        f"{size} is not an allowed test environment size (policy rule {size_cap.id}, "
        f"test_environment.allowed_sizes in {POLICY_CONFIG_PATH}); "
        f"use one of {', '.join(settings.allowed_sizes)}"
    )


def _label(resource: Resource, key: str) -> Any:
    labels = lookup(resource, "metadata", "labels")
    if isinstance(labels, Mapping):
        return labels.get(key)
    return labels if is_unknown(labels) else None


@dataclass(frozen=True)
class _Priced:
    """A resource as the estimator sees it: inputs not yet known are left out (unpriced),
    never guessed."""

    type: str
    name: str
    inputs: Mapping[str, Any]


def _priced(resource: Resource) -> _Priced:
    known = {key: value for key, value in resource.inputs.items() if not is_unknown(value)}
    return _Priced(resource.type, resource.name, known)


def _money(amount: float, currency: str) -> str:
    symbol = "$" if currency == "USD" else f"{currency} "
    return f"{symbol}{amount:,.2f}"


@stack_rule(
    "test-env-monthly-cost",
    "A test environment's estimated monthly cost stays within the test-environment cap.",
    "medium",
    "Choose a smaller size, database (operator-managed or aws-multitenant-rds-postgres) or "
    "filestore in the request, or raise test_environment.max_monthly_cost_usd in "
    "policies/config.yaml with the SRE team's approval.",
)
def monthly_cost(resources: Sequence[Resource], ctx: RuleContext) -> Outcome:
    if ctx.tier != TEST_TIER:
        return NOT_APPLICABLE
    cap = ctx.config.test_environment.max_monthly_cost_usd
    estimate = estimate_monthly_cost(_priced(resource) for resource in resources)
    total = estimate.monthly_total
    if total <= cap:
        return []
    currency = estimate.table.currency
    top: list[CostLine] = sorted(estimate.lines, key=lambda line: -line.monthly)[:TOP_LINES]
    shown = "; ".join(
        f"{line.resource} ({line.type}) {_money(line.monthly, currency)}: {line.basis}"
        for line in top
    )
    unpriced = f"; {len(estimate.unpriced)} resource(s) unpriced" if estimate.unpriced else ""
    urn_of = {(resource.type, resource.name): resource.urn for resource in resources}
    return [
        Violation(
            f"estimated monthly cost {_money(total, currency)} exceeds the test environment "
            f"cap of {_money(cap, 'USD')} (prices {estimate.table.region}, as of "
            f"{estimate.table.as_of}{unpriced}); most expensive: {shown}",
            urn_of.get((top[0].type, top[0].resource)),
        )
    ]


RULES: tuple[Rule, ...] = (size_cap, monthly_cost)
