"""Tests and benchmarks read nothing outside the repository, so a fresh clone passes alone.

A static check, because a read outside the repository passes wherever that path happens to
exist (this workspace has a shared folder beside the checkout; a new contributor's machine
does not): every text file under ``tests/`` and ``benchmarks/`` is searched for absolute
workspace paths, paths into a sibling ``shared`` folder, and ``Path(__file__)`` chains that
climb above the repository root.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

SCANNED = ("tests", "benchmarks")

# The names are assembled here, so that this file names no such path itself and is
# scanned like every other: the workspace's absolute root, and the team's shared folder
# beside the checkout, reached as a sibling or as a path segment.
WORKSPACE = "/" + "work" + "/"
SHARED = "sha" + "red"
FILE = "__" + "file__"  # the examples below climb from a test file
OUTSIDE = re.compile(
    re.escape(WORKSPACE) + r"|\.\.[/\\]" + SHARED + r"\b|[\"']" + SHARED + r"[\"']\s*/"
)

# ``Path(__file__)[.resolve()][.parents[K]][.parent…]``: how far up a file climbs.
CLIMB = re.compile(r"__file__\)(?:\.resolve\(\))?(?:\.parents\[(\d+)\])?((?:\.parent\b)*)")


def _texts() -> list[Path]:
    files = (p for top in SCANNED for p in sorted((REPO_ROOT / top).rglob("*")))
    return [p for p in files if p.is_file() and "__pycache__" not in p.parts]


def _outside_paths(relative: Path, text: str) -> list[str]:
    """Each line of ``text`` (the file at ``relative``) that names a path outside the repo."""
    root_level = len(relative.parts) - 1  # ``Path(__file__).parents[root_level]`` is the root
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        climbs = [
            (int(parents) if parents else -1) + parent.count(".parent")
            for parents, parent in CLIMB.findall(line)
        ]
        if OUTSIDE.search(line) or any(level > root_level for level in climbs):
            found.append(f"{relative}:{number}: {line.strip()}")
    return found


def test_no_test_or_benchmark_names_a_path_outside_the_repository() -> None:
    found = []
    for path in _texts():
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # binary data names no path a test opens
        found += _outside_paths(path.relative_to(REPO_ROOT), text)
    assert found == []


@pytest.mark.parametrize(
    ("line", "outside"),
    [
        (f'SAMPLES = Path("{WORKSPACE}{SHARED}/fixtures/pulumi-previews")', True),
        (f'Path({FILE}).resolve().parents[3].parent / "{SHARED}" / "fixtures"', True),
        (f'Path({FILE}).resolve().parents[4] / "x"', True),
        (f"Path({FILE}).parent.parent.parent.parent.parent", True),
        (f'ROOT / ".." / "{SHARED}" / "charts"', True),
        (f'"../{SHARED}/charts/app"', True),
        (f"REPO_ROOT = Path({FILE}).resolve().parents[3]", False),
        (f"Path({FILE}).resolve().parent.parent.parent.parent", False),
        ('SAMPLES = REPO_ROOT / "tests" / "data" / "pulumi-previews"', False),
        ('"arn:aws:s3:::shared/env/*"', False),
    ],
)
def test_the_check_tells_outside_paths_from_inside_ones(line: str, outside: bool) -> None:
    """At ``tests/a/b/test_x.py`` the root is ``parents[3]``: one more level is outside."""
    assert bool(_outside_paths(Path("tests/a/b/test_x.py"), line)) is outside
