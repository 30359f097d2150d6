"""``sre approve`` and ``sre approvals`` through typer's runner on real signed repositories."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from change_mgmt.cli.approvals import approvals_command, approve_command
from tests.change_mgmt.approvals.helpers import (
    BASE,
    STACK,
    Person,
    changeset,
    commit_record,
    copy_repository,
    git,
    isolated_git,
    make_people,
    make_repository,
)

runner = CliRunner()
app = typer.Typer()
app.command("approve")(approve_command)
app.command("approvals")(approvals_command)

DIGEST = changeset().digest
RECORD_KEYS = [
    "path",
    "stack",
    "digest",
    "approver",
    "decision",
    "reason",
    "counts",
    "code",
    "why_not",
    "groups",
    "created_at",
    "expires_at",
    "ticket",
    "signature",
    "note",
]


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    directory = tmp_path_factory.mktemp("home")
    with isolated_git(directory):
        yield directory


@pytest.fixture(scope="module")
def people(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Person]:
    return make_people(tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="module")
def template(
    tmp_path_factory: pytest.TempPathFactory, people: dict[str, Person], home: Path
) -> Path:
    return make_repository(tmp_path_factory.mktemp("template") / "repo", people)


@pytest.fixture
def repo(tmp_path: Path, template: Path, people: dict[str, Person], home: Path) -> Path:
    """A copy of the template, checked out by alice with her signing setup."""
    copy = copy_repository(template, tmp_path / "repo")
    alice = people["alice"]
    for name, value in {
        "user.name": "Alice",
        "user.email": alice.email,
        "gpg.format": "ssh",
        "user.signingkey": str(alice.key),
    }.items():
        git(copy, "config", name, value)
    return copy


def sre(repo: Path, home: Path, *args: str, **env: str) -> tuple[int, str, str]:
    result = runner.invoke(
        app,
        list(args),
        env={
            "SRE_PROJECT_DIR": str(repo),
            "COLUMNS": "250",
            "HOME": str(home),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": str(home / "gitconfig"),
            **env,
        },
    )
    return result.exit_code, result.stdout, result.stderr


def approve(repo: Path, home: Path, *extra: str) -> tuple[int, str, str]:
    return sre(
        repo,
        home,
        "approve",
        "--stack",
        STACK,
        "--digest",
        DIGEST,
        "--reason",
        "looks right",
        *extra,
    )


def test_approve_commits_a_signed_record(repo: Path, home: Path) -> None:
    code, stdout, stderr = approve(repo, home, "--ticket", "CHG-3", "--expires-in", "90m")
    assert code == 0, stderr
    assert (
        f"approved prod {DIGEST[:12]} as alice@example.com: recorded in approvals/prod/" in stdout
    )
    commit = git(repo, "log", "-1", "--format=%H %s")
    assert commit.split()[0][:12] in stdout
    assert commit.split(maxsplit=1)[1].strip() == f"approve prod {DIGEST[:12]}: looks right"
    text = (repo / f"approvals/prod/{DIGEST}/alice@example.com.yaml").read_text()
    assert "ticket: CHG-3" in text and "expires_at: '2" in text
    assert "push it to the change's branch" in stderr


def test_reject_replaces_the_earlier_decision(repo: Path, home: Path) -> None:
    assert approve(repo, home)[0] == 0
    code, stdout, _ = approve(repo, home, "--reject")
    assert code == 0 and stdout.startswith("rejected prod") and "replaced your earlier" in stdout


def test_withdraw_deletes_your_record_in_a_signed_commit(repo: Path, home: Path) -> None:
    assert approve(repo, home)[0] == 0
    code, stdout, stderr = approve(repo, home, "--withdraw")
    assert code == 0, stderr
    assert stdout.startswith(f"withdrew alice@example.com's decision on prod {DIGEST[:12]}")
    assert not (repo / f"approvals/prod/{DIGEST}/alice@example.com.yaml").exists()
    assert (
        git(repo, "log", "-1", "--format=%s").strip() == f"withdraw prod {DIGEST[:12]}: looks right"
    )
    assert "gpgsig -----BEGIN SSH SIGNATURE-----" in git(repo, "cat-file", "commit", "HEAD")
    code, _, stderr = approve(repo, home, "--withdraw")
    assert code == 2 and "you already withdrew it" in " ".join(stderr.split())
    code, _, stderr = approve(repo, home, "--withdraw", "--reject")
    assert code == 2 and "either --reject or --withdraw" in stderr


def test_approve_is_refused_without_ssh_signing(repo: Path, home: Path) -> None:
    git(repo, "config", "--unset", "user.signingkey")
    code, stdout, stderr = approve(repo, home)
    assert code == 2 and stdout == ""
    assert "user.signingkey is not set" in stderr and "gpg.format ssh" in stderr
    assert not (repo / "approvals").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--digest", "1234"), "64 lowercase hex"),
        (("--expires-in", "forever"), "not a duration"),
        (("--expires-in", "31d"), "at most 30 days"),
        (("--reason", "  "), "must not be empty"),
        (("--stack", "a b"), "not a stack name"),
    ],
)
def test_approve_refuses_bad_input(
    repo: Path, home: Path, args: tuple[str, str], message: str
) -> None:
    base = {"--stack": STACK, "--digest": DIGEST, "--reason": "ok"}
    base.update(dict([args]))
    flat = [item for pair in base.items() for item in pair]
    code, _, stderr = sre(repo, home, "approve", *flat)
    assert code == 2 and message in " ".join(stderr.split()), stderr


def test_approve_refuses_a_dirty_approvals_directory(repo: Path, home: Path) -> None:
    (repo / "approvals").mkdir()
    (repo / "approvals" / "draft.yaml").write_text("x: 1\n")
    code, _, stderr = approve(repo, home)
    assert code == 2 and "uncommitted changes (approvals/draft.yaml)" in stderr


def test_approve_warns_when_the_key_is_not_listed(
    repo: Path, home: Path, people: dict[str, Person]
) -> None:
    git(repo, "config", "user.signingkey", str(people["eve"].key))
    git(repo, "config", "user.email", people["eve"].email)
    code, stdout, stderr = approve(repo, home)
    assert code == 0 and "as eve@example.com" in stdout
    assert "will not count (unknown-signer)" in stderr


def _seed(repo: Path, people: dict[str, Person]) -> None:
    now = datetime.now(UTC)  # the commands judge expiry by the real clock
    commit_record(repo, people["bob"], digest=DIGEST, created=now)
    commit_record(repo, people["dave"], digest=DIGEST, created=now)  # the change's author
    commit_record(repo, people["eve"], digest=DIGEST, created=now)  # not listed


def test_approvals_lists_each_record_and_why_it_does_not_count(
    repo: Path, home: Path, people: dict[str, Person]
) -> None:
    _seed(repo, people)
    code, stdout, stderr = sre(
        repo, home, "approvals", "--stack", STACK, "--digest", DIGEST, "--base-ref", BASE
    )
    assert code == 0, stderr
    # the change's author, not the last approver
    assert re.search(r"^  author +dave@example.com$", stdout, re.MULTILINE)
    rows = {
        cells[0]: cells
        for line in stdout.splitlines()
        if line.startswith("│")
        for cells in [[c.strip() for c in line.strip("│").split("│")]]
    }
    assert rows["bob@example.com"][1:3] == ["approve", "yes"]
    assert rows["dave@example.com"][2] == "no"
    assert rows["dave@example.com"][-1].startswith("self-approval:")
    assert rows["eve@example.com"][-1].startswith("unknown-signer:")
    assert "1 of 3 record(s) count" in stderr


def test_approvals_json_is_stable(repo: Path, home: Path, people: dict[str, Person]) -> None:
    _seed(repo, people)
    code, stdout, stderr = sre(
        repo,
        home,
        "approvals",
        "--stack",
        STACK,
        "--digest",
        DIGEST,
        "--base-ref",
        BASE,
        "--format",
        "json",
        SRE_CHANGE_AUTHOR="bob@example.com",
    )
    assert code == 0, stderr
    document = json.loads(stdout)
    assert list(document) == [
        "stack",
        "digest",
        "base_ref",
        "base_commit",
        "head",
        "approvers_file_on_base",
        "approvers_modified",
        "shallow",
        "notes",
        "counted",
        "records",
        "author",
    ]
    assert document["author"] == "bob@example.com" and document["counted"] == 1
    assert document["base_commit"] == git(repo, "rev-parse", "refs/heads/main").strip()
    by_approver = {r["approver"]: r for r in document["records"]}
    assert all(list(r) == RECORD_KEYS for r in document["records"])
    assert by_approver["bob@example.com"]["code"] == "self-approval"
    assert by_approver["dave@example.com"]["code"] is None
    assert by_approver["dave@example.com"]["groups"] == ["platform"]
    assert by_approver["dave@example.com"]["signature"]["status"] == "G"
    assert by_approver["eve@example.com"]["signature"]["status"] == "U"


def test_approvals_without_a_base_ref_use_the_gates_default_base(repo: Path, home: Path) -> None:
    # This clone has main and no origin/main: like sre gate, sre approvals reads main.
    code, stdout, stderr = sre(
        repo, home, "approvals", "--stack", STACK, "--digest", DIGEST, "--format", "json"
    )
    assert code == 0, stderr
    document = json.loads(stdout)
    assert document["base_ref"] == "main"
    assert document["base_commit"] == git(repo, "rev-parse", "refs/heads/main").strip()


def test_approvals_with_an_unknown_base_ref_fails_readably(repo: Path, home: Path) -> None:
    code, _, stderr = sre(
        repo, home, "approvals", "--stack", STACK, "--digest", DIGEST, "--base-ref", "origin/main"
    )
    assert code == 1 and "base ref 'origin/main'" in stderr and "Traceback" not in stderr


def test_approvals_without_any_base_branch_say_so(repo: Path, home: Path) -> None:
    git(repo, "branch", "-m", BASE, "trunk")
    code, _, stderr = sre(repo, home, "approvals", "--stack", STACK, "--digest", DIGEST)
    assert code == 1 and "no base branch" in stderr and "Traceback" not in stderr


def test_approvals_with_a_broken_approvers_file_shows_its_line(repo: Path, home: Path) -> None:
    git(repo, "checkout", "-q", BASE)
    (repo / "approvers.yaml").write_text("approvers:\n  - principal: nobody\n")
    git(repo, "commit", "-qam", "broken")
    git(repo, "checkout", "-q", "change")
    code, stdout, _ = sre(
        repo, home, "approvals", "--stack", STACK, "--digest", DIGEST, "--base-ref", BASE
    )
    assert code == 2
    assert "main:approvers.yaml:2:16: approvers[0].principal: 'nobody' is not an email" in stdout
    assert "main:approvers.yaml:2:5: approvers[0].key: required field is missing" in stdout


def test_approvals_at_80_columns_cuts_no_identifier(
    repo: Path, home: Path, people: dict[str, Person]
) -> None:
    _seed(repo, people)
    code, stdout, stderr = sre(
        repo,
        home,
        "approvals",
        "--stack",
        STACK,
        "--digest",
        DIGEST,
        "--base-ref",
        BASE,
        COLUMNS="80",
    )
    assert code == 0, stderr
    assert max(len(line.rstrip()) for line in stdout.splitlines()) <= 80
    assert f"  digest   {DIGEST}" in stdout
    for whole in ("bob@example.com", "dave@example.com", "eve@example.com", "self-approval"):
        assert whole in stdout
    assert "…" not in stdout
