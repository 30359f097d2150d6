"""The cost report: per-team and per-stack figures, the non-production share."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

from change_mgmt.documents import DocumentError
from change_mgmt.environments.render import render_environment, render_platform_stack
from change_mgmt.report.cost import (
    CostReport,
    InvalidTarget,
    StackCost,
    build_cost_report,
    check_target,
)
from policies.cost import default_price_table
from tests.conftest import NOW, REPO_ROOT, request_yaml


def stack(name: str, monthly: float, tier: str, team: str | None = None) -> StackCost:
    kind = "environment" if team else "platform"
    return StackCost(name, kind, tier, monthly, (), f"{name}.yaml", team=team)


def report_of(*stacks: StackCost, target: float = 25.0) -> CostReport:
    return CostReport(table=default_price_table(), target_share=target, stacks=list(stacks))


def test_teams_add_up_their_environments_most_expensive_first() -> None:
    report = report_of(
        stack("env-a", 10.0, "test", "backend"),
        stack("env-b", 5.5, "test", "backend"),
        stack("env-c", 20.0, "test", "integrations"),
        stack("prod", 100.0, "production"),
    )
    assert [(t.team, t.environments, t.monthly) for t in report.teams] == [
        ("integrations", 1, 20.0),
        ("backend", 2, 15.5),
    ]


def test_the_share_counts_environments_dev_and_staging_against_prod() -> None:
    report = report_of(
        stack("env-a", 10.0, "test", "backend"),
        stack("dev", 5.0, "development"),
        stack("staging", 10.0, "staging"),
        stack("prod", 75.0, "production"),
    )
    assert (report.non_production, report.production, report.total) == (25.0, 75.0, 100.0)
    assert report.share == 25.0
    assert report.within_target  # at the target is within it
    assert not report_of(*report.stacks, target=24.9).within_target


def test_nothing_priced_has_no_share_and_is_not_over_target() -> None:
    report = report_of(stack("prod", 0.0, "production"))
    assert report.share is None and report.within_target


@pytest.mark.parametrize("percent", [0, -1, 100.01, 250])
def test_a_target_outside_0_to_100_is_refused(percent: float) -> None:
    with pytest.raises(InvalidTarget):
        check_target(percent)


@functools.cache
def shipped() -> CostReport:
    return build_cost_report(REPO_ROOT, NOW)


def test_the_shipped_requests_and_stacks_cost_what_their_renders_say() -> None:
    report = shipped()
    names = {s.stack for s in report.stacks}
    assert names == {"env-pg-migration-1000", "env-plugin-demo", "dev", "staging", "prod"}
    env = render_environment(REPO_ROOT, "pg-migration-1000")
    (item,) = [s for s in report.environments if s.stack == "env-pg-migration-1000"]
    assert item.monthly == env.cost.monthly_total > 0
    assert item.team == "backend"
    prod = render_platform_stack(REPO_ROOT, "prod")
    (prod_item,) = [s for s in report.platform if s.stack == "prod"]
    assert prod_item.monthly == prod.cost.monthly_total
    assert prod_item.production and not any(s.production for s in report.environments)
    assert len(prod_item.unpriced) == len(prod.cost.unpriced)
    assert {t.team for t in report.teams} == {"backend", "integrations"}
    expected = round(100 * report.non_production / report.total, 1)
    assert report.share == expected


def test_an_invalid_request_stops_the_report(git_project) -> None:
    root: Path = git_project(good=request_yaml("good"), bad="name: bad\nsize: [unclosed\n")
    with pytest.raises(DocumentError) as caught:
        build_cost_report(root, NOW, platform_stacks=())
    assert "stacks/environments/bad.yaml" in str(caught.value.problems[0])
