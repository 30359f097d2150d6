"""The gate counts the clusters a GitOps change newly reaches, from the base branch's
cluster registry (gitops/clusters/<env>.yaml), so a change cannot hide its own reach."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from change_mgmt.cli.app import app
from tests.conftest import REPO_ROOT, git

runner = CliRunner()
WIDENED = REPO_ROOT / "examples" / "previews" / "gitops-appset-widened.json"
RULE = "gitops-targets-widened"


@pytest.fixture
def project(git_project) -> Path:
    root = git_project()
    for folder in ("gitops", "slos"):
        shutil.copytree(REPO_ROOT / folder, root / folder)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "gitops data and SLOs")
    return root


def _widening(project: Path, *base: str) -> str | None:
    result = runner.invoke(
        app,
        [
            *("gate", "--project-dir", str(project), "--stack", "prod"),
            *("--preview", str(WIDENED), "--author", "dev@example.com", "--format", "json", *base),
        ],
    )
    assert result.exit_code in (0, 3), result.output
    factors = json.loads(result.stdout)["risk"]["factors"]
    return next((f["explanation"] for f in factors if f["rule"] == RULE), None)


def _reclassify_customer_prod_2(project: Path) -> None:
    """A working-tree edit that would make the widened selector reach no new cluster."""
    clusters = project / "gitops" / "clusters" / "prod.yaml"
    text = clusters.read_text()
    start = text.index("  - name: customer-prod-2")
    entry = text[start:].replace("type: customer", "type: cnc", 1)
    entry = entry.replace("cluster-type: customer", "cluster-type: cnc", 1)
    clusters.write_text(text[:start] + entry)


def test_the_newly_reached_clusters_are_counted_from_the_registry(project: Path) -> None:
    explanation = _widening(project, "--base-ref", "main")
    assert explanation is not None
    assert "1 registered cluster(s): customer-prod-2" in explanation


def test_editing_the_registry_in_the_change_does_not_hide_the_widening(project: Path) -> None:
    _reclassify_customer_prod_2(project)
    # Read from the base branch (what CI passes): the edit does not count.
    explanation = _widening(project, "--base-ref", "main")
    assert explanation is not None and "customer-prod-2" in explanation
    # Read from the working tree (a laptop without --base-ref): the edit would hide it.
    assert _widening(project) is None


def test_without_a_registry_the_count_is_unknown_but_the_widening_is_scored(
    project: Path,
) -> None:
    git(project, "rm", "-q", "-r", "gitops")
    git(project, "commit", "-q", "-m", "no gitops data")
    explanation = _widening(project, "--base-ref", "main")
    assert explanation is not None and "how many is unknown" in explanation


def test_an_invalid_registry_stops_the_gate(project: Path) -> None:
    clusters = project / "gitops" / "clusters" / "prod.yaml"
    clusters.write_text(clusters.read_text().replace("type: customer", "type: workload", 1))
    result = runner.invoke(
        app,
        [
            *("gate", "--project-dir", str(project), "--stack", "prod"),
            *("--preview", str(WIDENED), "--author", "dev@example.com"),
        ],
    )
    assert result.exit_code == 2
    assert "gitops/clusters/prod.yaml:" in result.output and "Traceback" not in result.output
