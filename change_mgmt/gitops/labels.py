"""Kubernetes label syntax and label selectors, as Argo CD's cluster generator applies them.

A selector is Kubernetes' ``LabelSelector``: every ``matchLabels`` pair and every
``matchExpressions`` requirement must hold (AND). ``In`` needs the key with one of the
values; ``NotIn`` holds when the key is absent or its value is not listed; ``Exists`` and
``DoesNotExist`` look at the key only and take no values.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from policies.naming import label_key_problem

# Argo CD sets its own labels on a cluster Secret (argocd.argoproj.io/secret-type).
ARGOCD_PREFIX = "argocd.argoproj.io/"
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def label_value_problem(value: str) -> str | None:
    """Why ``value`` is not a Kubernetes label value, else ``None``."""
    if len(value) > 63 or not _LABEL_VALUE.match(value):
        return (
            f"{value[:70]!r} is not a Kubernetes label value: at most 63 letters, digits, "
            "'-', '_' or '.', starting and ending with a letter or digit (or empty)"
        )
    return None


def _key(key: str) -> str:
    problem = label_key_problem(key, owned_prefixes=(ARGOCD_PREFIX,))
    if problem:
        raise ValueError(problem)
    return key


def _value(value: str) -> str:
    problem = label_value_problem(value)
    if problem:
        raise ValueError(problem)
    return value


LabelKey = Annotated[str, AfterValidator(_key)]
LabelValue = Annotated[str, AfterValidator(_value)]
Labels = dict[LabelKey, LabelValue]


class Operator(StrEnum):
    IN = "In"
    NOT_IN = "NotIn"
    EXISTS = "Exists"
    DOES_NOT_EXIST = "DoesNotExist"


class Requirement(BaseModel):
    """One ``matchExpressions`` entry."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: LabelKey
    operator: Operator
    values: list[LabelValue] = Field(default_factory=list)

    @model_validator(mode="after")
    def _values_fit_operator(self) -> Requirement:
        takes_values = self.operator in (Operator.IN, Operator.NOT_IN)
        if takes_values and not self.values:
            raise ValueError(f"operator {self.operator} needs at least one value")
        if not takes_values and self.values:
            raise ValueError(f"operator {self.operator} takes no values; remove values")
        return self

    def matches(self, labels: Mapping[str, str]) -> bool:
        match self.operator:
            case Operator.IN:
                return labels.get(self.key) in self.values
            case Operator.NOT_IN:
                return self.key not in labels or labels[self.key] not in self.values
            case Operator.EXISTS:
                return self.key in labels
            case Operator.DOES_NOT_EXIST:
                return self.key not in labels


class LabelSelector(BaseModel):
    """Which clusters an application goes to. An empty selector would match every
    cluster registered now and later, so it is refused: say ``cluster-id Exists`` when
    that is meant."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    matchLabels: Labels = Field(default_factory=dict)
    matchExpressions: list[Requirement] = Field(default_factory=list)

    @model_validator(mode="after")
    def _not_empty(self) -> LabelSelector:
        if not self.matchLabels and not self.matchExpressions:
            raise ValueError(
                "an empty selector matches every cluster, now and later; to mean that, "
                "write matchExpressions: [{key: cluster-id, operator: Exists}]"
            )
        return self

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(labels.get(k) == v for k, v in self.matchLabels.items()) and all(
            r.matches(labels) for r in self.matchExpressions
        )

    def as_kubernetes(self) -> dict[str, object]:
        """The selector as Kubernetes and Argo CD write it (empty parts left out)."""
        selector: dict[str, object] = {}
        if self.matchLabels:
            selector["matchLabels"] = dict(self.matchLabels)
        if self.matchExpressions:
            selector["matchExpressions"] = [
                {
                    "key": r.key,
                    "operator": str(r.operator),
                    **({"values": r.values} if r.values else {}),
                }
                for r in self.matchExpressions
            ]
        return selector
