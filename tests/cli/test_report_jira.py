"""``sre report dora`` with the change records in Jira: typer's runner, the fake Jira over
loopback (Cloud and Data Center), tickets made and moved by the real ticket code."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from change_mgmt.cli import report
from change_mgmt.cli.app import app
from change_mgmt.ledger import ChangeState, Ledger
from tests.change_mgmt.report.helpers import Changes
from tests.change_mgmt.report.jira_helpers import HOUR, WORKFLOW, Gate
from tests.cli.test_report_commands import make_project
from tests.conftest import NOW, REPO_ROOT
from tests.fakes.jira import (
    DEFAULT_API_TOKEN,
    DEFAULT_PAT,
    FakeJira,
)

S = ChangeState
T0 = datetime(2026, 11, 10, 9, tzinfo=UTC)  # inside the default window (30 days to NOW)
runner = CliRunner()

root = typer.Typer()
root.add_typer(report.app, name="report")


@root.callback()
def _root() -> None:
    """Stands in for the ``sre`` root app."""


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(report, "_clock", lambda: NOW)
    monkeypatch.delenv("SRE_BASE_REF", raising=False)


@pytest.fixture(params=["cloud", "data-center"])
def jira(request: pytest.FixtureRequest) -> Iterator[FakeJira]:
    with FakeJira(request.param, workflow=WORKFLOW) as fake:
        yield fake


NO_JIRA = dict.fromkeys(
    ("SRE_JIRA_URL", "SRE_JIRA_EMAIL", "SRE_JIRA_API_TOKEN", "SRE_JIRA_PAT", "SRE_JIRA_PROJECT"), ""
)
"""Empty counts as unset: whatever the machine running the tests has configured."""


def sre(project: Path, env: dict[str, str], *args: str) -> tuple[int, str, str]:
    home = project.parent / "home"
    home.mkdir(exist_ok=True)
    base = {
        **NO_JIRA,
        "SRE_PROJECT_DIR": str(project),
        "COLUMNS": "200",
        "HOME": str(home),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": str(home / "gitconfig"),
    }
    result = runner.invoke(root, ["report", "dora", *args], env={**base, **env})
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def seeded(jira: FakeJira, tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """Jira holds: OPS-1 prod applied; OPS-2 prod failed, restored by OPS-3 prod applied
    an hour later; OPS-4 a staging emergency change whose review is overdue. The
    project has no ledger (a fresh CI runner's checkout)."""
    project = make_project(tmp_path / "project")
    gate = Gate(jira, tmp_path, T0)
    keys = {}
    for name, stack, start, outcome in (
        ("applied", "prod", T0, S.applied),
        ("failed", "prod", T0 + 24 * HOUR, S.failed),
        ("fix", "prod", T0 + 25 * HOUR, S.applied),
    ):
        record = gate.move(
            gate.propose(stack, start),
            (S.approved, start + HOUR),
            (S.applying, start + 2 * HOUR),
            (outcome, start + 3 * HOUR),
        )
        keys[name] = str(record.ticket_key)
    keys["emergency"] = str(gate.propose("staging", T0 + 48 * HOUR, emergency=True).ticket_key)
    return project, keys


def test_json_from_jira(jira: FakeJira, seeded: tuple[Path, dict[str, str]]) -> None:
    project, keys = seeded
    code, stdout, stderr = sre(project, jira.sre_env(), "--source", "jira", "--format", "json")
    assert code == 0, stderr
    document = json.loads(stdout)
    ids = {name: int(jira.issue(key).id) for name, key in keys.items()}
    source = document["source"]
    assert source == {
        "kind": "jira",
        "location": jira.url,
        "project": "OPS",
        "tickets": 4,
        "without_property": [],
        "duplicates_skipped": [],
        "unknown_statuses": {},
        "incomplete_histories": [],
        "skipped": [],
        "ticket_keys": {str(ids[name]): key for name, key in keys.items()},
    }
    assert document["records"] == 4
    assert document["deployment_frequency"]["deployments"] == 2
    assert document["deployment_frequency"]["by_stack"] == {"prod": 2}
    rate = document["change_failure_rate"]
    assert (rate["attempted"], rate["failed"], rate["failed_change_ids"]) == (3, 1, [ids["failed"]])
    (event,) = document["time_to_restore"]["events"]
    assert (event["change_id"], event["restored_by"], event["hours"]) == (
        ids["failed"],
        ids["fix"],
        1.0,
    )
    assert document["emergency_changes"]["overdue_change_ids"] == [ids["emergency"]]
    lead = document["lead_time"]
    assert lead["fallbacks"] == {"no_commit": 0, "commit_not_resolved": 2}  # not in this clone
    assert lead["median_hours"] == 3.0  # proposed → applied
    assert document["notes"][0] == (
        f"records from Jira project OPS at {jira.url}: 4 gate ticket(s) read, 4 change record(s)"
    )
    assert not (project / ".sre").exists()  # nothing was written to the checkout


def test_text_names_changes_by_ticket_key(
    jira: FakeJira, seeded: tuple[Path, dict[str, str]]
) -> None:
    project, keys = seeded
    code, stdout, stderr = sre(project, jira.sre_env())  # auto: Jira, as SRE_JIRA_URL is set
    assert code == 0, stderr
    assert f"4 change record(s) from Jira project OPS at {jira.url}" in stdout
    assert f"33.3% (1 of 3): {keys['failed']}" in stdout
    assert f"1 (1 review(s) overdue: {keys['emergency']})" in stdout
    assert "note: records from Jira project OPS" in stdout
    assert DEFAULT_API_TOKEN not in stdout + stderr and DEFAULT_PAT not in stdout + stderr


def test_the_ledger_when_asked_or_without_jira(
    jira: FakeJira, seeded: tuple[Path, dict[str, str]]
) -> None:
    project, _ = seeded
    Changes(Ledger.for_repository(project)).deploy("prod", T0)
    before = len(jira.requests)
    code, stdout, stderr = sre(project, jira.sre_env(), "--source", "ledger", "--format", "json")
    assert code == 0, stderr
    document = json.loads(stdout)
    assert document["source"]["kind"] == "ledger" and document["records"] == 1
    assert document["source"]["location"] == ".sre/ledger.sqlite3"
    assert len(jira.requests) == before  # Jira was not asked
    code, stdout, _ = sre(project, {}, "--format", "json")  # auto without SRE_JIRA_URL
    assert code == 0 and json.loads(stdout)["source"]["kind"] == "ledger"
    code, stdout, _ = sre(project, {})
    assert "1 change record(s) from the local ledger (.sre/ledger.sqlite3)" in stdout


def test_jira_yaml_status_names_map_back(jira: FakeJira, tmp_path: Path) -> None:
    project = make_project(tmp_path / "project")
    gate = Gate(jira, tmp_path, T0)
    record = gate.propose("prod", T0)
    jira.move(str(record.ticket_key), "Under review")
    code, stdout, _ = sre(project, jira.sre_env(), "--format", "json")
    assert json.loads(stdout)["source"]["unknown_statuses"] == {"Under review": 1}
    (project / "jira.yaml").write_text("statuses:\n  approved: Under review\n")
    code, stdout, stderr = sre(project, jira.sre_env(), "--format", "json")
    assert code == 0, stderr
    assert json.loads(stdout)["source"]["unknown_statuses"] == {}
    (project / "jira.yaml").write_text("statuses:\n  approve: Under review\n")
    code, stdout, stderr = sre(project, jira.sre_env())
    assert code == 2 and "jira.yaml" in stdout + stderr


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "--source jira needs Jira: set SRE_JIRA_URL"),
        (
            {"SRE_JIRA_URL": "https://jira.example.com", "SRE_JIRA_PROJECT": "OPS"},
            "SRE_JIRA_URL is set but SRE_JIRA_EMAIL is not",
        ),
        (
            {
                "SRE_JIRA_URL": "http://jira.example.com",
                "SRE_JIRA_PAT": "a-secret-pat-value-1234",
                "SRE_JIRA_PROJECT": "OPS",
            },
            "plain http",
        ),
    ],
)
def test_missing_or_bad_jira_settings_are_one_line(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    project = make_project(tmp_path / "project")
    code, stdout, stderr = sre(project, env, "--source", "jira", "--format", "json")
    assert code == 1 and stdout == ""
    text = " ".join(stderr.split())
    assert message in text and "Traceback" not in stderr
    assert len(stderr.strip().splitlines()) == 1
    assert "a-secret-pat-value-1234" not in stderr


def test_half_configured_jira_is_an_error_for_auto_too(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project")
    code, _, stderr = sre(project, {"SRE_JIRA_PAT": "a-secret-pat-value-1234"})
    assert code == 1 and "SRE_JIRA_PAT set but SRE_JIRA_URL is not" in stderr
    assert "a-secret-pat-value-1234" not in stderr


def test_unreachable_or_refusing_jira_is_one_line_without_secrets(
    jira: FakeJira, tmp_path: Path
) -> None:
    project = make_project(tmp_path / "project")
    wrong = {
        **jira.sre_env(),
        "SRE_JIRA_API_TOKEN"
        if jira.flavor == "cloud"
        else "SRE_JIRA_PAT": "wrong-token-0123456789",
    }
    code, stdout, stderr = sre(project, wrong, "--format", "json")
    assert code == 1 and stdout == ""
    assert "cannot read the change records from Jira" in stderr and "HTTP 401" in stderr
    assert "wrong-token-0123456789" not in stderr and "Traceback" not in stderr
    assert len(stderr.strip().splitlines()) == 1

    with FakeJira(jira.flavor) as stopped:
        gone = stopped.sre_env()
    code, stdout, stderr = sre(project, gone)  # nothing listens there any more
    assert code == 1 and stdout == ""
    assert "unreachable" in stderr and "Traceback" not in stderr
    for secret in (DEFAULT_API_TOKEN, DEFAULT_PAT):
        assert secret not in stderr


def test_a_ticket_opened_by_sre_gate_reads_back(git_project, tmp_path: Path) -> None:
    """The real ``sre gate`` command writes the property the report reads."""
    with FakeJira.cloud() as jira:
        project = git_project()
        gated = CliRunner().invoke(
            app,
            [
                "gate",
                "--project-dir",
                str(project),
                "--stack",
                "prod",
                "--preview",
                str(REPO_ROOT / "examples" / "previews" / "routine-rollout.json"),
                "--format",
                "json",
                "--at",
                "2026-11-20T10:00:00+00:00",
                "--exit-zero",
            ],
            env={**NO_JIRA, **jira.sre_env()},
        )
        assert gated.exit_code == 0, gated.output
        ticket = json.loads(gated.stdout)["ticket"]
        code, stdout, stderr = sre(project, jira.sre_env(), "--format", "json")
    assert code == 0, stderr
    document = json.loads(stdout)
    assert document["records"] == 1
    assert document["source"]["without_property"] == []
    assert list(document["source"]["ticket_keys"].values()) == [ticket["key"]]


def test_the_dora_page_documents_every_key_of_the_dora_document(
    jira: FakeJira, seeded: tuple[Path, dict[str, str]]
) -> None:
    project, _ = seeded
    _, stdout, _ = sre(project, jira.sre_env(), "--format", "json")
    document = json.loads(stdout)
    section = (REPO_ROOT / "docs" / "dora.md").read_text()
    for key in document:
        assert f"`{key}`" in section, key
    for key in document["source"]:
        assert f"`{key}`" in section, key
