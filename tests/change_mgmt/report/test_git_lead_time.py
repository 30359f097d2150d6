"""First-commit times from a real git repository whose commits have chosen author times."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from change_mgmt.ledger import Ledger
from change_mgmt.report import GitLeadTimes, compute_dora
from tests.change_mgmt.report.helpers import Changes, S, commit, git_at, init_repo
from tests.conftest import NOW


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


class Repo:
    """main: base → direct (a commit pushed straight to main);
    feature (from base): F1 (3 Nov), F2 (authored 1 Nov: rebased, earlier author time),
    F3 (5 Nov); merged: main with feature merged (--no-ff)."""

    def __init__(self, root: Path) -> None:
        self.root = init_repo(root)
        self.base = commit(root, "base", "2026-10-01T09:00:00Z")
        git_at(root, "checkout", "-q", "-b", "feature")
        self.f1 = commit(root, "F1", "2026-11-03T10:00:00Z")
        self.f2 = commit(root, "F2", "2026-11-01T08:30:00+01:00")
        self.f3 = commit(root, "F3", "2026-11-05T10:00:00Z")
        git_at(root, "checkout", "-q", "main")
        self.direct = commit(root, "direct", "2026-11-04T12:00:00Z")
        git_at(root, "checkout", "-q", "-b", "merged")
        git_at(root, "merge", "-q", "--no-ff", "-m", "merge", "feature", at="2026-11-06T00:00:00Z")
        self.merge = git_at(root, "rev-parse", "HEAD")
        git_at(root, "checkout", "-q", "main")


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Repo:
    return Repo(tmp_path_factory.mktemp("lead-time") / "repo")


def test_the_first_commit_is_the_earliest_author_time_on_the_branch(repo: Repo) -> None:
    with GitLeadTimes(repo.root, "main") as source:
        assert source.problem is None
        assert source.description == "git: earliest author time in main..COMMIT"
        assert source.first_commit_at(repo.f3) == utc("2026-11-01T07:30:00Z")
        assert source.first_commit_at(repo.f1) == utc("2026-11-03T10:00:00Z")
        assert source.first_commit_at(repo.f3[:10]) == utc("2026-11-01T07:30:00Z")


def test_a_merge_commit_on_the_base_counts_from_the_branch_it_merged(repo: Repo) -> None:
    with GitLeadTimes(repo.root, "merged") as source:
        assert source.first_commit_at(repo.merge) == utc("2026-11-01T07:30:00Z")


def test_a_plain_commit_on_the_base_is_its_own_change(repo: Repo) -> None:
    with GitLeadTimes(repo.root, "main") as source:
        assert source.first_commit_at(repo.direct) == utc("2026-11-04T12:00:00Z")


@pytest.mark.parametrize("sha", ["f" * 40, "deadbeef", "not-a-sha", "--all", "HEAD", ""])
def test_commits_not_in_the_clone_are_unknown(repo: Repo, sha: str) -> None:
    with GitLeadTimes(repo.root, "main") as source:
        assert source.first_commit_at(sha) is None


def test_without_a_usable_base_or_repository_nothing_is_known(repo: Repo, tmp_path: Path) -> None:
    cases = [
        (GitLeadTimes(repo.root, None), "no base branch"),
        (GitLeadTimes(repo.root, "origin/main"), "the base ref 'origin/main' does not exist"),
        (GitLeadTimes(tmp_path, "main"), "is not a git checkout"),
    ]
    for source, problem in cases:
        with source:
            assert source.problem is not None and problem in source.problem
            assert source.description.startswith("proposal time only: ")
            assert source.first_commit_at(repo.f3) is None


def test_lead_times_from_git_in_the_report(repo: Repo, tmp_path: Path) -> None:
    changes = Changes(Ledger(tmp_path / "ledger.sqlite3"))
    changes.deploy("prod-a", utc("2026-11-07T07:30:00Z"), commit=repo.f3)  # 6 days
    changes.deploy("prod-a", utc("2026-11-08T00:00:00Z"), commit="e" * 40)  # 1 h (proposal)
    records, history = changes.snapshot()
    with GitLeadTimes(repo.root, "main") as source:
        report = compute_dora(
            records,
            history,
            source,
            since=utc("2026-11-01T00:00:00Z"),
            until=utc("2026-11-21T00:00:00Z"),
            now=NOW,
        )
    lead = report.lead_time
    assert (lead.from_git, lead.commit_not_resolved, lead.without_commit) == (1, 1, 0)
    assert lead.median_hours == pytest.approx((6 * 24 + 1) / 2)
    assert lead.as_dict()["source"] == "git: earliest author time in main..COMMIT"
    assert changes.ledger.get(1).state is S.applied
