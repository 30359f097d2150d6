"""Writing approvals: one record per signed commit, with the user's own signing setup."""

from __future__ import annotations

from pathlib import Path

import pytest

from change_mgmt.approvals import (
    ApprovalInputError,
    ApprovalsDirtyError,
    CommitError,
    GitApprovals,
    PushError,
    SigningNotConfiguredError,
    parse_public_key,
    signing_setup,
    write_approval,
)
from tests.change_mgmt.approvals.helpers import (
    BASE,
    LATER,
    NOW,
    STACK,
    Person,
    changeset,
    git,
)

DIGEST = changeset().digest
AUTHOR = "dave@example.com"


def configure(
    repo: Path, person: Person, *, key: str | None = None, email: str | None = None
) -> None:
    git(repo, "config", "user.name", person.name.title())
    git(repo, "config", "user.email", email or person.email)
    git(repo, "config", "gpg.format", "ssh")
    git(repo, "config", "user.signingkey", key or str(person.key))


def approve(repo: Path, **overrides: object) -> object:
    values: dict[str, object] = {
        "stack": STACK,
        "digest": DIGEST,
        "decision": "approve",
        "reason": "Checked the SG change with the owners.\nDetails in the ticket.",
        "now": NOW,
    }
    values.update(overrides)
    return write_approval(repo, **values)  # type: ignore[arg-type]


def test_an_approval_is_one_file_in_one_signed_commit_that_counts(
    repo: Path, people: dict[str, Person]
) -> None:
    configure(repo, people["alice"])
    (repo / "unrelated.txt").write_text("staged, not mine to commit\n")
    git(repo, "add", "unrelated.txt")
    written = approve(repo, ticket="CHG-7")
    assert written.path == f"approvals/prod/{DIGEST}/alice@example.com.yaml"  # type: ignore[attr-defined]
    assert written.listed and not written.replaced  # type: ignore[attr-defined]
    files = git(repo, "show", "--name-only", "--format=%s", "HEAD").split()
    assert files[0:3] == ["approve", "prod", f"{DIGEST[:12]}:"]
    assert git(repo, "log", "-1", "--format=%s").strip() == (
        f"approve prod {DIGEST[:12]}: Checked the SG change with the owners."
    )
    assert files[-1] == written.path  # type: ignore[attr-defined]
    assert "unrelated.txt" not in files
    assert git(repo, "status", "--porcelain").strip() == "A  unrelated.txt"
    [record] = GitApprovals(repo, BASE).check(STACK, DIGEST, author=AUTHOR, now=LATER).records
    assert record.counts and record.record is not None and record.record.ticket == "CHG-7"
    assert record.signature is not None and record.signature.commit == written.commit  # type: ignore[attr-defined]


def test_a_new_decision_replaces_the_old_one(repo: Path, people: dict[str, Person]) -> None:
    configure(repo, people["bob"])
    approve(repo)
    written = approve(repo, decision="reject", reason="Wait for the backup.")
    assert written.replaced  # type: ignore[attr-defined]
    assert git(repo, "log", "-1", "--format=%s").startswith(f"reject prod {DIGEST[:12]}: Wait")
    [record] = GitApprovals(repo, BASE).check(STACK, DIGEST, author=AUTHOR, now=LATER).records
    assert record.counts and record.decision == "reject"


def test_the_approver_is_who_approvers_yaml_says_the_key_belongs_to(
    repo: Path, people: dict[str, Person]
) -> None:
    configure(repo, people["alice"], email="alice.private@example.org")
    assert approve(repo).record.approver == "alice@example.com"  # type: ignore[attr-defined]
    configure(repo, people["eve"])
    written = approve(repo)
    assert written.record.approver == "eve@example.com" and not written.listed  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"gpg.format": None}, "gpg.format is 'openpgp'"),
        ({"gpg.format": "x509"}, "gpg.format is 'x509'"),
        ({"user.signingkey": None}, "user.signingkey is not set"),
        ({"user.signingkey": "/nowhere/id_ed25519"}, "/nowhere/id_ed25519, which does not exist"),
    ],
)
def test_approving_without_ssh_signing_is_refused(
    repo: Path, people: dict[str, Person], settings: dict[str, str | None], message: str
) -> None:
    configure(repo, people["alice"])
    for name, value in settings.items():
        if value is None:
            git(repo, "config", "--unset", name)
        else:
            git(repo, "config", name, value)
    with pytest.raises(SigningNotConfiguredError, match=message):
        approve(repo)
    assert not (repo / "approvals").exists()


def test_uncommitted_changes_in_approvals_are_refused(
    repo: Path, people: dict[str, Person]
) -> None:
    configure(repo, people["alice"])
    stray = repo / "approvals" / "prod" / "notes.txt"
    stray.parent.mkdir(parents=True)
    stray.write_text("draft\n")
    with pytest.raises(ApprovalsDirtyError, match="approvals/prod/notes.txt"):
        approve(repo)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("digest", "abc", "64 lowercase hex"),
        ("stack", "../etc", "not a stack name"),
        ("reason", " ", "must not be empty"),
        ("ticket", "chg 1", "not a ticket key"),
    ],
)
def test_bad_input_is_refused_before_anything_is_written(
    repo: Path, people: dict[str, Person], field: str, value: str, message: str
) -> None:
    configure(repo, people["alice"])
    with pytest.raises(ApprovalInputError, match=message):
        approve(repo, **{field: value})
    assert not (repo / "approvals").exists()


def test_a_failed_signature_leaves_nothing_behind(
    repo: Path, people: dict[str, Person], tmp_path: Path
) -> None:
    # A public key alone needs an ssh-agent holding its private half; there is none here.
    public = tmp_path / "lonely.pub"
    public.write_text(people["alice"].public + "\n")
    configure(repo, people["alice"], key=str(public))
    with pytest.raises(CommitError, match="git commit -S failed, nothing was committed"):
        approve(repo)
    assert git(repo, "status", "--porcelain", "--untracked-files=all").strip() == ""
    assert git(repo, "log", "-1", "--format=%s").strip() == "scale prod"


def test_the_signing_setup_reads_literal_keys(repo: Path, people: dict[str, Person]) -> None:
    public = people["carol"].public
    configure(repo, people["carol"], key=f"key::{public}")
    assert signing_setup(repo).public_key == parse_public_key(public)


def test_push_then_verify_in_another_clone(
    repo: Path, people: dict[str, Person], tmp_path: Path
) -> None:
    remote = tmp_path / "remote.git"
    git(tmp_path, "clone", "-q", "--bare", str(repo), str(remote))
    reviewers = {}
    for name in ("alice", "bob"):
        clone = tmp_path / name
        git(tmp_path, "clone", "-q", "-b", "change", str(remote), str(clone))
        configure(clone, people[name])
        reviewers[name] = clone
    written = approve(reviewers["alice"], push=True)
    assert written.pushed_to == "origin/change"  # type: ignore[attr-defined]
    # Bob approved meanwhile from a stale clone: the push is refused with advice.
    with pytest.raises(PushError, match="git pull --no-rebase"):
        approve(reviewers["bob"], push=True)
    git(reviewers["bob"], "pull", "-q", "--no-rebase", "--no-edit", who=people["bob"])
    git(reviewers["bob"], "push", "-q")
    ci = tmp_path / "ci"
    git(tmp_path, "clone", "-q", "-b", "change", str(remote), str(ci))
    report = GitApprovals(ci, "origin/main").check(STACK, DIGEST, author=AUTHOR, now=LATER)
    assert {(c.approver, c.code) for c in report.records} == {
        ("alice@example.com", None),
        ("bob@example.com", None),
    }


def test_push_needs_an_upstream(repo: Path, people: dict[str, Person]) -> None:
    configure(repo, people["alice"])
    with pytest.raises(PushError, match="has no upstream"):
        approve(repo, push=True)
    # The signed commit is made all the same.
    assert git(repo, "log", "-1", "--format=%s").startswith(f"approve prod {DIGEST[:12]}")
