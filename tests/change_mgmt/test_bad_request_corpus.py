"""Every file of the bad-request corpus gives exactly the one-line errors listed in EXPECTED.txt,
alone and all together in one plain `sre env validate` run."""

from __future__ import annotations

import shutil
from collections import defaultdict
from datetime import datetime
from pathlib import Path

import pytest

from change_mgmt.environments.catalog import (
    REQUESTS_DIR,
    folder_entries,
    request_files,
    validate_requests,
)
from tests.cli.test_env_commands import sre
from tests.conftest import NOW, REPO_ROOT

CORPUS = REPO_ROOT / "tests" / "data" / "bad_requests"
CORPUS_PREFIX = "tests/data/bad_requests/"
# The one case that needs the shipped requests beside it (a name they already use).
NEEDS_SHIPPED = "pg-migration-1000.yaml"


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


def _corpus_entries() -> list[Path]:
    return [path for path in folder_entries(CORPUS) if path.name != "EXPECTED.txt"]


def test_corpus_is_large_and_fully_described() -> None:
    files = {path.name for path in _corpus_entries()}
    assert len(files) >= 60
    assert files == set(EXPECTED), "every corpus file needs expected lines, and vice versa"


def test_the_whole_corpus_in_one_plain_validate_run_reports_every_file(tmp_path: Path) -> None:
    """What CI runs: one bad file (an impossible date, a 5,000-digit number, UTF-16, a
    stray .json) never hides the others; each is judged on its own."""
    requests = tmp_path / REQUESTS_DIR
    requests.mkdir(parents=True)
    for entry in _corpus_entries():
        if entry.is_dir():
            shutil.copytree(entry, requests / entry.name)
        else:
            shutil.copy(entry, requests / entry.name)
    for shipped in request_files(REPO_ROOT / REQUESTS_DIR):
        shutil.copy(shipped, requests / shipped.name)  # replaces the NEEDS_SHIPPED case
    expected = sorted(
        line.replace(CORPUS_PREFIX, f"{REQUESTS_DIR}/", 1)
        for name, lines in EXPECTED.items()
        if name != NEEDS_SHIPPED
        for line in lines
    )
    code, stdout, stderr = sre(tmp_path, "env", "validate", "--at", NOW.isoformat())
    assert code == 2, stderr
    assert "Traceback" not in stdout + stderr
    assert sorted(stdout.splitlines()) == expected
    checked = len(EXPECTED) + len(request_files(REPO_ROOT / REQUESTS_DIR)) - 1
    assert f"invalid: {len(EXPECTED) - 1} of {checked} request file(s) have problems" in stderr


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


SECRET_CASES = {
    "env-password.yaml": "hunter2-but-longer",
    "env-dsn.yaml": "s3cretpw",
    "env-aws-key.yaml": "AKIAIOSFODNN7EXAMPLE",
    "env-numeric-password.yaml": "73519046",
    "env-pgp-private-key.yaml": "lQOYBGXyz",
    "purpose-github-token.yaml": "ghp_Q7rT2xW9kL4mN8pZ3vB6cY1dF5gH0jK2sA4e",
    "label-value-token.yaml": "xoxb-2413587620-a1b2c3d4e5f6",
}


@pytest.mark.parametrize(("file_name", "secret"), sorted(SECRET_CASES.items()))
def test_no_secret_value_is_echoed_in_errors(file_name: str, secret: str, now: datetime) -> None:
    lines = _validate(CORPUS / file_name, now)
    assert lines, f"{file_name} must be refused"
    assert secret in (CORPUS / file_name).read_text()
    assert all(secret not in line for line in lines)


def test_a_quoted_numeric_password_is_still_a_literal_password(
    tmp_path: Path, now: datetime
) -> None:
    """The numeric password's advice is the secret reference, not quoting: quoting it
    must not be a way past the rule."""
    text = (CORPUS / "env-numeric-password.yaml").read_text().replace("73519046", '"73519046"')
    path = tmp_path / "env-numeric-password.yaml"
    path.write_text(text)
    [line] = _validate(path, now)
    assert "names a credential but has a literal value" in line
    assert line.removeprefix(str(tmp_path) + "/") == EXPECTED["env-numeric-password.yaml"][
        0
    ].removeprefix(CORPUS_PREFIX)
