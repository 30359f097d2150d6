"""What ``sre`` prints at 80 columns, compared exactly with tests/cli/snapshots/.

Every ``--help`` and the outputs people read in a terminal (``env list``, ``env render``,
``changes list``, the gate's text) are recorded there, one file each. After an intended
change of output, refresh them and review the diff:

    SRE_UPDATE_SNAPSHOTS=1 python3 -m pytest -n 0 -q tests/cli/test_snapshots.py

Times come from fixed clocks and fixed git dates, digests from fixed previews, so a
snapshot changes only when the output does. Trailing spaces (rich pads grid cells) are
not part of a snapshot.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from rich.cells import cell_len
from typer.testing import CliRunner

from change_mgmt.cli import changes as changes_cli
from change_mgmt.cli import env as env_cli
from change_mgmt.cli.app import COMMANDS, app, load_command
from tests.cli.test_changes_commands import propose
from tests.conftest import NOW, REPO_ROOT, request_yaml

SNAPSHOTS = Path(__file__).parent / "snapshots"
UPDATE = os.environ.get("SRE_UPDATE_SNAPSHOTS") == "1"
WIDTH = 80
GATE_PREVIEW = REPO_ROOT / "examples" / "previews" / "rds-major-upgrade.json"
GATE_AT = "2026-11-27T10:00:00+00:00"
# What typer prints for a parameter's Python type when no metavar names its value.
TYPER_TYPES = re.compile(r"<(?:bool|str|int|float|dir|file|path|datetime|list\[[^>]*\]|%[^>]*)>")

COMMIT_ID = re.compile(r"\b[0-9a-f]{40}\b")  # digests are 64 hex digits: not matched

runner = CliRunner()


def assert_snapshot(name: str, text: str) -> None:
    path = SNAPSHOTS / f"{name}.txt"
    # A commit id depends on every byte of the test repository (it holds this project's
    # Pulumi.yaml): shown as <commit>, so a snapshot changes only when the output does.
    text = COMMIT_ID.sub("<commit>", text)
    shown = "".join(line.rstrip() + "\n" for line in text.splitlines())
    if UPDATE:
        SNAPSHOTS.mkdir(exist_ok=True)
        path.write_text(shown, encoding="utf-8")
        return
    assert path.is_file(), f"no snapshot {path.name}: run with SRE_UPDATE_SNAPSHOTS=1"
    assert shown == path.read_text(encoding="utf-8"), f"{path.name} differs (see module doc)"


def assert_fits(text: str) -> None:
    wide = [line for line in text.splitlines() if cell_len(line.rstrip()) > WIDTH]
    assert not wide, "\n".join(wide)


def sre(*args: str, **env: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), env={"COLUMNS": str(WIDTH), **env})
    return result.exit_code, result.stdout, result.stderr


def every_command() -> Iterator[tuple[str, ...]]:
    """The argument paths of every command and group: (), ("env",), ("env", "new"), …"""
    yield ()
    for name in COMMANDS:
        yield (name,)
        for sub in getattr(load_command(name), "commands", {}):
            yield (name, sub)


@pytest.mark.parametrize("path", list(every_command()), ids=lambda p: " ".join(p) or "sre")
def test_help(path: tuple[str, ...]) -> None:
    code, stdout, stderr = sre(*path, "--help")
    assert code == 0, stderr
    assert_snapshot("help-" + "-".join(("sre", *path)), stdout)
    assert_fits(stdout)
    assert TYPER_TYPES.search(stdout) is None
    assert "Exit codes" in stdout


def test_help_never_wraps_inside_a_hyphenated_value() -> None:
    _, stdout, _ = sre("env", "new", "--help")
    assert "aws-multitenant-rds-postgres" in stdout
    assert not re.search(r"-\n", stdout)


@pytest.fixture
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(env_cli, "_clock", lambda: NOW)
    monkeypatch.setattr(changes_cli, "_clock", lambda: NOW)


@pytest.fixture
def env_project(tmp_path: Path) -> Path:
    """Two requests whose names, owners and times are longer than an 80-column table."""
    project = tmp_path / "project"
    requests = project / "stacks" / "environments"
    requests.mkdir(parents=True)
    shutil.copy(REPO_ROOT / "Pulumi.yaml", project)
    shutil.copytree(REPO_ROOT / "policies", project / "policies", dirs_exist_ok=True)
    (requests / "pg-migration-1000.yaml").write_text(
        request_yaml(
            "pg-migration-1000",
            owner="dana.kim@example.com",
            size="1000users",
            database="aws-rds-postgres",
            expires_at="2026-11-27T17:04:00Z",
        )
    )
    (requests / "plugin-demo-integrations.yaml").write_text(
        request_yaml(
            "plugin-demo-integrations",
            owner="ravi.patel@example.com",
            team="integrations",
            expires_at="2026-12-03T12:00:00Z",
        )
    )
    return project


@pytest.mark.usefixtures("fixed_clock")
def test_env_list(env_project: Path) -> None:
    code, stdout, stderr = sre("env", "list", "--project-dir", str(env_project))
    assert code == 0, stderr
    assert_snapshot("env-list", stdout)
    assert_fits(stdout)
    for whole in ("pg-migration-1000", "plugin-demo-integrations", "2026-11-27T17:04:00Z"):
        assert whole in stdout
    assert "ravi.patel@example.com" in stdout and "…" not in stdout


def test_env_render(env_project: Path) -> None:
    code, stdout, stderr = sre(
        "env", "render", "pg-migration-1000", "--project-dir", str(env_project)
    )
    assert code == 0, stderr
    assert_snapshot("env-render", stdout)
    assert_fits(stdout)
    assert "instanceClass=db.t4g.medium" in stdout and "…" not in stdout


@pytest.mark.usefixtures("fixed_clock")
def test_changes_list(tmp_path: Path) -> None:
    propose(tmp_path, 1, stack="prod-observability", risk_level="critical", risk_score=95)
    propose(
        tmp_path,
        2,
        change_type="emergency",
        emergency_reason="disk full",
        review_due_at=NOW - timedelta(days=2),
    )
    code, stdout, stderr = sre("changes", "list", "--project-dir", str(tmp_path))
    assert code == 0, stderr
    assert_snapshot("changes-list", stdout)
    assert_fits(stdout)
    for whole in ("prod-observability", "critical (95)", "OVERDUE", "2026-11-27 02:00 UTC"):
        assert whole in stdout
    assert "…" not in stdout


def test_gate_text(git_project, tmp_path: Path) -> None:
    project = git_project()
    dated = {
        "GIT_AUTHOR_DATE": "2026-11-26T09:00:00Z",
        "GIT_COMMITTER_DATE": "2026-11-26T09:00:00Z",
    }
    subprocess.run(
        [
            "git",
            "-c",
            "user.name=Test",
            "-c",
            "user.email=test@example.com",
            "commit",
            "-q",
            "--amend",
            "--no-edit",
            "--reset-author",
        ],
        cwd=project,
        check=True,
        env={**os.environ, **dated},
    )
    code, stdout, stderr = sre(
        "gate",
        "--stack",
        "prod",
        "--preview",
        str(GATE_PREVIEW),
        "--at",
        GATE_AT,
        "--author",
        "dev@example.com",
        "--project-dir",
        str(project),
    )
    assert code == 3, stderr
    assert_snapshot("gate-text", stdout)
    assert_fits(stdout)
    digest = re.search(r"^Digest: ([0-9a-f]{64})$", stdout, re.MULTILINE)
    assert digest is not None
    assert "CRITICAL" in stdout and "…" not in stdout
