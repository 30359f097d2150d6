"""``sre slo validate | list | rules`` end to end, on the repository's specs and bad copies."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from change_mgmt.cli.slo import app
from tests.change_mgmt.slo.promtool import run_promtool
from tests.conftest import REPO_ROOT

runner = CliRunner()


def sre_slo(*args: str | Path) -> tuple[int, str, str]:
    result = runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "250"})
    assert not result.exception or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def test_validate_passes_on_the_repository() -> None:
    code, stdout, _ = sre_slo("validate", "--project-dir", REPO_ROOT)
    assert code == 0, stdout
    assert (
        "✓ slos/mattermost-api.yaml (prometheus/v1): mattermost-api-requests-availability" in stdout
    )
    assert "✓ slos/mattermost-api.k8s.yaml (sloth.slok.dev/v1)" in stdout
    assert "2 file(s), 1 SLO(s): valid" in stdout


def test_validate_reports_a_bad_spec_at_file_line_field_and_exits_2(tmp_path: Path) -> None:
    shutil.copytree(REPO_ROOT / "slos", tmp_path / "slos")
    spec = tmp_path / "slos" / "mattermost-api.yaml"
    spec.write_text(spec.read_text().replace("objective: 99.5", "objective: 199.5"))
    code, stdout, stderr = sre_slo("validate", "--project-dir", tmp_path)
    assert code == 2
    assert (
        "slos/mattermost-api.yaml:11:16: slos[0].objective: objective 199.5 is outside (0, 100]"
        in stdout
    )
    assert "Traceback" not in stdout + stderr


def test_validate_names_a_path_that_does_not_exist(tmp_path: Path) -> None:
    code, _, stderr = sre_slo("validate", tmp_path / "nope.yaml")
    assert code == 2 and "no such file or directory" in stderr


def test_list_shows_each_slo_once_with_both_files() -> None:
    code, stdout, _ = sre_slo("list", "--format", "json", "--project-dir", REPO_ROOT)
    assert code == 0
    (entry,) = json.loads(stdout)["slos"]
    assert entry["id"] == "mattermost-api-requests-availability"
    assert entry["objective"] == 99.5 and entry["alerts"] == ["page", "ticket"]
    assert entry["files"] == ["slos/mattermost-api.k8s.yaml:13", "slos/mattermost-api.yaml:10"]


def test_rules_prints_a_rule_file_promtool_accepts(tmp_path: Path) -> None:
    code, stdout, _ = sre_slo("rules", REPO_ROOT / "slos" / "mattermost-api.k8s.yaml")
    assert code == 0
    assert "record: slo:sli_error:ratio_rate1w" in stdout  # the 7-day default period
    (tmp_path / "rules.yaml").write_text(stdout)
    result = run_promtool("check", "rules", "rules.yaml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_rules_takes_a_period_a_windows_file_and_a_runbook_base() -> None:
    spec = REPO_ROOT / "slos" / "mattermost-api.yaml"
    code, stdout, _ = sre_slo(
        "rules", spec, "--period", "30d", "--runbook-base", "https://git.example/sre/blob/main"
    )
    assert code == 0
    assert "slo:sli_error:ratio_rate30d" in stdout and "(14.4 * 0.005)" in stdout
    assert "runbook_url: https://git.example/sre/blob/main/docs/runbooks/slo-page.md" in stdout
    windows = REPO_ROOT / "tests" / "data" / "slo" / "sloth" / "windows" / "7d.yaml"
    code, stdout, _ = sre_slo("rules", spec, "--windows", windows)
    assert code == 0 and "(13.44 * 0.005)" in stdout and "(0.98 * 0.005)" in stdout


def test_rules_refuses_a_period_without_windows() -> None:
    code, stdout, stderr = sre_slo(
        "rules", REPO_ROOT / "slos" / "mattermost-api.yaml", "--period", "14d"
    )
    assert code == 2 and stdout == ""
    assert "no alert windows for a 14d SLO period" in stderr
