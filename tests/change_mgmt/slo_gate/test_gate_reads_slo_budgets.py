"""The whole loop against a real Prometheus: synthetic chat-API traffic, the recording
rules ``sre slo rules`` generates for slos/mattermost-api.yaml backfilled over it, and
``sre gate`` reading ``slo:period_error_budget_remaining:ratio`` for the SLO the risk
policy names.

Traffic: 100 requests/s from 2026-11-23T00:00Z; 0.1 % of them fail until
2026-11-24T09:00Z, then 3 %. The SLO (99.5 %) allows 0.5 %: before the outage the budget
is 80 % left; a day into it, spent. The data lies in the past, so the gate is asked with
``--at`` (a what-if), which it sends to Prometheus as the evaluation time.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from change_mgmt.cli.app import app
from change_mgmt.slo.rules import BUDGET_REMAINING_METRIC
from tests.change_mgmt.preview.builders import preview_json, step
from tests.change_mgmt.slo_gate.prometheus_server import (
    Prometheus,
    build_tsdb,
    free_port,
    serving,
)
from tests.conftest import REPO_ROOT, git

pytestmark = pytest.mark.slow

SLO_ID = "mattermost-api-requests-availability"
OBJECTIVE = 0.995
START = datetime(2026, 11, 23, tzinfo=UTC)
OUTAGE = datetime(2026, 11, 24, 9, tzinfo=UTC)
END = datetime(2026, 11, 25, 12, tzinfo=UTC)
REQUESTS_PER_SECOND = 100.0
HEALTHY_ERRORS, OUTAGE_ERRORS = 0.001, 0.03
# Inside the shipped change window (Europe/Berlin, Mon-Thu 09:00-17:00).
BEFORE_THE_OUTAGE = datetime(2026, 11, 24, 8, 30, tzinfo=UTC)  # Tuesday 09:30 Berlin
INTO_THE_OUTAGE = datetime(2026, 11, 25, 10, tzinfo=UTC)  # Wednesday 11:00 Berlin
BEFORE_ANY_DATA = datetime(2026, 11, 16, 10, tzinfo=UTC)  # Monday 11:00 Berlin
runner = CliRunner()


def error_share(at: datetime) -> float:
    return HEALTHY_ERRORS if at < OUTAGE else OUTAGE_ERRORS


def openmetrics() -> str:
    """``mattermost_api_time_count`` by status code, one sample a minute."""
    lines, ok, failed = [], 0.0, 0.0
    at = START
    while at <= END:
        stamp = int(at.timestamp())
        lines.append(f'mattermost_api_time_count{{status_code="200"}} {ok:.1f} {stamp}')
        lines.append(f'mattermost_api_time_count{{status_code="503"}} {failed:.1f} {stamp}')
        errors = 60 * REQUESTS_PER_SECOND * error_share(at)
        ok, failed = ok + 60 * REQUESTS_PER_SECOND - errors, failed + errors
        at += timedelta(minutes=1)
    return "\n".join([*lines, "# EOF", ""])


def expected_remaining(at: datetime) -> float:
    """1 - (mean error ratio since the data began, 7 d at most) / (1 - objective)."""
    minutes = int((at - START).total_seconds() // 60)
    shares = [error_share(START + timedelta(minutes=m)) for m in range(minutes)]
    return 1 - sum(shares) / len(shares) / (1 - OBJECTIVE)


# On disk, not under the tests' tmpfs TMPDIR: promtool's backfill writes its blocks about
# nine times slower on tmpfs (45 s instead of 5 s here).
DISK_TEMP = "/var/tmp" if os.path.isdir("/var/tmp") else None


@pytest.fixture(scope="module")
def prometheus() -> Iterator[Prometheus]:
    with tempfile.TemporaryDirectory(prefix="sre-slo-prometheus-", dir=DISK_TEMP) as tmp:
        yield from _prometheus(Path(tmp))


def _prometheus(workdir: Path) -> Iterator[Prometheus]:
    result = runner.invoke(app, ["slo", "rules", str(REPO_ROOT / "slos" / "mattermost-api.yaml")])
    assert result.exit_code == 0, result.output
    # the gate reads the budget only: the rules it depends on are backfilled, not the rest
    needed = [BUDGET_REMAINING_METRIC]
    data = build_tsdb(openmetrics(), result.stdout, START, END, workdir, needed=needed)
    with serving(data, workdir) as server:
        yield server


@pytest.fixture
def project(git_project: Any, tmp_path: Path) -> Path:
    """A project shaped like this one, with its slos/ and the shipped risk policy."""
    root: Path = git_project()
    git(root, "config", "user.email", "alice@example.com")
    shutil.copytree(REPO_ROOT / "slos", root / "slos")
    return root


def run_gate(project: Path, prometheus_url: str, at: datetime, *options: str) -> Result:
    """``sre gate`` of a one-Deployment preview of ``prod``, as of ``at`` (a what-if)."""
    preview = project.parent / "preview.json"
    preview.write_text(preview_json(step("create", "kubernetes:apps/v1:Deployment", "api", new={})))
    arguments = ["--project-dir", str(project), "--at", at.isoformat(), "--stack", "prod"]
    return runner.invoke(
        app,
        ["gate", *arguments, "--preview", str(preview), *options],
        env={"SRE_PROMETHEUS_URL": prometheus_url},
    )


def gate(project: Path, prometheus_url: str, at: datetime) -> tuple[int, dict[str, Any]]:
    result = run_gate(project, prometheus_url, at, "--format", "json")
    return result.exit_code, json.loads(result.stdout)


def reasons(document: dict[str, Any]) -> set[str]:
    return {r["code"] for r in document["decision"]["reasons"]}


def test_a_healthy_budget_leaves_the_gate_open(project: Path, prometheus: Prometheus) -> None:
    code, document = gate(project, prometheus.url, BEFORE_THE_OUTAGE)
    (budget,) = document["risk"]["error_budgets"]
    assert budget["service"] == SLO_ID
    assert budget["problem"] is None
    assert budget["remaining"] == pytest.approx(expected_remaining(BEFORE_THE_OUTAGE), abs=0.02)
    assert budget["remaining"] == pytest.approx(0.8, abs=0.02)
    assert document["decision"]["open"] is True, document["decision"]
    assert code == 0


def test_an_exhausted_budget_closes_the_gate(project: Path, prometheus: Prometheus) -> None:
    code, document = gate(project, prometheus.url, INTO_THE_OUTAGE)
    (budget,) = document["risk"]["error_budgets"]
    assert budget["remaining"] == pytest.approx(expected_remaining(INTO_THE_OUTAGE), abs=0.05)
    assert budget["remaining"] < 0
    assert document["decision"]["open"] is False
    assert "closed:error-budget-exhausted" in reasons(document)
    assert code == 3


def test_a_moment_before_the_data_is_no_data_and_closes(
    project: Path, prometheus: Prometheus
) -> None:
    code, document = gate(project, prometheus.url, BEFORE_ANY_DATA)
    (budget,) = document["risk"]["error_budgets"]
    assert budget["remaining"] is None
    assert budget["problem"].startswith(f"no data for SLO {SLO_ID} at 2026-11-16T10:00:00+00:00")
    assert "closed:error-budget-unknown" in reasons(document)
    assert code == 3


def test_an_unreachable_prometheus_closes_production_and_says_why(project: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    code, document = gate(project, url, BEFORE_THE_OUTAGE)
    (budget,) = document["risk"]["error_budgets"]
    assert budget["problem"].startswith(f"Prometheus at {url} unreachable")
    assert document["decision"]["open"] is False
    closing = [
        r for r in document["decision"]["reasons"] if r["code"] == "closed:error-budget-unknown"
    ]
    assert closing and "unreachable" in closing[0]["message"], document["decision"]["reasons"]
    assert code == 3


def test_a_policy_naming_an_slo_slos_lacks_stops_the_gate(
    project: Path, prometheus: Prometheus
) -> None:
    (project / "risk-policy.yaml").write_text(
        "error_budget:\n  slos:\n    'prod*': [mattermost-api-availability]\n"
    )
    result = run_gate(project, prometheus.url, INTO_THE_OUTAGE)
    assert result.exit_code == 2
    assert result.output.startswith(
        "risk-policy.yaml:3:15: error_budget.slos.prod*[0]: no SLO 'mattermost-api-availability'"
    )
