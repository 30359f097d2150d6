"""Four eyes need an author: the one of this run, never one an earlier run recorded."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from typer.testing import CliRunner

from change_mgmt.cli.app import app
from change_mgmt.ledger.records import ApprovalDecision
from change_mgmt.ledger.store import Ledger
from tests.change_mgmt.approvals.helpers import INSIDE_WINDOW, open_ingress_preview

runner = CliRunner()


def _gate(project: Path, preview: Path, *author: str) -> tuple[int, dict]:
    result = runner.invoke(
        app,
        [
            *("gate", "--project-dir", str(project), "--stack", "prod"),
            *("--preview", str(preview), "--at", INSIDE_WINDOW, "--format", "json", *author),
        ],
        env={"SRE_CHANGE_AUTHOR": ""},
    )
    assert result.exit_code in (0, 3), result.output
    return result.exit_code, json.loads(result.stdout)


def _approved_by(project: Path, digest: str, *approvers: str) -> None:
    ledger = Ledger.for_repository(project)
    for approver in approvers:
        ledger.add_approval(
            "prod",
            digest,
            approver=approver,
            decision=ApprovalDecision.approve,
            reason="ok",
            now=datetime(2026, 11, 27, 9, tzinfo=UTC),
        )


def test_outside_git_without_an_author_no_approval_opens_the_gate(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    preview = open_ingress_preview(tmp_path / "preview.json")  # high risk: two approvals
    _, first = _gate(project, preview)
    _approved_by(project, first["digest"], "bob@example.com", "dave@example.com")
    code, unknown = _gate(project, preview)
    assert code == 3
    assert "author-unknown" in {r["code"] for r in unknown["decision"]["reasons"]}
    code, known = _gate(project, preview, "--author", "carol@example.com")
    assert code == 0, known["decision"]


def test_the_author_of_this_run_is_checked_and_a_recorded_other_one_is_shown(
    tmp_path: Path,
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    preview = open_ingress_preview(tmp_path / "preview.json")  # high risk: two approvals
    _, first = _gate(project, preview, "--author", "carol@example.com")  # recorded: carol
    _approved_by(project, first["digest"], "bob@example.com", "Dave@Example.com")
    code, document = _gate(project, preview, "--author", "dave@example.com")
    assert code == 3  # dave's own approval does not count, whatever carol's run recorded
    dave = next(a for a in document["approvals"]["present"] if a["approver"] == "Dave@Example.com")
    assert dave["counts"] is False and "four eyes" in dave["why_not"]
    assert any(
        "first recorded with author carol@example.com" in note
        for note in document["approvals"]["notes"]
    )
    assert document["change"]["author"] == "dave@example.com"
