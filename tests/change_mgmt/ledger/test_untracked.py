"""A ledger that git tracks is never read: a committed ledger lets anyone forge records."""

from __future__ import annotations

from pathlib import Path

import pytest

from change_mgmt.ledger import Ledger, LedgerError
from tests.change_mgmt.ledger.test_store import propose
from tests.conftest import git

REFUSED = r"git tracks files in the ledger directory .*\(ledger.sqlite3\).*git rm -r --cached"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    git(tmp_path, "init", "-q", "-b", "main")
    (tmp_path / "README").write_text("x\n")
    git(tmp_path, "add", "README")
    git(tmp_path, "commit", "-q", "-m", "base")
    propose(Ledger.for_repository(tmp_path))
    return tmp_path


def test_a_ledger_added_to_the_index_is_refused(repo: Path) -> None:
    git(repo, "add", "-f", ".sre/ledger.sqlite3")
    with pytest.raises(LedgerError, match=REFUSED):
        Ledger.for_repository(repo)


def test_a_committed_ledger_is_refused_until_the_untracking_is_committed(repo: Path) -> None:
    git(repo, "add", "-f", ".sre/ledger.sqlite3")
    git(repo, "commit", "-q", "-m", "oops")
    with pytest.raises(LedgerError, match=REFUSED):
        Ledger.for_repository(repo)
    git(repo, "rm", "-q", "--cached", ".sre/ledger.sqlite3")
    with pytest.raises(LedgerError, match=REFUSED):  # still in HEAD: every pull brings it
        Ledger.for_repository(repo)
    git(repo, "commit", "-q", "-m", "untrack the ledger")
    assert Ledger.for_repository(repo).get(1).stack == "prod-observability"


def test_a_project_below_the_repository_root_is_checked_too(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q", "-b", "main")
    project = tmp_path / "infra"
    project.mkdir()
    propose(Ledger.for_repository(project))
    git(tmp_path, "add", "-f", "infra/.sre/ledger.sqlite3")
    with pytest.raises(LedgerError, match=REFUSED):
        Ledger.for_repository(project)
    assert Ledger.for_repository(tmp_path).list() == []  # the root's own .sre/ is not tracked


def test_an_ignored_untracked_ledger_is_read(repo: Path) -> None:
    assert git(repo, "status", "--porcelain", "--untracked-files=all") == ""
    assert Ledger.for_repository(repo).get(1).stack == "prod-observability"
