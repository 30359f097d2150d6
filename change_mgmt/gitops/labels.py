"""Kubernetes label syntax and label selectors, as Argo CD's cluster generator applies them.

A selector is Kubernetes' ``LabelSelector``: every ``matchLabels`` pair and every
``matchExpressions`` requirement must hold (AND). ``In`` needs the key with one of the
values; ``NotIn`` holds when the key is absent or its value is not listed; ``Exists`` and
``DoesNotExist`` look at the key only and take no values. The matching itself is
``components.label_selectors`` (the one matcher the component and the gate use too);
these models only validate the data files' syntax.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from components.label_selectors import LabelRequirement, operator_problem
from components.label_selectors import LabelSelector as SelectorSpec
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
        if problem := operator_problem(str(self.operator), self.values):
            raise ValueError(problem)
        return self

    def as_spec(self) -> LabelRequirement:
        return LabelRequirement(self.key, self.operator.value, tuple(self.values))


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

    def as_spec(self) -> SelectorSpec:
        """The selector as the component and the matcher take it."""
        return SelectorSpec(
            dict(self.matchLabels), tuple(r.as_spec() for r in self.matchExpressions)
        )

    def matches(self, labels: Mapping[str, str]) -> bool:
        return self.as_spec().matches(labels)

    def as_kubernetes(self) -> dict[str, object]:
        """The selector as Kubernetes and Argo CD write it (empty parts left out)."""
        return self.as_spec().document()
