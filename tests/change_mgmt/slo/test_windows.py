"""Alert windows: burn factors as Sloth computes them, and bad windows files."""

from __future__ import annotations

from pathlib import Path

import pytest

from change_mgmt.documents import DocumentError
from change_mgmt.slo.errors import SloError
from change_mgmt.slo.formats import parse_duration
from change_mgmt.slo.windows import burn_factor, load_windows_file, windows_for

H = parse_duration("1h")


def factors(period: str) -> list[float]:
    return [window.burn_factor for window in windows_for(period)]


def test_thirty_days_are_the_workbooks_14_4_6_3_1() -> None:
    assert factors("30d") == [14.4, 6.0, 3.0, 1.0]


def test_seven_days_are_the_teams_windows() -> None:
    windows = windows_for("7d")
    assert [(w.error_budget_percent, w.short_window // H, w.long_window // H) for w in windows] == [
        (8, 0, 1),
        (12.5, 0, 6),
        (20, 2, 24),
        (42, 6, 72),
    ]
    assert factors("7d") == pytest.approx([13.44, 3.5, 1.4, 0.98])
    assert windows.page_quick.short_window == parse_duration("5m")
    assert windows.page_slow.short_window == parse_duration("30m")


def test_twenty_eight_days_are_sloths_four_weeks() -> None:
    assert factors("28d") == pytest.approx([13.44, 5.6, 2.8, 0.9333333], rel=1e-6)


def test_the_default_period_is_the_platforms_seven_days() -> None:
    assert windows_for().period == parse_duration("7d")


def test_burn_factor_is_budget_share_times_period_over_long_window() -> None:
    # 2 % of 30 days spent within 1 hour: 0.02 × 720 h / 1 h.
    assert burn_factor(2, parse_duration("30d"), H) == pytest.approx(14.4)
    assert burn_factor(42, parse_duration("7d"), parse_duration("3d")) == pytest.approx(0.98)


def test_an_unknown_period_needs_a_windows_file() -> None:
    with pytest.raises(
        SloError, match=r"no alert windows for a 14d SLO period \(shipped: 1w, 4w, 30d\)"
    ):
        windows_for("14d")
    with pytest.raises(SloError, match="is not a Prometheus duration"):
        windows_for("a week")


WINDOWS = """\
apiVersion: sloth.slok.dev/v1
kind: AlertWindows
spec:
  sloPeriod: 14d
  page:
    quick: {errorBudgetPercent: 2, shortWindow: 5m, longWindow: 1h}
    slow: {errorBudgetPercent: 5, shortWindow: 30m, longWindow: 6h}
  ticket:
    quick: {errorBudgetPercent: 10, shortWindow: 2h, longWindow: 1d}
    slow: {errorBudgetPercent: 10, shortWindow: 6h, longWindow: 3d}
"""


def test_a_windows_file_sets_the_period(tmp_path: Path) -> None:
    path = tmp_path / "w.yaml"
    path.write_text(WINDOWS)
    windows = windows_for(None, path)
    assert windows.period == parse_duration("14d")
    assert windows.page_quick.burn_factor == pytest.approx(6.72)
    with pytest.raises(SloError, match="holds windows for a 2w period, not 7d"):
        windows_for("7d", path)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "shortWindow: 5m",
            "shortWindow: 5 minutes",
            "w.yaml:6:49: spec.page.quick.shortWindow: '5 minutes' is not a Prometheus duration",
        ),
        (
            "errorBudgetPercent: 2,",
            "errorBudgetPercent: 0,",
            "w.yaml:6:33: spec.page.quick.errorBudgetPercent: Input should be greater than 0",
        ),
        (
            "shortWindow: 2h",
            "shortWindow: 1d",
            "w.yaml:9:12: spec.ticket.quick: shortWindow must be shorter than longWindow",
        ),
        (
            "sloPeriod: 14d",
            "sloPeriod: 2d",
            "w.yaml:4:3: spec: longWindow 3d must be shorter than sloPeriod",
        ),
        (
            "kind: AlertWindows",
            "kind: AlertWindow",
            "w.yaml:2:7: kind: Input should be 'AlertWindows'",
        ),
    ],
)
def test_a_bad_windows_file_names_line_and_field(
    tmp_path: Path, old: str, new: str, expected: str
) -> None:
    path = tmp_path / "w.yaml"
    path.write_text(WINDOWS.replace(old, new, 1))
    with pytest.raises(DocumentError) as caught:
        load_windows_file(path, display_path="w.yaml")
    assert any(str(p).startswith(expected) for p in caught.value.problems), caught.value.problems
