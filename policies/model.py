"""What every rule sees and says: a resource, the context of its stack, and violations.

Rules are pure functions. A **resource rule** looks at one resource
(``check(resource, context)``); a **stack rule** looks at every resource of a stack at
once (``check(resources, context)``), for facts no single resource holds (a namespace
without a NetworkPolicy). Both return :data:`NOT_APPLICABLE` when the rule does not
concern what they were given, else the violations they found (none = compliant). The
same rule objects serve the CrossGuard pack (``policies/pack.py``), the offline harness
(``policies.evaluate``) and the components' own input validation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, Literal, TypeGuard

if TYPE_CHECKING:
    from policies.config import PolicyConfig

Tier = Literal["production", "staging", "test", "development"]
TIERS: tuple[Tier, ...] = ("production", "staging", "test", "development")
Severity = Literal["low", "medium", "high", "critical"]
SEVERITIES: tuple[Severity, ...] = ("low", "medium", "high", "critical")
Enforcement = Literal["mandatory", "advisory", "disabled"]


class _Unknown:
    """A value not known at preview time (it depends on another resource's output)."""

    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "<unknown>"


UNKNOWN: Final = _Unknown()
"""Stands for every unknown value, whatever engine or harness produced it."""


def is_unknown(value: object) -> bool:
    return value is UNKNOWN


@dataclass(frozen=True)
class Resource:
    """One resource as a rule sees it: its type, names and *inputs* (camelCase keys, as
    the engine sends them), and the options rules may care about.

    ``property_dependencies`` maps an input name to the URNs its value came from (how a
    bucket's public access block is tied to its bucket even when the name is unknown).
    """

    type: str
    name: str
    urn: str
    inputs: Mapping[str, Any]
    protect: bool = False
    parent: str = ""
    property_dependencies: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """How findings name the resource: its type and name."""
        return f"{self.type} {self.name!r}"

    def get(self, *path: str | int) -> Any:
        """The input at ``path`` (``get("metadata", "name")``): None when absent, UNKNOWN
        when it or anything on the way to it is not known at preview time."""
        return dig(self.inputs, *path)

    def depends_on(self, urn: str, *inputs: str) -> bool:
        """Whether any of ``inputs`` (all when none given) came from resource ``urn``."""
        names = inputs or tuple(self.property_dependencies)
        return any(urn in self.property_dependencies.get(name, ()) for name in names)


def dig(data: Any, *path: str | int) -> Any:
    """``data[p0][p1]…`` through mappings and lists: None when any step is missing,
    :data:`UNKNOWN` when the value, or anything on the way to it, is not known yet."""
    current = data
    for key in path:
        if current is UNKNOWN:
            return UNKNOWN
        if isinstance(key, int):
            if not isinstance(current, Sequence) or isinstance(current, str | bytes):
                return None
            if not -len(current) <= key < len(current):
                return None
            current = current[key]
        else:
            if not isinstance(current, Mapping):
                return None
            current = current.get(key)
    return current


def stack_of(urn: str) -> str:
    """The stack name in ``urn:pulumi:<stack>::<project>::<type>::<name>``."""
    head = urn.split("::", 1)[0]
    return head.removeprefix("urn:pulumi:") if head.startswith("urn:pulumi:") else ""


@dataclass(frozen=True)
class RuleContext:
    """Where a resource is going: the stack, its tier, the pack's settings, and now.

    ``now`` is passed in (rules never read the clock), so tests and the pack agree on
    what "expired" means.
    """

    stack: str
    tier: Tier
    config: PolicyConfig
    now: datetime


@dataclass(frozen=True)
class Violation:
    """One broken rule: what is wrong, and on which resource (stack rules name it)."""

    message: str
    urn: str | None = None


class _NotApplicable:
    def __repr__(self) -> str:
        return "NOT_APPLICABLE"


NOT_APPLICABLE: Final = _NotApplicable()
"""Returned by a rule that does not concern the resource, stack or tier it was given."""

Outcome = Sequence[Violation] | _NotApplicable
"""What a check returns: the violations found (empty when compliant), or NOT_APPLICABLE."""


def is_applicable(outcome: Outcome) -> TypeGuard[Sequence[Violation]]:
    """Whether a check concerned what it was given (its violations are then meaningful)."""
    return not isinstance(outcome, _NotApplicable)


ResourceCheck = Callable[[Resource, RuleContext], Outcome]
StackCheck = Callable[[Sequence[Resource], RuleContext], Outcome]


@dataclass(frozen=True)
class Rule:
    """A rule's identity and documentation; ``check`` does the work.

    ``id`` is stable (waivers and enforcement settings name it); ``remediation`` tells a
    person what to change; ``docs`` is the anchor in docs/policy-pack.md that explains it.
    """

    id: str
    description: str
    severity: Severity
    remediation: str
    check: Callable[..., Outcome]
    scope: Literal["resource", "stack"] = "resource"

    @property
    def docs(self) -> str:
        return f"docs/policy-pack.md#rule-{self.id}"


def resource_rule(
    id: str, description: str, severity: Severity, remediation: str
) -> Callable[[ResourceCheck], Rule]:
    """Decorate ``check(resource, context)`` into a resource :class:`Rule`."""

    def wrap(check: ResourceCheck) -> Rule:
        return Rule(id, description, severity, remediation, check, "resource")

    return wrap


def stack_rule(
    id: str, description: str, severity: Severity, remediation: str
) -> Callable[[StackCheck], Rule]:
    """Decorate ``check(resources, context)`` into a stack :class:`Rule`."""

    def wrap(check: StackCheck) -> Rule:
        return Rule(id, description, severity, remediation, check, "stack")

    return wrap


def violations(messages: Iterable[str], urn: str | None = None) -> list[Violation]:
    """Violations of one resource from plain messages."""
    return [Violation(message, urn) for message in messages]


def walk(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every (dotted path, leaf or container) pair under ``value``, depth first."""
    yield path, value
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from walk(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from walk(item, f"{path}[{index}]")
