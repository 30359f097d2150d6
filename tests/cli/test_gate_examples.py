"""The example previews shipped in examples/previews/: what the gate says about each."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from change_mgmt.cli.app import app
from tests.conftest import REPO_ROOT

EXAMPLES = REPO_ROOT / "examples" / "previews"
INSIDE_WINDOW = "2026-11-27T10:00:00+00:00"

# file: (gate open, level, rule ids that fire)
EXPECTED = {
    "rds-major-upgrade.json": (
        False,
        "critical",
        {"riskiest-step", "stateful-delete-in-production", "major-version-replace"},
    ),
    "ssh-open-to-world.json": (False, "high", {"riskiest-step", "open-ingress"}),
    "iam-wildcard.json": (False, "high", {"riskiest-step", "iam-wildcard"}),
    "delete-protected-bucket.json": (
        False,
        "critical",
        {"riskiest-step", "stateful-delete-in-production", "protected-delete"},
    ),
    "routine-rollout.json": (True, "low", {"riskiest-step", "change-size"}),
    "unknown-op-and-type.json": (
        False,
        "critical",
        {"riskiest-step", "stateful-delete-in-production", "unknown-op", "unknown-resource-class"},
    ),
    "public-bucket-policy-violation.jsonl": (
        False,
        "medium",
        {"riskiest-step", "mandatory-policy-violation"},
    ),
    # Argo CD changes (docs/risk-policy.md, "GitOps changes")
    "gitops-appset-widened.json": (False, "high", {"riskiest-step", "gitops-targets-widened"}),
    "gitops-mutable-revision.json": (False, "high", {"riskiest-step", "gitops-mutable-revision"}),
    "gitops-chart-major-change.json": (
        False,
        "high",
        {"riskiest-step", "gitops-chart-major-change"},
    ),
    "gitops-chart-patch.json": (True, "low", {"riskiest-step"}),
    "gitops-prune-enabled.json": (False, "medium", {"riskiest-step", "gitops-prune-enabled"}),
    "gitops-removed-from-production.json": (
        False,
        "high",
        {"riskiest-step", "gitops-removed-from-clusters"},
    ),
    "gitops-unknown-selector.json": (False, "medium", {"riskiest-step", "gitops-unknown-input"}),
}


def test_every_example_is_listed() -> None:
    assert {p.name for p in EXAMPLES.iterdir()} == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example(git_project, name: str) -> None:
    project = git_project()
    flag = "--events" if name.endswith(".jsonl") else "--preview"
    result = CliRunner().invoke(
        app,
        [
            "gate",
            "--project-dir",
            str(project),
            "--stack",
            "prod",
            flag,
            str(EXAMPLES / name),
            "--format",
            "json",
            "--at",
            INSIDE_WINDOW,
        ],
    )
    document = json.loads(result.stdout)
    is_open, level, rules = EXPECTED[name]
    assert result.exit_code == (0 if is_open else 3)
    assert document["decision"]["open"] is is_open
    assert document["risk"]["level"] == level
    assert {f["rule"] for f in document["risk"]["factors"]} == rules
    assert document["preview_stack"] == "prod"
