"""The offline harness: every rule over a stack's resources, without an engine.

``evaluate(resources, tier, config)`` is what the pack does during ``pulumi preview``,
done in-process over resources captured from a mocks run (``stacks.mock_engine``) or
built by hand. It applies enforcement per tier and waivers, and returns a
:class:`PolicyReport` whose findings carry rule, resource, message and remediation.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol

from policies.config import CONFIG_FILE, DEFAULT_CONFIG, PolicyConfig, load_config
from policies.cost import Declared as Priced
from policies.model import (
    Enforcement,
    Resource,
    Rule,
    RuleContext,
    Severity,
    Tier,
    Violation,
    is_applicable,
)
from policies.rules.registry import ALL_RULES
from policies.waivers import WAIVERS_FILE, Waiver, load_waivers, waiver_for

SCHEMA = "sre-platform/policy-report/v1"

Status = Literal["violation", "waived"]


class Declared(Priced, Protocol):
    """Anything that looks like a declared resource (``stacks.mock_engine`` has one)."""

    @property
    def urn(self) -> str: ...

    @property
    def protect(self) -> bool: ...

    @property
    def parent(self) -> str: ...

    @property
    def property_dependencies(self) -> Mapping[str, tuple[str, ...]]: ...


@dataclass(frozen=True)
class Finding:
    """One violation of one rule by one resource (or by the stack as a whole)."""

    rule: Rule
    enforcement: Enforcement
    message: str
    urn: str | None
    resource_type: str | None
    resource_name: str | None
    waiver: Waiver | None = None
    expired_waiver: Waiver | None = None

    @property
    def severity(self) -> Severity:
        return self.rule.severity

    @property
    def status(self) -> Status:
        return "waived" if self.waiver is not None else "violation"

    @property
    def blocking(self) -> bool:
        return self.enforcement == "mandatory" and self.waiver is None

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule.id,
            "severity": self.rule.severity,
            "enforcement": self.enforcement,
            "status": self.status,
            "blocking": self.blocking,
            "resource": {"urn": self.urn, "type": self.resource_type, "name": self.resource_name},
            "message": self.message,
            "remediation": self.rule.remediation,
            "docs": self.rule.docs,
            "waiver": _waiver_dict(self.waiver),
            "expired_waiver": _waiver_dict(self.expired_waiver),
        }


@dataclass(frozen=True)
class PolicyReport:
    stack: str
    tier: Tier
    findings: tuple[Finding, ...]
    rules_run: int
    expired_waivers: tuple[Waiver, ...] = field(default=())
    # Ids of the rules that concerned something here (the others were not applicable).
    applicable: frozenset[str] = field(default=frozenset())

    @property
    def blocking(self) -> tuple[Finding, ...]:
        return tuple(finding for finding in self.findings if finding.blocking)

    @property
    def passed(self) -> bool:
        return not self.blocking

    def as_dict(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "tier": self.tier,
            "passed": self.passed,
            "rules_run": self.rules_run,
            "findings": [finding.as_dict() for finding in self.findings],
            "expired_waivers": [_waiver_dict(waiver) for waiver in self.expired_waivers],
        }


def _waiver_dict(waiver: Waiver | None) -> dict[str, str] | None:
    if waiver is None:
        return None
    return {
        "rule": waiver.rule,
        "resource": waiver.resource,
        "reason": waiver.reason,
        "owner": waiver.owner,
        "expires": waiver.expires.isoformat(),
    }


@dataclass(frozen=True)
class PackSettings:
    """A repository's pack settings and waivers (``policies/config.yaml``, ``waivers.yaml``)."""

    config: PolicyConfig = DEFAULT_CONFIG
    waivers: tuple[Waiver, ...] = ()


def load_settings(pack_dir: Path, *, shown_dir: str | None = None) -> PackSettings:
    """Read the settings and waivers of the pack in ``pack_dir`` (missing files: defaults).

    Raises ``DocumentError`` naming file, line and field for a bad file.
    """
    shown = shown_dir or str(pack_dir)
    config = load_config(pack_dir / CONFIG_FILE, shown_path=f"{shown}/{CONFIG_FILE}")
    waivers = load_waivers(
        pack_dir / WAIVERS_FILE,
        known_rules={rule.id for rule in ALL_RULES},
        shown_path=f"{shown}/{WAIVERS_FILE}",
    )
    return PackSettings(config, waivers)


def as_resource(declared: Declared | Resource) -> Resource:
    """A rule's view of a declared resource.

    Inputs are taken as they are: a mock run's secret inputs stay wrapped (their ``str``
    is ``[secret]``), so no rule message can ever echo a secret; no rule needs one's value.
    """
    if isinstance(declared, Resource):
        return declared
    return Resource(
        type=declared.type,
        name=declared.name,
        urn=declared.urn,
        inputs=declared.inputs,
        protect=declared.protect,
        parent=declared.parent,
        property_dependencies=declared.property_dependencies,
    )


def evaluate(
    resources: Iterable[Declared | Resource],
    tier: Tier | None = None,
    config: PolicyConfig = DEFAULT_CONFIG,
    *,
    stack: str = "",
    waivers: Sequence[Waiver] = (),
    now: datetime | None = None,
    rules: Sequence[Rule] = ALL_RULES,
) -> PolicyReport:
    """Run ``rules`` over ``resources`` of one stack.

    The tier is ``tier`` when given, else the config's tier of ``stack``. A rule whose
    enforcement in that tier is ``disabled`` does not run.
    """
    moment = now or datetime.now(UTC)
    chosen = tier or config.tier_of(stack)
    context = RuleContext(stack=stack, tier=chosen, config=config, now=moment)
    views = [as_resource(item) for item in resources]
    by_urn = {resource.urn: resource for resource in views}
    findings: list[Finding] = []
    expired: dict[int, Waiver] = {}
    applicable: set[str] = set()
    rules_run = 0
    for rule in rules:
        enforcement = config.enforcement_of(rule.id, chosen)
        if enforcement == "disabled":
            continue
        rules_run += 1
        concerned, found = _violations(rule, views, context)
        if concerned:
            applicable.add(rule.id)
        for violation, subject in found:
            target = by_urn.get(violation.urn or "") or subject
            urn = violation.urn or (target.urn if target else None)
            name = target.name if target else None
            active, lapsed = waiver_for(waivers, rule.id, urn or "", name or "", moment)
            if lapsed is not None:
                expired[id(lapsed)] = lapsed
            findings.append(
                Finding(
                    rule=rule,
                    enforcement=enforcement,
                    message=violation.message,
                    urn=urn,
                    resource_type=target.type if target else None,
                    resource_name=name,
                    waiver=active,
                    expired_waiver=lapsed,
                )
            )
    findings.sort(key=_order)
    return PolicyReport(
        stack=stack,
        tier=chosen,
        findings=tuple(findings),
        rules_run=rules_run,
        expired_waivers=tuple(expired.values()),
        applicable=frozenset(applicable),
    )


def _violations(
    rule: Rule, resources: Sequence[Resource], context: RuleContext
) -> tuple[bool, list[tuple[Violation, Resource | None]]]:
    """(whether the rule concerned anything, its violations with the resource checked)."""
    if rule.scope == "stack":
        outcome = rule.check(resources, context)
        if not is_applicable(outcome):
            return False, []
        return True, [(violation, None) for violation in outcome]
    concerned = False
    found: list[tuple[Violation, Resource | None]] = []
    for resource in resources:
        outcome = rule.check(resource, context)
        if is_applicable(outcome):
            concerned = True
            found.extend((violation, resource) for violation in outcome)
    return concerned, found


_SEVERITY_RANK = {"critical": 0, "high": 1, "medium": 2, "low": 3}


def _order(finding: Finding) -> tuple[int, int, str, str]:
    """Blocking first, then by severity, rule and resource: a stable, readable order."""
    return (
        0 if finding.blocking else 1,
        _SEVERITY_RANK[finding.severity],
        finding.rule.id,
        finding.urn or "",
    )
