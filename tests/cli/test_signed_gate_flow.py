"""The whole flow on a sample repository: closed → two signed approvals → open → the
preview changes → closed again; self-approval never counts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from change_mgmt.cli.app import app
from tests.change_mgmt.approvals.helpers import (
    Person,
    git,
    isolated_git,
    make_people,
    make_repository,
)
from tests.change_mgmt.preview.builders import preview_json, step

runner = CliRunner()
INSIDE_WINDOW = "2026-11-27T10:00:00+00:00"


def _open_ingress(port: int) -> dict:
    return step(
        "update",
        "aws:ec2/securityGroup:SecurityGroup",
        "web",
        old={"ingress": []},
        new={
            "ingress": [
                {"protocol": "tcp", "fromPort": port, "toPort": port, "cidrBlocks": ["0.0.0.0/0"]}
            ]
        },
        detailed={"ingress[0]": "add"},
    )


@pytest.fixture(scope="module")
def people(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Person]:
    return make_people(tmp_path_factory.mktemp("people"))


@pytest.fixture
def repo(tmp_path: Path, people: dict[str, Person]) -> Iterator[Path]:
    with isolated_git(tmp_path / "home"):
        yield make_repository(tmp_path / "infra", people)


def _gate(repo: Path, preview: Path) -> tuple[int, dict]:
    result = runner.invoke(
        app,
        [
            "gate",
            "--project-dir",
            str(repo),
            "--stack",
            "prod",
            "--preview",
            str(preview),
            "--base-ref",
            "main",
            "--author",
            "dave@example.com",
            "--at",
            INSIDE_WINDOW,
            "--format",
            "json",
        ],
    )
    return result.exit_code, json.loads(result.stdout)


def _approve(repo: Path, person: Person, digest: str) -> None:
    git(repo, "config", "user.email", person.email)
    git(repo, "config", "user.name", person.name.title())
    git(repo, "config", "gpg.format", "ssh")
    git(repo, "config", "user.signingkey", str(person.key))
    result = runner.invoke(
        app,
        [
            "approve",
            "--project-dir",
            str(repo),
            "--stack",
            "prod",
            "--digest",
            digest,
            "--reason",
            f"{person.name} checked the rule",
        ],
    )
    assert result.exit_code == 0, result.output


def test_two_signed_approvals_open_the_gate_until_the_preview_changes(
    repo: Path, people, tmp_path: Path
) -> None:
    preview = tmp_path / "preview.json"
    preview.write_text(preview_json(_open_ingress(22)))
    code, closed = _gate(repo, preview)
    assert code == 3
    assert closed["approvals"]["source"] == "git"
    assert any(
        "sre approve --stack prod" in (s["command"] or "") for s in closed["decision"]["next_steps"]
    )
    digest = closed["digest"]

    _approve(repo, people["dave"], digest)  # the author: never counts
    _approve(repo, people["bob"], digest)
    code, one = _gate(repo, preview)
    assert code == 3
    verdicts = {a["approver"]: a["why_not"] for a in one["approvals"]["present"]}
    assert verdicts["bob@example.com"] is None
    assert verdicts["dave@example.com"].startswith("self-approval")

    _approve(repo, people["carol"], digest)
    code, opened = _gate(repo, preview)
    assert code == 0, opened["decision"]["reasons"]
    assert opened["approvals"]["counted_approvers"] == ["bob@example.com", "carol@example.com"]

    preview.write_text(preview_json(_open_ingress(3389)))  # a new commit changes the preview
    code, changed = _gate(repo, preview)
    assert code == 3
    assert changed["digest"] != digest
    assert changed["approvals"]["counted_approvers"] == []
