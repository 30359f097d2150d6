"""jira.yaml and the plans read from the pull request's description."""

from __future__ import annotations

from pathlib import Path

import pytest

from change_mgmt.documents import DocumentError
from change_mgmt.ledger.records import ChangeState
from change_mgmt.tickets.settings import load_jira_settings, plans_from_pr


def test_defaults_without_a_file(tmp_path: Path) -> None:
    settings = load_jira_settings(tmp_path / "jira.yaml")
    assert settings.fields.change_risk == "Change risk" and settings.transitions == {}


def test_a_repository_file_overrides_names(tmp_path: Path) -> None:
    path = tmp_path / "jira.yaml"
    path.write_text(
        "fields:\n  change_risk: Risk of change\n  test_plan: null\ntransitions:\n  applied: Close\n"
    )
    settings = load_jira_settings(path)
    assert settings.fields.change_risk == "Risk of change" and settings.fields.test_plan is None
    assert settings.transitions == {ChangeState.applied: "Close"}


def test_a_bad_file_names_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "jira.yaml"
    path.write_text("transitions:\n  shipped: Close\n")
    with pytest.raises(DocumentError, match=r"jira.yaml:2:\d+: transitions"):
        load_jira_settings(path, display_path="jira.yaml")


def test_plans_come_from_the_pull_request_description() -> None:
    body = (
        "Upgrade Grafana's database.\n\n## Implementation plan\n1. snapshot\n2. `sre up`\n\n"
        "### Backout plan\nRestore the snapshot.\n\n## Notes\nnone\n"
    )
    assert plans_from_pr(body) == ("1. snapshot\n2. `sre up`", "Restore the snapshot.")
    assert plans_from_pr("no sections here") == (None, None)
