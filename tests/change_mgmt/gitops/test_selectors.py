"""Label selectors as Kubernetes defines them, and label syntax."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from change_mgmt.gitops.labels import LabelSelector, label_value_problem

LABELS = {"cluster-type": "customer", "cluster-id": "c-1", "region": "us-east-1"}


def selector(**fields: object) -> LabelSelector:
    return LabelSelector.model_validate(fields)


def expr(key: str, operator: str, *values: str) -> dict[str, object]:
    return {"key": key, "operator": operator, **({"values": list(values)} if values else {})}


@pytest.mark.parametrize(
    ("requirement", "matches"),
    [
        (expr("cluster-type", "In", "cnc", "customer"), True),
        (expr("cluster-type", "In", "cnc"), False),
        (expr("backup", "In", "enabled"), False),  # In needs the key
        (expr("cluster-type", "NotIn", "cnc"), True),
        (expr("cluster-type", "NotIn", "customer"), False),
        (expr("backup", "NotIn", "disabled"), True),  # NotIn holds without the key
        (expr("region", "Exists"), True),
        (expr("backup", "Exists"), False),
        (expr("backup", "DoesNotExist"), True),
        (expr("region", "DoesNotExist"), False),
    ],
)
def test_each_operator(requirement: dict[str, object], matches: bool) -> None:
    assert selector(matchExpressions=[requirement]).matches(LABELS) is matches


def test_match_labels_and_expressions_must_all_hold() -> None:
    both = selector(
        matchLabels={"cluster-type": "customer"},
        matchExpressions=[expr("region", "In", "us-west-2")],
    )
    assert not both.matches(LABELS)
    assert both.matches({**LABELS, "region": "us-west-2"})
    assert not selector(matchLabels={"cluster-type": "customer", "region": "eu"}).matches(LABELS)


@pytest.mark.parametrize(
    ("requirement", "message"),
    [
        (expr("a", "In"), "operator In needs at least one value"),
        (expr("a", "NotIn"), "operator NotIn needs at least one value"),
        (expr("a", "Exists", "x"), "operator Exists takes no values"),
        (expr("a", "DoesNotExist", "x"), "operator DoesNotExist takes no values"),
        (expr("a", "Equals", "x"), "Input should be 'In', 'NotIn', 'Exists' or 'DoesNotExist'"),
    ],
)
def test_operators_take_values_as_kubernetes_says(
    requirement: dict[str, object], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        selector(matchExpressions=[requirement])


def test_an_empty_selector_is_refused() -> None:
    with pytest.raises(ValidationError, match="an empty selector matches every cluster"):
        selector()


@pytest.mark.parametrize("value", ["", "a", "us-east-1", "A_b.c", "x" * 63])
def test_label_values_kubernetes_accepts(value: str) -> None:
    assert label_value_problem(value) is None


@pytest.mark.parametrize("value", ["-a", "a-", "a b", "é", "x" * 64, "a/b"])
def test_label_values_kubernetes_refuses(value: str) -> None:
    assert label_value_problem(value) is not None
