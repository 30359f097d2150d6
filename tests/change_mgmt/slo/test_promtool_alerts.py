"""Which alerts the generated rules fire, and when, over synthetic series in the real
``promtool test rules`` (the team's SLO: 99.5 % over 7 days, the team's windows).

Traffic is 1000 requests a minute; the error budget is 0.5 %. Page: 8 % of the budget in
1h (burn factor 13.44) or 12.5 % in 6h (3.5); ticket: 20 % in 1d (1.4) or 42 % in 3d
(0.98). The comments work out when each condition starts to hold.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from change_mgmt.slo.load import load_slo_file
from change_mgmt.slo.rules import file_rule_groups, render_rule_file
from change_mgmt.slo.windows import windows_for
from tests.change_mgmt.slo.promtool import run_promtool
from tests.conftest import REPO_ROOT

ALERT = "MattermostAPIErrorBudgetBurn"
PER_MINUTE = 1000
DAY = 24 * 60


def counter(phases: list[tuple[int, int]]) -> str:
    """promtool's expanding notation for a counter that grows by ``per_minute`` for
    ``minutes`` in each phase, starting at 0."""
    parts, value, first = [], 0, True
    for minutes, per_minute in phases:
        if first:
            parts.append(f"0+{per_minute}x{minutes}")
            value, first = per_minute * minutes, False
        else:
            start = value + per_minute
            parts.append(f"{start}+{per_minute}x{minutes - 1}")
            value = start + per_minute * (minutes - 1)
    return " ".join(parts)


def traffic(phases: list[tuple[int, float]]) -> list[dict[str, str]]:
    """Input series for phases of (minutes, error ratio)."""
    errors = [(minutes, round(PER_MINUTE * ratio)) for minutes, ratio in phases]
    good = [(minutes, PER_MINUTE - bad) for minutes, bad in errors]
    return [
        {"series": 'mattermost_api_time_count{status_code="200"}', "values": counter(good)},
        {"series": 'mattermost_api_time_count{status_code="500"}', "values": counter(errors)},
    ]


def expected(severity: str) -> dict[str, Any]:
    who = "mattermost-api requests-availability"
    return {
        "exp_labels": {
            "category": "availability",
            "owner": "sre",
            "severity": severity,
            "sloth_id": "mattermost-api-requests-availability",
            "sloth_service": "mattermost-api",
            "sloth_severity": severity,
            "sloth_slo": "requests-availability",
        },
        "exp_annotations": {
            "description": "The chat API is spending its 99.5 % availability error budget too fast.",
            "runbook_url": f"docs/runbooks/slo-{severity}.md",
            "summary": f"{who} SLO error budget burn rate is over expected.",
            "title": f"({severity}) {who} SLO error budget burn rate is too fast.",
        },
    }


def at(minute: int, *severities: str) -> dict[str, Any]:
    return {
        "eval_time": f"{minute}m",
        "alertname": ALERT,
        "exp_alerts": [expected(severity) for severity in severities],
    }


SCENARIOS = {
    # A healthy day, then 10 % errors. The 1h ratio passes 13.44 × 0.5 % after ~40 min:
    # page then (with the 30-day factor 14.4 it would take ~43 min); the slow ticket pair
    # (6h and 3d over 0.49 %) holds only after ~59 min.
    "fast burn pages, then tickets": (
        traffic([(DAY, 0.001), (180, 0.10)]),
        [at(DAY + 35), at(DAY + 42, "page"), at(DAY + 50, "page"), at(DAY + 120, "page", "ticket")],
    ),
    # 0.6 % errors from the start: above the slow ticket pair's 0.49 %, far below any
    # page threshold (1.75 %, 6.72 %) and the quick ticket pair's 0.7 %.
    "slow burn only tickets": (
        traffic([(12 * 60, 0.006)]),
        [at(60, "ticket"), at(6 * 60, "ticket"), at(12 * 60, "ticket")],
    ),
    # A clean day, then 11 minutes at 50 % errors (~11 % of the budget). The quick page
    # pair fires during the spike; 14 minutes after it the 5m window is clean, so the
    # page stops although the 1h ratio (9 %) is still over its threshold. The spike is too
    # small for the slow page pair (6h: 1.5 % < 1.75 %) or a ticket.
    "a short spike that ends stops paging": (
        traffic([(DAY, 0.0), (11, 0.5), (60, 0.0)]),
        [at(DAY + 10, "page"), at(DAY + 25), at(DAY + 60)],
    ),
    # 0.1 % errors for a day: a fifth of the budget's pace; nothing fires.
    "quiet series fire nothing": (
        traffic([(DAY, 0.001)]),
        [at(30), at(6 * 60), at(DAY)],
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_alerts_fire_when_multiwindow_multiburn_says(scenario: str, tmp_path: Path) -> None:
    series, checks = SCENARIOS[scenario]
    slo_file = load_slo_file(REPO_ROOT / "slos" / "mattermost-api.yaml")
    (tmp_path / "rules.yaml").write_text(
        render_rule_file(file_rule_groups(slo_file, windows_for("7d")))
    )
    test = {
        "rule_files": ["rules.yaml"],
        "evaluation_interval": "1m",
        "tests": [{"interval": "1m", "input_series": series, "alert_rule_test": checks}],
    }
    (tmp_path / "test.yaml").write_text(yaml.safe_dump(test, sort_keys=False))
    result = run_promtool("test", "rules", "test.yaml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_promtool_harness_catches_a_wrong_expectation(tmp_path: Path) -> None:
    """The scenarios can fail: claiming a page in quiet traffic makes promtool fail."""
    slo_file = load_slo_file(REPO_ROOT / "slos" / "mattermost-api.yaml")
    (tmp_path / "rules.yaml").write_text(
        render_rule_file(file_rule_groups(slo_file, windows_for("7d")))
    )
    test = {
        "rule_files": ["rules.yaml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": traffic([(60, 0.001)]),
                "alert_rule_test": [at(30, "page")],
            }
        ],
    }
    (tmp_path / "test.yaml").write_text(yaml.safe_dump(test, sort_keys=False))
    result = run_promtool("test", "rules", "test.yaml", cwd=tmp_path)
    assert result.returncode != 0 and ALERT in result.stdout + result.stderr
