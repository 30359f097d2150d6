"""``sre env changed`` over real git repositories: what a push adds, changes, deletes."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from typer.testing import CliRunner

from change_mgmt.cli.app import app
from tests.conftest import git, request_yaml

runner = CliRunner()
REQUESTS = Path("stacks") / "environments"


def sre(project: Path, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), env={"SRE_PROJECT_DIR": str(project), "COLUMNS": "200"})
    return result.exit_code, result.stdout, result.stderr


def changed(project: Path, since: str) -> dict[str, object]:
    code, stdout, stderr = sre(project, "env", "changed", "--since", since, "--format", "json")
    assert code == 0, stderr
    document: dict[str, object] = json.loads(stdout)
    return document


def commit_all(project: Path, message: str) -> str:
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", message)
    return git(project, "rev-parse", "HEAD").strip()


def test_one_push_that_adds_changes_and_deletes(git_project: Callable[..., Path]) -> None:
    project = git_project(a=request_yaml("a"), b=request_yaml("b"), c=request_yaml("c"))
    before = git(project, "rev-parse", "HEAD").strip()
    requests = project / REQUESTS
    (requests / "a.yaml").write_text(request_yaml("a", team="qa"))
    (requests / "b.yaml").unlink()
    (requests / "d.yaml").write_text(request_yaml("d"))
    commit_all(project, "push")
    document = changed(project, before)
    assert document["schema"] == "sre-platform/env-changed/v1"
    assert document["base"] == before
    assert (document["added"], document["modified"], document["deleted"]) == (["d"], ["a"], ["b"])
    assert document["deploy"] == ["a", "d"]


def test_a_rename_is_a_deletion_plus_an_addition(git_project: Callable[..., Path]) -> None:
    project = git_project(old=request_yaml("old"), keep=request_yaml("keep"))
    before = git(project, "rev-parse", "HEAD").strip()
    git(project, "mv", f"{REQUESTS}/old.yaml", f"{REQUESTS}/new.yaml")
    (project / REQUESTS / "new.yaml").write_text(request_yaml("new"))
    commit_all(project, "rename")
    document = changed(project, before)
    # The reaper must see "old" go; the deploy must create "new".
    assert document["deleted"] == ["old"]
    assert document["added"] == ["new"]
    assert document["deploy"] == ["new"]
    code, stdout, _ = sre(project, "env", "changed", "--since", before)
    assert code == 0
    assert stdout.split("\n")[:2] == ["added    new", "deleted  old"]


def test_only_request_files_count_and_untracked_ones_are_added(
    git_project: Callable[..., Path],
) -> None:
    project = git_project(a=request_yaml("a"))
    (project / REQUESTS / "README.md").write_text("not a request\n")
    (project / REQUESTS / "sub").mkdir()
    (project / REQUESTS / "sub" / "x.yaml").write_text(request_yaml("x"))
    (project / "other.yaml").write_text("x: 1\n")
    commit_all(project, "noise")
    (project / REQUESTS / "fresh.yaml").write_text(request_yaml("fresh"))  # not committed
    document = changed(project, "HEAD~1")
    assert (document["added"], document["modified"], document["deleted"]) == (["fresh"], [], [])


def test_a_pull_request_is_measured_from_the_merge_base(git_project: Callable[..., Path]) -> None:
    project = git_project(a=request_yaml("a"))
    git(project, "checkout", "-q", "-b", "feature")
    (project / REQUESTS / "mine.yaml").write_text(request_yaml("mine"))
    commit_all(project, "my request")
    git(project, "checkout", "-q", "main")
    (project / REQUESTS / "theirs.yaml").write_text(request_yaml("theirs"))
    commit_all(project, "landed meanwhile on main")
    git(project, "checkout", "-q", "feature")
    document = changed(project, "main")
    # What landed on main meanwhile is not this pull request's deletion.
    assert (document["added"], document["deleted"]) == (["mine"], [])


def test_an_ambiguous_or_unknown_ref_is_refused(git_project: Callable[..., Path]) -> None:
    project = git_project(a=request_yaml("a"))
    git(project, "tag", "main", "HEAD")
    code, stdout, stderr = sre(project, "env", "changed", "--since", "main", "--format", "json")
    assert code == 2
    assert stdout == ""
    assert "ambiguous" in stderr and "refs/tags/main" in stderr
    code, _, stderr = sre(project, "env", "changed", "--since", "no-such-ref")
    assert code == 2
    assert "unknown git ref" in stderr
    assert "Traceback" not in stderr
