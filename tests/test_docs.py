"""The README stays a front door and every relative link in it and in docs/ leads somewhere."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from change_mgmt.cli.app import COMMANDS, app, load_command
from tests.conftest import REPO_ROOT

PAGES = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]
_FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
_EXPLICIT_ANCHOR = re.compile(r'<a id="([^"]+)"></a>')
_HEADING = re.compile(r"^#{1,6} (.+)$", re.MULTILINE)


def _prose(path: Path) -> str:
    """The page without its code blocks (a `# comment` in a shell block is no heading)."""
    return _FENCE.sub("", path.read_text())


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"<[^>]+>", "", heading).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = _prose(path)
    return set(_EXPLICIT_ANCHOR.findall(text)) | {_slug(h) for h in _HEADING.findall(text)}


def relative_links(path: Path) -> list[str]:
    return [
        target
        for target in _LINK.findall(_prose(path))
        if not re.match(r"[a-z][a-z0-9+.-]*:", target)  # https:, mailto: …
    ]


def test_slugs_follow_githubs_rules() -> None:
    assert _slug("Tiers and enforcement (`policies/config.yaml`)") == (
        "tiers-and-enforcement-policiesconfigyaml"
    )
    assert _slug("`sre up` and gate receipts") == "sre-up-and-gate-receipts"


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.relative_to(REPO_ROOT).as_posix())
def test_every_relative_link_leads_to_an_existing_file_and_anchor(page: Path) -> None:
    broken = []
    for target in relative_links(page):
        file_part, _, fragment = target.partition("#")
        destination = (page.parent / file_part).resolve() if file_part else page
        if not destination.exists():
            broken.append(f"{target}: no such file")
        elif fragment and fragment not in anchors(destination):
            broken.append(f"{target}: no anchor #{fragment} in {destination.name}")
    assert not broken, broken


def test_the_readme_links_every_docs_page() -> None:
    linked = {target.partition("#")[0] for target in relative_links(REPO_ROOT / "README.md")}
    pages = {f"docs/{page.name}" for page in PAGES[1:]}
    assert pages and pages <= linked, sorted(pages - linked)


def test_the_readme_stays_a_front_door() -> None:
    lines = (REPO_ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= 150, f"README.md has {len(lines)} lines: move reference into docs/"


STALE = {
    "next steps (open issues)": "Jira tickets and signed approvals exist",
    "until signed git approvals exist": "signed git approvals exist",
    "interim approval source": "signed git approvals exist",
    "destroyed after": "no reaper yet: expired environments are only reported",
    "is destroyed after this moment": "no reaper yet: expired environments are only reported",
}


def _help_pages() -> dict[str, str]:
    """`--help` of `sre` and of every command and subcommand, as a user sees it."""
    paths: list[list[str]] = [[]]
    for name in COMMANDS:
        command = load_command(name)
        paths.append([name])
        # A group has subcommands (typer vendors click, which need not be installed).
        paths.extend([name, sub] for sub in getattr(command, "commands", {}))
    runner = CliRunner()
    return {
        " ".join(["sre", *path]): runner.invoke(
            app, [*path, "--help"], env={"COLUMNS": "200"}
        ).stdout
        for path in paths
    }


def test_no_page_help_or_template_promises_what_does_not_exist(
    git_project: Callable[..., Path],
) -> None:
    project = git_project()
    made = CliRunner().invoke(
        app,
        [
            "env",
            "new",
            "demo",
            "--owner",
            "dana.kim@example.com",
            "--team",
            "backend",
            "--project-dir",
            str(project),
        ],
    )
    assert made.exit_code == 0, made.output
    texts = {page.name: page.read_text() for page in PAGES} | _help_pages()
    texts["new request"] = (project / "stacks" / "environments" / "demo.yaml").read_text()
    found = [
        f"{where}: {phrase!r} ({why})"
        for where, text in texts.items()
        for phrase, why in STALE.items()
        if phrase in " ".join(text.split())
    ]
    assert not found, found


def test_the_schema_command_documented_writes_what_editors_point_at() -> None:
    page = " ".join((REPO_ROOT / "docs" / "environments.md").read_text().split())
    assert "`sre env schema > request.schema.json`" in page
    result = CliRunner().invoke(app, ["env", "schema"])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["type"] == "object"


def test_docs_and_help_agree_that_origin_main_wins_over_main_for_approvers() -> None:
    rule = "origin/main when this clone has it, else main"
    assert rule in " ".join(_help_pages()["sre gate"].split())
    for page in ("gate.md", "approvals.md"):
        text = " ".join((REPO_ROOT / "docs" / page).read_text().replace("`", "").split())
        assert "origin/main when the clone has it, else main" in text, page
        assert "never a tag" in text, page


def test_the_configuration_page_documents_every_platform_setting() -> None:
    settings = yaml.safe_load((REPO_ROOT / "Pulumi.yaml").read_text())["config"]
    page = (REPO_ROOT / "docs" / "configuration.md").read_text()
    missing = [
        key
        for key in settings
        if f"| `{key if ':' in key else 'sre-platform:' + key}` |" not in page
    ]
    assert settings and not missing, missing
