"""``sre report dora`` through typer's runner: a git checkout with a ledger, a fixed clock."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from change_mgmt.cli import report
from change_mgmt.ledger import Ledger
from tests.change_mgmt.report.helpers import DAY, HOUR, Changes, S, commit, git_at, init_repo
from tests.conftest import NOW

runner = CliRunner()

root = typer.Typer()
root.add_typer(report.app, name="report")


@root.callback()
def _root() -> None:
    """Stands in for the ``sre`` root app."""


def t(day: int, hour: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(report, "_clock", lambda: NOW)
    monkeypatch.delenv("SRE_BASE_REF", raising=False)


def make_project(directory: Path) -> Path:
    init_repo(directory)
    (directory / "Pulumi.yaml").write_text("name: sre-platform\nruntime: python\n")
    git_at(directory, "add", "Pulumi.yaml")
    git_at(directory, "commit", "-q", "-m", "base", at="2026-10-01T00:00:00Z")
    return directory


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    """A checkout and its ledger (window: the default 30 days before 27 November):

    #1 prod-a applied 11 Nov, its branch first committed 10 Nov (lead time 24 h from git);
    #2 prod-a failed 12 Nov 00:00, restored by #3 prod-a applied 12 Nov 03:00 (no commit:
    lead time 1 h from its proposal); #4 staging failed 20 Nov, never restored; #5 an
    emergency change whose review is overdue; #6 prod-b applied 1 Oct, outside the window.
    """
    project = make_project(tmp_path_factory.mktemp("seeded") / "project")
    git_at(project, "checkout", "-q", "-b", "feature")
    commit(project, "first", "2026-11-10T00:00:00Z")
    head = commit(project, "second", "2026-11-10T06:00:00Z")
    git_at(project, "checkout", "-q", "main")
    changes = Changes(Ledger.for_repository(project))
    ids = {
        "applied": changes.deploy("prod-a", t(11), proposed=t(10, 12), commit=head),
        "failed": changes.deploy("prod-a", t(12), outcome=S.failed),
        "fix": changes.deploy("prod-a", t(12, 3), proposed=t(12, 2)),
        "open": changes.deploy("staging", t(20), outcome=S.failed),
        "emergency": changes.add("prod-a", t(21), change_type="emergency", review_due_at=t(23)),
        "old": changes.deploy("prod-b", t(1, month=10)),
    }
    return project, ids


def sre(project: Path, *args: str) -> tuple[int, str, str]:
    home = project.parent / "home"
    home.mkdir(exist_ok=True)
    env = {
        "SRE_PROJECT_DIR": str(project),
        "COLUMNS": "200",
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": str(home / "gitconfig"),
    }
    result = runner.invoke(root, ["report", "dora", *args], env=env)
    return result.exit_code, result.stdout, result.stderr


def as_json(project: Path, *args: str) -> dict[str, object]:
    code, stdout, stderr = sre(project, *args, "--format", "json")
    assert code == 0, stderr
    document = json.loads(stdout)
    assert isinstance(document, dict)
    return document


def rows(stdout: str) -> dict[str, list[str]]:
    """The table's rows by metric (first line of each row only)."""
    table: dict[str, list[str]] = {}
    for line in stdout.splitlines():
        if line.startswith("│"):
            cells = [cell.strip() for cell in line.strip("│").split("│")]
            if cells[0]:
                table[cells[0]] = cells[1:]
    return table


def test_help_documents_the_json_keys_and_exit_codes(tmp_path: Path) -> None:
    code, stdout, _ = sre(tmp_path, "--help")
    assert code == 0
    for key in ("deployment_frequency", "median_hours", "failed_change_ids", "overdue_change_ids"):
        assert key in stdout
    result = runner.invoke(root, ["report", "--help"])
    assert "Exit codes: 0 success" in result.stdout and "2 bad input" in result.stdout


def test_text_shows_each_metric_its_value_band_and_method(
    seeded: tuple[Path, dict[str, int]],
) -> None:
    project, ids = seeded
    code, stdout, stderr = sre(project)
    assert code == 0, stderr
    assert "2026-10-28 00:00 UTC → 2026-11-27 00:00 UTC (30.0 days measured)" in stdout
    table = rows(stdout)
    assert list(table) == [
        "Deployment frequency",
        "Lead time for changes",
        "Change failure rate",
        "Time to restore",
        "Emergency changes",
    ]
    value, band, how = table["Deployment frequency"]
    assert value == "2 (0.07/day, 0.47/week) on 2 day(s): prod-a 2"
    assert band == "medium" and how.startswith("changes entering applied")
    value, band, _ = table["Lead time for changes"]
    assert value.startswith("median 12.5 h, p90 21.7 h, mean 12.5 h (2 change(s); 1 from")
    assert band == "elite"
    value, band, _ = table["Change failure rate"]
    assert value == f"50.0% (2 of 4): #{ids['failed']}, #{ids['open']}" and band == "low"
    value, band, _ = table["Time to restore"]
    assert value == "median 3.0 h, max 3.0 h (1 restored); 1 unresolved" and band == "high"
    value, band, _ = table["Emergency changes"]
    assert value == f"1 (1 review(s) overdue: #{ids['emergency']})" and band == ""
    assert f"#{ids['open']} staging: failed at 2026-11-20 00:00 UTC, open 7.0 d" in stdout
    assert "note: 1 of 2 lead time(s) start at the proposal time" in stdout
    assert "lead times: git: earliest author time in main..COMMIT" in stdout


def test_json_document(seeded: tuple[Path, dict[str, int]]) -> None:
    project, ids = seeded
    document = as_json(project)
    assert document["schema"] == "sre-platform/dora-report/v1"
    assert document["window"] == {
        "since": "2026-10-28T00:00:00Z",
        "until": "2026-11-27T00:00:00Z",
        "days": 30.0,
    }
    assert document["stack"] is None and document["records"] == 6
    assert document["deployment_frequency"] == {
        "deployments": 2,
        "per_day": 0.067,
        "per_week": 0.467,
        "deploy_days": 2,
        "by_stack": {"prod-a": 2},
        "band": "medium",
        "definition": "changes entering applied in the window ÷ days up to now",
    }
    lead = document["lead_time"]
    assert isinstance(lead, dict)
    assert (lead["median_hours"], lead["p90_hours"], lead["mean_hours"]) == (12.5, 21.7, 12.5)
    assert (lead["from_git"], lead["from_proposal"]) == (1, 1)
    assert lead["fallbacks"] == {"no_commit": 1, "commit_not_resolved": 0}
    rate = document["change_failure_rate"]
    assert isinstance(rate, dict)
    assert (rate["attempted"], rate["failed"], rate["rate"]) == (4, 2, 0.5)
    assert rate["failed_change_ids"] == [ids["failed"], ids["open"]]
    restore = document["time_to_restore"]
    assert isinstance(restore, dict)
    assert restore["events"] == [
        {
            "change_id": ids["failed"],
            "stack": "prod-a",
            "state": "failed",
            "failed_at": "2026-11-12T00:00:00Z",
            "restored_at": "2026-11-12T03:00:00Z",
            "restored_by": ids["fix"],
            "hours": 3.0,
        },
        {
            "change_id": ids["open"],
            "stack": "staging",
            "state": "failed",
            "failed_at": "2026-11-20T00:00:00Z",
            "restored_at": None,
            "restored_by": None,
            "hours": 168.0,
        },
    ]
    emergency = document["emergency_changes"]
    assert isinstance(emergency, dict)
    assert emergency["change_ids"] == emergency["overdue_change_ids"] == [ids["emergency"]]


def test_stack_filter(seeded: tuple[Path, dict[str, int]]) -> None:
    project, _ = seeded
    document = as_json(project, "--stack", "staging")
    assert document["stack"] == "staging" and document["records"] == 1
    rate = document["change_failure_rate"]
    assert isinstance(rate, dict) and (rate["attempted"], rate["rate"]) == (1, 1.0)
    frequency = document["deployment_frequency"]
    assert isinstance(frequency, dict) and frequency["deployments"] == 0
    lead = document["lead_time"]
    assert isinstance(lead, dict) and lead["median_hours"] is None and lead["band"] is None


@pytest.mark.parametrize(
    ("args", "since", "until", "deployments"),
    [
        (
            ("--since", "2026-11-12", "--until", "2026-11-13"),
            "2026-11-12T00:00:00Z",
            "2026-11-13T00:00:00Z",
            1,
        ),
        (
            ("--since", "2026-11-11", "--until", "2026-11-12"),
            "2026-11-11T00:00:00Z",
            "2026-11-12T00:00:00Z",
            1,
        ),
        (
            ("--since", "2026-11-12T01:00:00+01:00", "--until", "2026-11-12T03:00:00"),
            "2026-11-12T00:00:00Z",
            "2026-11-12T03:00:00Z",
            0,
        ),
        (("--until", "2026-10-02"), "2026-09-02T00:00:00Z", "2026-10-02T00:00:00Z", 1),
        (("--since", "2026-11-01"), "2026-11-01T00:00:00Z", "2026-11-27T00:00:00Z", 2),
    ],
)
def test_window_options(
    seeded: tuple[Path, dict[str, int]],
    args: tuple[str, ...],
    since: str,
    until: str,
    deployments: int,
) -> None:
    project, _ = seeded
    document = as_json(project, *args)
    window = document["window"]
    assert isinstance(window, dict) and (window["since"], window["until"]) == (since, until)
    frequency = document["deployment_frequency"]
    assert isinstance(frequency, dict) and frequency["deployments"] == deployments


def test_an_explicit_base_ref_is_used(seeded: tuple[Path, dict[str, int]]) -> None:
    project, _ = seeded
    lead = as_json(project, "--base-ref", "feature")["lead_time"]
    assert isinstance(lead, dict)
    # The commit is on the base now: a plain commit is its own change (06:00 → 11 Nov 00:00).
    assert lead["source"] == "git: earliest author time in feature..COMMIT"
    assert lead["from_git"] == 1 and lead["median_hours"] == (18 + 1) / 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--since", "last week"), "'last week' is not a date; use YYYY-MM-DD"),
        (("--until", "2026-13-01"), "is not a date"),
        (("--since", "2026-11-02", "--until", "2026-11-01"), "the window is empty"),
        (("--since", "2026-11-01", "--until", "2026-11-01"), "the window is empty"),
        (("--format", "yaml"), "'yaml' is not one of"),
        (("--base-ref", "origin/nope"), "--base-ref origin/nope does not name a commit"),
    ],
)
def test_bad_input_exits_2(
    seeded: tuple[Path, dict[str, int]], args: tuple[str, ...], message: str
) -> None:
    project, _ = seeded
    code, stdout, stderr = sre(project, *args)
    assert code == 2 and stdout == ""
    assert message in " ".join(stderr.replace("│", " ").split())


def test_without_a_ledger_every_metric_is_zero_with_a_note(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project")
    code, stdout, stderr = sre(project)
    assert code == 0, stderr
    assert rows(stdout)["Deployment frequency"][:2] == [
        "0 (0.00/day, 0.00/week) on 0 day(s)",
        "low",
    ]
    assert rows(stdout)["Change failure rate"][:2] == ["n/a (nothing applied or failed)", "n/a"]
    assert "note: no change ledger yet (.sre/ledger.sqlite3)" in stdout
    document = as_json(project)
    assert document["records"] == 0
    assert document["deployment_frequency"] == {
        "deployments": 0,
        "per_day": 0.0,
        "per_week": 0.0,
        "deploy_days": 0,
        "by_stack": {},
        "band": "low",
        "definition": "changes entering applied in the window ÷ days up to now",
    }
    for metric, key in (
        ("lead_time", "median_hours"),
        ("change_failure_rate", "rate"),
        ("time_to_restore", "median_hours"),
    ):
        section = document[metric]
        assert isinstance(section, dict) and section[key] is None and section["band"] is None
    assert document["notes"] == [
        "no change ledger yet (.sre/ledger.sqlite3): nothing was gated in this checkout",
        "no change records: every count is 0",
    ]
    assert not (project / ".sre").exists()


def test_outside_git_lead_times_come_from_proposals(tmp_path: Path) -> None:
    project = tmp_path / "plain"
    project.mkdir()
    changes = Changes(Ledger.for_repository(project))
    changes.deploy("prod-a", NOW - DAY, proposed=NOW - DAY - 2 * HOUR, commit="abc123")
    lead = as_json(project)["lead_time"]
    assert isinstance(lead, dict)
    assert lead["source"] == f"proposal time only: {project} is not a git checkout"
    assert lead["fallbacks"] == {"no_commit": 0, "commit_not_resolved": 1}
    assert lead["median_hours"] == 2.0


def test_a_corrupt_ledger_is_one_readable_error(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project")
    (project / ".sre").mkdir()
    (project / ".sre" / "ledger.sqlite3").write_text("garbage " * 200)
    code, stdout, stderr = sre(project)
    assert code == 1 and stdout == ""
    assert "not a readable sre ledger" in stderr and "Traceback" not in stderr


def test_the_default_window_is_the_last_30_days(seeded: tuple[Path, dict[str, int]]) -> None:
    project, _ = seeded
    window = as_json(project)["window"]
    assert isinstance(window, dict)
    assert window["since"] == (NOW - timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
