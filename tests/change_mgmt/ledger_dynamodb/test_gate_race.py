"""Real ``sre gate`` processes racing on one change, on one DynamoDB ledger (moto) or one
SQLite file, and the fake Jira: one record, one id, one ticket.

One ticket is a guarantee, not luck of timing: only the gate holding the ledger's claim
on creating the ticket creates it. The variants where Jira Cloud's search lags behind
creates (as it does) would otherwise create a ticket per gate; the in-process proof of
that is ``tests/change_mgmt/tickets/test_creation_claim.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from change_mgmt.ledger.config import parse_ledger_url
from change_mgmt.ledger.dynamodb import DynamoLedger
from change_mgmt.ledger.store import Ledger
from change_mgmt.tickets.source import DUPLICATE_LABEL
from tests.change_mgmt.ledger_dynamodb.moto import AMBIENT, subprocess_env
from tests.conftest import REPO_ROOT, open_change_window
from tests.fakes.jira import FakeJira

ROLLOUT = REPO_ROOT / "examples" / "previews" / "routine-rollout.json"
GATES = 6
SEARCH_LAG = 3.0
"""Seconds a new ticket stays out of the fake Cloud's search results: every gate's
search before creating misses it."""


@pytest.fixture
def jira() -> Iterator[FakeJira]:
    with FakeJira.cloud() as fake:
        yield fake


def gate_processes(project: Path, env: dict[str, str], count: int) -> list[subprocess.Popen[str]]:
    command = [
        sys.executable,
        "-m",
        "change_mgmt.cli",
        "gate",
        "--project-dir",
        str(project),
        "--stack",
        "prod",
        "--preview",
        str(ROLLOUT),
        "--format",
        "json",
    ]
    return [
        subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(count)
    ]


def race(project: Path, env: dict[str, str], jira: FakeJira) -> list[dict[str, Any]]:
    """Start the gates together; their JSON documents, once every one printed one."""
    results = []
    for gate in gate_processes(project, env, GATES):
        out, err = gate.communicate(timeout=180)
        results.append((gate.returncode, out, err))
    documents = [json.loads(out) for code, out, _ in results if out.strip()]
    assert len(documents) == GATES, [err[-500:] for _, _, err in results]
    created = jira.requests_to("POST", r"/rest/api/2/issue$")
    assert len(created) == 1, f"{len(created)} tickets for one change"
    assert [i.key for i in jira.issues.values() if DUPLICATE_LABEL in i.labels] == []
    return documents


@pytest.mark.slow
@pytest.mark.parametrize("lag", [0.0, SEARCH_LAG], ids=["search-current", "search-lags"])
def test_racing_gates_make_one_record_and_one_ticket(
    git_project: Callable[..., Path], jira: FakeJira, dynamo_url: str, lag: float
) -> None:
    project = git_project()
    open_change_window(project)
    jira.search_lag_seconds = lag
    documents = race(project, subprocess_env(dynamo_url, **jira.sre_env()), jira)
    ledger = DynamoLedger(parse_ledger_url(dynamo_url))
    records = ledger.list()
    assert len(records) == 1  # one change record for one change
    assert {d["change"]["id"] for d in documents} == {records[0].id}
    assert records[0].ticket_key is not None
    assert {d["ticket"]["key"] for d in documents} == {records[0].ticket_key}
    assert not (project / ".sre" / "ledger.sqlite3").exists()  # nothing went to SQLite


@pytest.mark.slow
def test_racing_gates_on_one_sqlite_ledger_make_one_ticket_while_search_lags(
    git_project: Callable[..., Path], jira: FakeJira
) -> None:
    project = git_project()
    open_change_window(project)
    jira.search_lag_seconds = SEARCH_LAG
    env = {k: v for k, v in os.environ.items() if k not in AMBIENT}
    documents = race(project, {**env, **jira.sre_env()}, jira)
    records = Ledger(project / ".sre" / "ledger.sqlite3").list()
    assert len(records) == 1 and records[0].ticket_key is not None
    assert {d["ticket"]["key"] for d in documents} == {records[0].ticket_key}
