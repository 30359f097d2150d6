"""Every file of the bad-request corpus gives exactly the one-line errors listed in EXPECTED.txt."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from pathlib import Path

import pytest

from change_mgmt.environments.catalog import request_files, validate_requests
from tests.conftest import REPO_ROOT

CORPUS = REPO_ROOT / "tests" / "data" / "bad_requests"


def _expected() -> dict[str, list[str]]:
    by_file: dict[str, list[str]] = defaultdict(list)
    for line in (CORPUS / "EXPECTED.txt").read_text().splitlines():
        by_file[Path(line.split(":", 1)[0]).name].append(line)
    return dict(by_file)


EXPECTED = _expected()


def _validate(path: Path, now: datetime) -> list[str]:
    shipped = request_files(REPO_ROOT / "stacks" / "environments")
    report = validate_requests(
        [path], all_requests=shipped, base=REPO_ROOT, now=now, is_new_or_changed=None
    )
    return [str(problem) for problem in report.problems]


def test_corpus_is_large_and_fully_described() -> None:
    files = {path.name for path in request_files(CORPUS)}
    assert len(files) >= 25
    assert files == set(EXPECTED), "every corpus file needs expected lines, and vice versa"


@pytest.mark.parametrize("file_name", sorted(EXPECTED))
def test_bad_request_gives_exact_error_lines(file_name: str, now: datetime) -> None:
    assert _validate(CORPUS / file_name, now) == EXPECTED[file_name]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            b"name: x\x00\x01\x02",
            "bin.yaml:1:1: (document): file is binary (contains NUL bytes); expected UTF-8 YAML text",
        ),
        (
            b"name: caf\xe9\n",
            "bin.yaml:1:1: (document): file is not UTF-8 text (bad byte at offset 9)",
        ),
        (
            b"name: " + b"a" * 70_000,
            "bin.yaml:1:1: (document): file is 70006 bytes; a document of this kind is at most 65536 bytes",
        ),
        (b"a:\n" + b"  - " * 1 + b"[" * 5000 + b"]" * 5000, None),
    ],
    ids=["nul-bytes", "latin-1", "huge", "deeply-nested"],
)
def test_unreadable_files_give_one_line(
    tmp_path: Path, content: bytes, expected: str | None, now: datetime
) -> None:
    path = tmp_path / "bin.yaml"
    path.write_bytes(content)
    lines = [line.removeprefix(str(tmp_path) + "/") for line in _validate(path, now)]
    assert len(lines) == 1
    if expected is not None:
        assert lines == [expected]
    else:
        assert lines[0].startswith("bin.yaml:") and "(document)" in lines[0]


def test_alias_bomb_is_refused_before_expansion(tmp_path: Path, now: datetime) -> None:
    levels = ['a0: &a0 ["lol"]'] + [
        f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 12)
    ]
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(levels) + "\n")
    assert [line.removeprefix(str(tmp_path) + "/") for line in _validate(path, now)] == [
        "bomb.yaml:1:5: (document): anchors and aliases (&, *) are not allowed; write the value out"
    ]


def test_no_secret_value_is_echoed_in_errors(now: datetime) -> None:
    for name in ("env-password.yaml", "env-dsn.yaml", "env-aws-key.yaml"):
        text = "\n".join(_validate(CORPUS / name, now))
        for secret in ("hunter2-but-longer", "s3cretpw", "AKIAIOSFODNN7EXAMPLE"):
            assert secret not in text
