from __future__ import annotations

from policies.cost import estimate_monthly_cost
from policies.model import UNKNOWN
from tests.policies.conftest import resource


def test_storage_unknown_at_preview_time_is_left_out_and_said_so() -> None:
    known = resource(
        "aws:rds/instance:Instance", "a", {"instanceClass": "db.t4g.medium", "allocatedStorage": 20}
    )
    unknown = resource(
        "aws:rds/instance:Instance",
        "b",
        {"instanceClass": "db.t4g.medium", "allocatedStorage": UNKNOWN},
    )
    lines = {line.resource: line for line in estimate_monthly_cost([known, unknown]).lines}
    assert lines["a"].monthly == round(0.065 * 730 + 20 * 0.115, 2)
    assert lines["b"].monthly == round(0.065 * 730, 2) and lines["b"].basis.endswith(
        "storage not known"
    )


def test_an_unknown_instance_class_is_unpriced_not_guessed() -> None:
    db = resource("aws:rds/instance:Instance", "a", {"instanceClass": UNKNOWN})
    estimate = estimate_monthly_cost([db])
    assert estimate.lines == [] and [r.name for r in estimate.unpriced] == ["a"]
