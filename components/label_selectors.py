"""Kubernetes label selectors (``LabelSelector``): the one matcher of the project.

Pure and light (stdlib only), so the GitOps data checks of ``change_mgmt`` and the gate's
GitOps rules use it too without importing Pulumi. Semantics are Kubernetes': every
``matchLabels`` pair and every ``matchExpressions`` requirement must hold (AND). ``In``
needs the key with one of the values; ``NotIn`` holds when the key is absent or its value
is not listed; ``Exists`` and ``DoesNotExist`` look at the key only and take no values.
An operator this module does not know never matches (fail closed).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Literal

Operator = Literal["In", "NotIn", "Exists", "DoesNotExist"]
OPERATORS: tuple[Operator, ...] = ("In", "NotIn", "Exists", "DoesNotExist")
VALUE_OPERATORS = frozenset({"In", "NotIn"})


def requirement_matches(
    key: str, operator: str, values: Collection[str], labels: Mapping[str, str]
) -> bool:
    """Whether ``labels`` satisfy one requirement; False for an unknown operator."""
    present = key in labels
    if operator == "In":
        return present and labels[key] in values
    if operator == "NotIn":
        return not present or labels[key] not in values
    if operator == "Exists":
        return present
    return operator == "DoesNotExist" and not present


def operator_problem(operator: str, values: Collection[str]) -> str | None:
    """Why ``operator`` with ``values`` is not a valid requirement, else ``None``."""
    if operator not in OPERATORS:
        return f"operator {operator!r} is not one of {', '.join(OPERATORS)}"
    if operator in VALUE_OPERATORS and not values:
        return f"operator {operator} needs at least one value"
    if operator not in VALUE_OPERATORS and values:
        return f"operator {operator} takes no values; remove values"
    return None


@dataclass(frozen=True)
class LabelRequirement:
    """One ``matchExpressions`` entry."""

    key: str
    operator: Operator
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        return requirement_matches(self.key, self.operator, self.values, labels)

    def document(self) -> dict[str, object]:
        found: dict[str, object] = {"key": self.key, "operator": self.operator}
        if self.values:
            found["values"] = list(self.values)
        return found


@dataclass(frozen=True)
class LabelSelector:
    """A Kubernetes ``LabelSelector``. Empty, it selects everything (callers refuse that)."""

    match_labels: Mapping[str, str] = field(default_factory=dict)
    match_expressions: tuple[LabelRequirement, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.match_labels and not self.match_expressions

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(
            requirement_matches(key, "In", (value,), labels)
            for key, value in self.match_labels.items()
        ) and all(r.matches(labels) for r in self.match_expressions)

    def document(self) -> dict[str, object]:
        """As Kubernetes and Argo CD write it, empty parts left out."""
        found: dict[str, object] = {}
        if self.match_labels:
            found["matchLabels"] = dict(self.match_labels)
        if self.match_expressions:
            found["matchExpressions"] = [r.document() for r in self.match_expressions]
        return found
