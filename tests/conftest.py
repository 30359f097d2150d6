"""Shared fixtures: a fixed clock, the repository root, and throwaway git repositories."""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 27, tzinfo=UTC)
MEMORY_BACKED = Path("/dev/shm")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Temporary files in memory where Linux offers a tmpfs and nobody chose otherwise:
    the tests' ledgers, git repositories and servers fsync on every commit, which on a
    disk is a third of the suite's time. Subprocesses inherit ``TMPDIR``; pytest still
    numbers, locks and prunes its own directories."""
    if "TMPDIR" in os.environ or config.option.basetemp:
        return
    if MEMORY_BACKED.is_dir() and os.access(MEMORY_BACKED, os.W_OK | os.X_OK):
        os.environ["TMPDIR"] = str(MEMORY_BACKED)
        tempfile.tempdir = None  # forget the directory tempfile chose before


@pytest.fixture
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture
def now() -> datetime:
    return NOW


def git(cwd: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
        env={
            "GIT_AUTHOR_NAME": "Test",
            "GIT_AUTHOR_EMAIL": "test@example.com",
            "GIT_COMMITTER_NAME": "Test",
            "GIT_COMMITTER_EMAIL": "test@example.com",
            "HOME": str(cwd),
            "PATH": "/usr/bin:/bin:/usr/local/bin",
        },
    )
    return result.stdout


@pytest.fixture
def git_project(tmp_path: Path) -> Callable[..., Path]:
    """A real git repository shaped like this project: Pulumi.yaml + stacks/environments/."""

    def make(**requests: str) -> Path:
        root = tmp_path / "project"
        (root / "stacks" / "environments").mkdir(parents=True)
        (root / "Pulumi.yaml").write_text((REPO_ROOT / "Pulumi.yaml").read_text())
        for name, text in requests.items():
            (root / "stacks" / "environments" / f"{name}.yaml").write_text(text)
        git(root, "init", "-q", "-b", "main")
        git(root, "add", "-A")
        git(root, "commit", "-q", "-m", "base")
        return root

    return make


def request_yaml(name: str, *, expires_at: str = "2026-11-29T12:00:00Z", **fields: str) -> str:
    """A valid request document (as text) with optional field overrides."""
    values = {
        "name": name,
        "owner": "dev@example.com",
        "team": "backend",
        "purpose": "testing",
        "version": '"10.11.2"',
        "expires_at": expires_at,
        **fields,
    }
    return "".join(f"{key}: {value}\n" for key, value in values.items())


@pytest.fixture(scope="session")
def ssh_keys(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], tuple[Path, str]]:
    """Ed25519 keys made with ssh-keygen, once per session: name → (private key, public line)."""
    directory = tmp_path_factory.mktemp("ssh-keys")
    made: dict[str, tuple[Path, str]] = {}

    def key(name: str) -> tuple[Path, str]:
        if name not in made:
            path = directory / name
            subprocess.run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(path)],
                check=True,
                capture_output=True,
            )
            made[name] = (path, (directory / f"{name}.pub").read_text().strip())
        return made[name]

    return key


def open_change_window(project: Path) -> None:
    """Commit a risk policy whose change window is always open to ``project``."""
    days = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    hours = "".join(f'    {day}: ["00:00-24:00"]\n' for day in days)
    (project / "risk-policy.yaml").write_text(
        "# Always inside the change window: tests gate without a what-if time (--at).\n"
        f"change_windows:\n  timezone: UTC\n  hours:\n{hours}"
    )
    git(project, "add", "risk-policy.yaml")
    git(project, "commit", "-q", "-m", "risk policy: always in the change window")
