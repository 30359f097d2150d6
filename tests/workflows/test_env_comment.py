"""``sre env comment``: the pull request's Markdown, from a real git repository and the
real stack program under Pulumi mocks."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from typer.testing import CliRunner

from change_mgmt.cli.app import app
from change_mgmt.environments.pr_comment import code, md
from tests.conftest import git, request_yaml

runner = CliRunner()
REQUESTS = Path("stacks") / "environments"
AT = "2026-11-27T00:00:00+00:00"  # tests.conftest.NOW; request_yaml expires two days later


def comment(project: Path, since: str = "main") -> tuple[int, str, str]:
    result = runner.invoke(
        app,
        ["env", "comment", "--since", since, "--at", AT],
        env={"SRE_PROJECT_DIR": str(project), "COLUMNS": "200"},
    )
    return result.exit_code, result.stdout, result.stderr


def test_the_comment_covers_added_invalid_and_deleted_requests(
    git_project: Callable[..., Path],
) -> None:
    project = git_project(gone=request_yaml("gone"), kept=request_yaml("kept"))
    git(project, "checkout", "-q", "-b", "feature")
    requests = project / REQUESTS
    (requests / "gone.yaml").unlink()
    (requests / "fresh.yaml").write_text(request_yaml("fresh", size="1000users"))
    (requests / "broken.yaml").write_text("name: broken\nowner: [unclosed\n")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "requests")
    status, stdout, stderr = comment(project)
    assert status == 0, stderr
    assert stdout.startswith("## Environment requests changed since `main`\n")
    rows = [line for line in stdout.splitlines() if line.startswith("| `")]
    assert rows[0].startswith("| `broken` | added | ❌ |")
    assert rows[1].startswith("| `fresh` | added | ✅ | USD ")
    assert rows[2] == "| `gone` | deleted | — | — | — |"
    assert "`kept`" not in stdout  # unchanged requests are not in the comment
    assert "### `broken` (added)" in stdout and "stacks/environments/broken.yaml:" in stdout
    assert "**Declares** " in stdout and "**Policy pack**: " in stdout
    assert "Stack `env-gone` will be destroyed by the reaper after the merge." in stdout
    assert "<details><summary>" in stdout


def test_request_text_cannot_format_the_comment_or_mention_anyone(
    git_project: Callable[..., Path],
) -> None:
    project = git_project()
    hostile = '"@org/admins [click](https://evil.example) <img src=x> **bold** | cell"'
    (project / REQUESTS / "demo.yaml").write_text(
        request_yaml("demo", purpose=hostile, team="backend")
    )
    status, stdout, stderr = comment(project, "HEAD")
    assert status == 0, stderr
    assert "@org" not in stdout
    assert "<img" not in stdout
    assert "[click](" not in stdout
    assert "**bold**" not in stdout


def test_nothing_changed(git_project: Callable[..., Path]) -> None:
    project = git_project(a=request_yaml("a"))
    status, stdout, _ = comment(project, "HEAD")
    assert status == 0
    assert stdout.endswith("No request was added, changed or deleted.\n")


def test_an_ambiguous_ref_is_refused(git_project: Callable[..., Path]) -> None:
    project = git_project(a=request_yaml("a"))
    git(project, "tag", "main", "HEAD")
    status, stdout, stderr = comment(project, "main")
    assert status == 2
    assert stdout == ""
    assert "ambiguous" in stderr


def test_escaping_helpers() -> None:
    assert md("a_b *c* @x <y> [z](w)") == r"a\_b \*c\* &#64;x &lt;y\> \[z\]\(w\)"
    assert md("line\nbreak") == "line break"
    assert code("a`b|c") == r"`a'b\|c`"
