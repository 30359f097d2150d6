"""The whole flow on a sample repository: closed → two signed approvals → open → the
preview changes → closed again; the author's own approval is refused at once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.change_mgmt.approvals.helpers import (
    Person,
    gate_json,
    git,
    isolated_git,
    make_people,
    make_repository,
    open_ingress_preview,
    sre_approve,
)


@pytest.fixture(scope="module")
def people(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Person]:
    return make_people(tmp_path_factory.mktemp("people"))


@pytest.fixture
def repo(tmp_path: Path, people: dict[str, Person]) -> Iterator[Path]:
    with isolated_git(tmp_path / "home"):
        yield make_repository(tmp_path / "infra", people)


def _approve(repo: Path, person: Person, digest: str) -> None:
    result = sre_approve(repo, person, digest)
    assert result.exit_code == 0, result.output


def test_two_signed_approvals_open_the_gate_until_the_preview_changes(
    repo: Path, people: dict[str, Person], tmp_path: Path
) -> None:
    preview = open_ingress_preview(tmp_path / "preview.json", 22)
    code, closed = gate_json(repo, preview)
    assert code == 3
    assert closed["approvals"]["source"] == "git"
    assert any(
        "sre approve --stack prod" in (s["command"] or "") for s in closed["decision"]["next_steps"]
    )
    digest = closed["digest"]

    refused = sre_approve(repo, people["dave"], digest)  # the author: refused at once
    assert refused.exit_code == 2
    assert "dave@example.com is the author of this change" in refused.output
    assert git(repo, "log", "-1", "--format=%s").strip() == "scale prod"  # nothing committed
    _approve(repo, people["bob"], digest)
    code, one = gate_json(repo, preview)
    assert code == 3
    verdicts = {a["approver"]: a["why_not"] for a in one["approvals"]["present"]}
    assert verdicts == {"bob@example.com": None}

    _approve(repo, people["carol"], digest)
    code, opened = gate_json(repo, preview)
    assert code == 0, opened["decision"]["reasons"]
    assert opened["approvals"]["counted_approvers"] == ["bob@example.com", "carol@example.com"]

    open_ingress_preview(preview, 3389)  # a new commit changes the preview
    code, changed = gate_json(repo, preview)
    assert code == 3
    assert changed["digest"] != digest
    assert changed["approvals"]["counted_approvers"] == []
    # The approvals of the earlier preview are listed, and say why they no longer count.
    earlier = {a["approver"]: a for a in changed["approvals"]["present"]}
    assert set(earlier) == {"bob@example.com", "carol@example.com"}
    assert all(not a["counts"] for a in earlier.values())
    assert all(
        a["why_not"].startswith("other-digest: this approval is for an earlier preview")
        for a in earlier.values()
    )
