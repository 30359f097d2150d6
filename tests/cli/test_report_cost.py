"""``sre report cost`` on the shipped requests and platform stacks: text at 80 columns
with its bars, the JSON document (every key documented), and the exit codes."""

from __future__ import annotations

import functools
import json

from rich.cells import cell_len
from typer.testing import CliRunner

from change_mgmt.cli.app import app
from change_mgmt.cli.report_cost import bar, share_bar
from tests.conftest import REPO_ROOT

DOC = (REPO_ROOT / "docs" / "cost.md").read_text("utf-8")


@functools.cache
def sre(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(
        app,
        ["report", "cost", *args, "--project-dir", str(REPO_ROOT)],
        env={"COLUMNS": "80", "NO_COLOR": "1"},
        catch_exceptions=False,
    )
    return result.exit_code, result.stdout, result.stderr


def test_json_has_per_team_and_share_figures_and_documents_every_key() -> None:
    code, stdout, _ = sre("--format", "json")
    document = json.loads(stdout)
    assert document["schema"] == "sre-platform/cost-report/v1"
    keys = [
        *document,
        *document["totals"],
        *document["environments"][0],
        *document["teams"][0],
        *document["platform_stacks"][0],
        *document["platform_stacks"][0]["unpriced"][0],
    ]
    for key in keys:
        assert f"`{key}`" in DOC, f"key {key} is not documented in docs/cost.md"
    teams = {t["team"]: t["monthly"] for t in document["teams"]}
    assert set(teams) == {"backend", "integrations"}
    totals = document["totals"]
    assert totals["environments"] == round(sum(teams.values()), 2)
    prod = [s for s in document["platform_stacks"] if s["production"]]
    assert [s["stack"] for s in prod] == ["prod"]
    assert totals["production"] == prod[0]["monthly"]
    share = round(100 * totals["non_production"] / totals["total"], 1)
    assert document["non_production_share"] == share
    assert document["target_share"] == 25.0
    assert document["within_target"] is (share <= 25.0)
    assert code == (0 if share <= 25.0 else 1)


def test_text_fits_80_columns_with_bars_and_the_verdict() -> None:
    code, stdout, _ = sre()
    _, json_out, _ = sre("--format", "json")
    document = json.loads(json_out)
    assert max(cell_len(line.rstrip()) for line in stdout.splitlines()) <= 80
    for expected in ("backend (1)", "integrations (1)", "env-plugin-demo", "prod", "┃"):
        assert expected in stdout
    assert "█" in stdout
    share = document["non_production_share"]
    verdict = "✗ over target" if code == 1 else "✓ within target"
    assert f"{verdict}: non-production is {share:g} % of the total" in stdout


def test_a_higher_target_passes_and_an_impossible_one_is_invalid() -> None:
    code, stdout, _ = sre("--target-share", "100", "--format", "json")
    assert code == 0 and json.loads(stdout)["within_target"] is True
    code, _, stderr = sre("--target-share", "101")
    assert code == 2 and "not a percentage in (0, 100]" in stderr


def test_bars_scale_to_the_largest_value_in_eighths() -> None:
    assert bar(10, 10, width=4) == "████"
    assert bar(5, 10, width=4) == "██"
    assert bar(1, 10, width=4) == "▍"  # 3.2 eighths → 3
    assert bar(0, 10) == "" and bar(5, 0) == ""


def test_the_share_gauge_marks_the_target() -> None:
    gauge = share_bar(50, 25, width=8)
    plain = gauge.replace("[bold]", "").replace("[red]", "").replace("[/]", "")
    assert plain == "██┃█░░░░"
