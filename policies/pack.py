"""The rules as CrossGuard policies: a thin adapter between ``pulumi_policy`` and our model.

CrossGuard fixes a policy's enforcement level when the pack starts, before it knows the
stack; our enforcement depends on the stack's tier. So every rule becomes two policies,
``<id>`` (mandatory) and ``<id>-advisory`` (advisory), and each reports a violation only
when the tier of the resource's stack gives the rule its own level; the other answers
"not applicable" with the reason. Waivers apply here exactly as in the offline harness.

Nothing here constructs ``PolicyPack`` (that starts a gRPC server and blocks): only
``policies/__main__.py`` does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import (
    UNKNOWN_ARCHIVE_VALUE,
    UNKNOWN_ARRAY_VALUE,
    UNKNOWN_ASSET_VALUE,
    UNKNOWN_BOOLEAN_VALUE,
    UNKNOWN_NUMBER_VALUE,
    UNKNOWN_OBJECT_VALUE,
    UNKNOWN_STRING_VALUE,
)

from policies.config import PolicyConfig
from policies.evaluate import evaluate, load_settings
from policies.model import (
    UNKNOWN,
    Enforcement,
    Resource,
    Rule,
    RuleContext,
    stack_of,
)
from policies.rules.registry import ALL_RULES
from policies.waivers import Waiver

PACK_NAME = "sre-platform"
ADVISORY_SUFFIX = "-advisory"
_LEVELS: Mapping[Enforcement, EnforcementLevel] = {
    "mandatory": EnforcementLevel.MANDATORY,
    "advisory": EnforcementLevel.ADVISORY,
}
_UNKNOWN_SENTINELS = frozenset(
    {
        UNKNOWN_BOOLEAN_VALUE,
        UNKNOWN_NUMBER_VALUE,
        UNKNOWN_STRING_VALUE,
        UNKNOWN_ARRAY_VALUE,
        UNKNOWN_ASSET_VALUE,
        UNKNOWN_ARCHIVE_VALUE,
        UNKNOWN_OBJECT_VALUE,
    }
)

Clock = Callable[[], datetime]


def plain(value: Any) -> Any:
    """Props as plain dicts and lists with unknowns as :data:`UNKNOWN`.

    ``pulumi_policy`` wraps props in proxies that raise on reading an unknown value; the
    rules must see the unknown instead and decide (they skip what they cannot judge).
    """
    target = _proxy_target(value)
    if isinstance(target, Mapping):
        return {str(key): plain(item) for key, item in target.items()}
    if isinstance(target, list | tuple):
        return [plain(item) for item in target]
    if isinstance(target, str) and target in _UNKNOWN_SENTINELS:
        return UNKNOWN
    return target


def _proxy_target(value: Any) -> Any:
    if isinstance(value, str | bytes | int | float | bool) or value is None:
        return value
    try:
        return value["__target"]  # the proxies' documented-in-code escape hatch
    except (KeyError, IndexError, TypeError):
        return value


def resource_from_args(args: ResourceValidationArgs) -> Resource:
    return Resource(
        type=args.resource_type,
        name=args.name,
        urn=args.urn,
        inputs=plain(args.props),
        protect=bool(args.opts.protect),
        parent=args.opts.parent or "",
    )


def resource_from_stack(resource: PolicyResource) -> Resource:
    """A stack policy sees *outputs*; the rules that run there read names, types,
    ``protect`` and how resources depend on each other."""
    return Resource(
        type=resource.resource_type,
        name=resource.name,
        urn=resource.urn,
        inputs=plain(resource.props),
        protect=bool(resource.opts.protect),
        parent=resource.parent.urn if resource.parent is not None else "",
        property_dependencies={
            key: tuple(dependency.urn for dependency in dependencies)
            for key, dependencies in resource.property_dependencies.items()
        },
    )


class _Reporter:
    """Reports a rule's violations at one enforcement level, honouring waivers."""

    def __init__(
        self,
        rule: Rule,
        level: Enforcement,
        config: PolicyConfig,
        waivers: Sequence[Waiver],
        clock: Clock,
    ) -> None:
        self.rule, self.level, self.config = rule, level, config
        self.waivers, self.clock = waivers, clock

    def context(self, stack: str, not_applicable: Callable[[str], None]) -> RuleContext | None:
        tier = self.config.tier_of(stack)
        enforced = self.config.enforcement_of(self.rule.id, tier)
        if enforced != self.level:
            not_applicable(f"{self.rule.id} is {enforced} in the {tier} tier ({stack})")
            return None
        return RuleContext(stack=stack, tier=tier, config=self.config, now=self.clock())

    def report(
        self,
        resources: Sequence[Resource],
        context: RuleContext,
        report_violation: ReportViolation,
        not_applicable: Callable[[str], None],
    ) -> None:
        """Run the rule as the offline harness runs it, and report what the harness would
        count: waived findings are left out, an expired waiver is named."""
        result = evaluate(
            resources,
            context.tier,
            self.config,
            stack=context.stack,
            waivers=self.waivers,
            now=context.now,
            rules=[self.rule],
        )
        if self.rule.id not in result.applicable:
            not_applicable(f"{self.rule.id} does not concern this resource")
            return
        for finding in result.findings:
            if finding.waiver is not None:
                continue
            message = finding.message
            if finding.expired_waiver is not None:
                lapsed = finding.expired_waiver
                message += f" (waiver expired {lapsed.expires.isoformat()}: {lapsed.reason})"
            # A resource policy's violation is the resource's; a stack policy names it.
            report_violation(message, finding.urn if self.rule.scope == "stack" else None)


def _names(rule: Rule) -> Iterator[tuple[str, Enforcement]]:
    yield rule.id, "mandatory"
    yield rule.id + ADVISORY_SUFFIX, "advisory"


def build_policies(
    config: PolicyConfig,
    waivers: Sequence[Waiver] = (),
    *,
    rules: Sequence[Rule] = ALL_RULES,
    clock: Clock = lambda: datetime.now(UTC),
) -> list[Policy]:
    """Two CrossGuard policies per rule (see the module docstring), in rule order."""
    policies: list[Policy] = []
    for rule in rules:
        for name, level in _names(rule):
            reporter = _Reporter(rule, level, config, waivers, clock)
            common: dict[str, Any] = {
                "name": name,
                "description": rule.description,
                "enforcement_level": _LEVELS[level],
                "severity": Severity(rule.severity),
                "remediation_steps": rule.remediation,
            }
            if rule.scope == "stack":
                policies.append(
                    StackValidationPolicy(validate=_stack_validation(reporter), **common)
                )
            else:
                policies.append(
                    ResourceValidationPolicy(validate=_resource_validation(reporter), **common)
                )
    return policies


def _resource_validation(
    reporter: _Reporter,
) -> Callable[[ResourceValidationArgs, ReportViolation], None]:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        context = reporter.context(stack_of(args.urn), args.not_applicable)
        if context is None:
            return
        resource = resource_from_args(args)
        reporter.report([resource], context, report_violation, args.not_applicable)

    return validate


def _stack_validation(
    reporter: _Reporter,
) -> Callable[[StackValidationArgs, ReportViolation], None]:
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        resources = [resource_from_stack(resource) for resource in args.resources]
        if not resources:
            args.not_applicable("the stack declares no resources")
            return
        context = reporter.context(stack_of(resources[0].urn), args.not_applicable)
        if context is None:
            return
        reporter.report(resources, context, report_violation, args.not_applicable)

    return validate


def load_pack(pack_dir: str | Path, *, clock: Clock = lambda: datetime.now(UTC)) -> list[Policy]:
    """The policies, with the settings and waivers files of ``pack_dir`` applied."""
    settings = load_settings(Path(pack_dir))
    return build_policies(settings.config, settings.waivers, clock=clock)
