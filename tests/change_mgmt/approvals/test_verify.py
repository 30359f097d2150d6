"""Verification against real repositories, real keys and real signed commits.

Every forgery or misuse must be refused with its named reason; only a good signature by
the key the base branch lists for the record's approver counts.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest

from change_mgmt.approvals import (
    BAD_SIGNATURE,
    EXPIRED,
    MALFORMED,
    OTHER_DIGEST,
    OTHER_STACK,
    REASON_CODES,
    RECORD_MOVED,
    SELF_APPROVAL,
    SIGNER_MISMATCH,
    SOURCE,
    UNKNOWN_SIGNER,
    UNSIGNED,
    WRONG_SIGNATURE_KIND,
    ApprovalReport,
    ApproversFileError,
    GitApprovals,
    RepositoryError,
    approvers_modified,
    change_author,
    record_path,
)
from change_mgmt.gate.decision import ApprovalSource, TicketRef, decide
from change_mgmt.risk.assess import AssessmentContext, assess
from change_mgmt.risk.policy import default_policy
from tests.change_mgmt.approvals.helpers import (
    BASE,
    LATER,
    NOW,
    STACK,
    Person,
    approvers_yaml,
    changeset,
    commit_record,
    git,
    write_record,
)

CHANGE = changeset()
DIGEST = CHANGE.digest
AUTHOR = "dave@example.com"
TICKET = TicketRef("CHG-1", "test", "proposed")


def check(repo: Path, digest: str = DIGEST, *, stack: str = STACK) -> ApprovalReport:
    return GitApprovals(repo, BASE).check(stack, digest, author=AUTHOR, now=LATER)


def verdicts(report: ApprovalReport) -> dict[str, str | None]:
    return {c.approver: c.code for c in report.records}


def test_a_signed_approval_by_a_listed_key_counts_with_its_base_groups(
    repo: Path, people: dict[str, Person]
) -> None:
    commit = commit_record(repo, people["alice"], digest=DIGEST)
    source: ApprovalSource = GitApprovals(repo, BASE)
    [approval] = source.approvals(CHANGE, author=AUTHOR, now=LATER)
    assert approval.counts and approval.why_not is None
    assert (approval.stack, approval.digest, approval.approver) == (
        STACK,
        DIGEST,
        "alice@example.com",
    )
    assert approval.groups == ("sre", "platform") and approval.source == SOURCE
    assert approval.created_at == NOW and approval.decision == "approve"
    [record] = check(repo).records
    assert record.signature is not None
    assert record.signature.commit == commit and record.signature.status == "G"
    assert record.signature.signer == "alice@example.com"
    assert record.signature.key and record.signature.key.startswith("SHA256:")
    assert record.path == f"approvals/prod/{DIGEST}/alice@example.com.yaml"


def test_an_unsigned_commit_does_not_count(repo: Path, people: dict[str, Person]) -> None:
    commit_record(repo, None, digest=DIGEST, approver=people["bob"], author=people["bob"])
    [record] = check(repo).records
    assert record.code == UNSIGNED and not record.approval.counts
    assert record.approval.why_not is not None and record.approval.why_not.startswith("unsigned: ")


def test_a_key_not_on_the_base_list_is_an_unknown_signer(
    repo: Path, people: dict[str, Person]
) -> None:
    commit_record(repo, people["eve"], digest=DIGEST)
    [record] = check(repo).records
    assert record.code == UNKNOWN_SIGNER and "does not list" in (record.message or "")


def test_a_key_added_by_the_change_itself_stays_unknown_and_the_edit_is_reported(
    repo: Path, people: dict[str, Person]
) -> None:
    (repo / "approvers.yaml").write_text(
        approvers_yaml(people, (*tuple(people)[:5], "eve")).replace("groups: []", "groups: [sre]")
    )
    git(repo, "commit", "-qam", "add eve", who=people["dave"])
    commit_record(repo, people["eve"], digest=DIGEST)
    report = check(repo)
    [record] = report.records
    assert record.code == UNKNOWN_SIGNER
    assert "this change adds it for eve@example.com" in (record.message or "")
    assert record.groups == ()  # groups come from the base branch only
    assert report.approvers_modified and approvers_modified(repo, BASE)
    assert any("modifies approvers.yaml" in note for note in report.notes)


def test_approvers_edited_on_the_base_branch_are_not_the_change_s_edit(
    repo: Path, people: dict[str, Person]
) -> None:
    assert not approvers_modified(repo, BASE)
    git(repo, "checkout", "-q", BASE)
    (repo / "approvers.yaml").write_text(approvers_yaml(people, ("alice", "bob", "carol")))
    git(repo, "commit", "-qam", "remove dave and mallory")
    git(repo, "checkout", "-q", "change")
    assert not approvers_modified(repo, BASE)
    # ...and verification already uses the base branch's new list.
    commit_record(repo, people["mallory"], digest=DIGEST)
    [record] = check(repo).records
    assert record.code == UNKNOWN_SIGNER
    # The branch's own copy still lists mallory: that is not "this change adds it".
    assert "main has removed it since" in (record.message or "")
    assert "this change adds it" not in (record.message or "")


def test_the_change_author_cannot_approve_it(repo: Path, people: dict[str, Person]) -> None:
    commit_record(repo, people["dave"], digest=DIGEST)
    [record] = check(repo).records
    assert record.code == SELF_APPROVAL
    other_case = GitApprovals(repo, BASE).check(STACK, DIGEST, author="Dave@Example.COM", now=LATER)
    assert other_case.records[0].code == SELF_APPROVAL
    nobody = GitApprovals(repo, BASE).check(STACK, DIGEST, author=None, now=LATER)
    assert nobody.records[0].counts


def test_an_approval_copied_to_another_digest_is_other_digest(
    repo: Path, people: dict[str, Person]
) -> None:
    old = changeset("old-web")
    commit_record(repo, people["alice"], digest=old.digest)
    # Mallory copies alice's signed record into the new change's directory.
    source = repo / record_path(STACK, old.digest, "alice@example.com")
    target = repo / record_path(STACK, DIGEST, "alice@example.com")
    target.parent.mkdir(parents=True)
    target.write_bytes(source.read_bytes())
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-S", "-m", "copy", who=people["mallory"], key=people["mallory"].key)
    by_path = {c.path: c for c in check(repo).records}
    copied = by_path[target.relative_to(repo).as_posix()]
    assert copied.code == OTHER_DIGEST and copied.digest == old.digest
    # The original is listed too: an approval of an earlier preview of this change.
    original = by_path[source.relative_to(repo).as_posix()]
    assert original.code == OTHER_DIGEST and "earlier preview" in (original.message or "")
    assert decide(CHANGE, _assessment(CHANGE), check(repo).approvals(), TICKET).approvers == ()


def test_an_approval_for_another_stack_is_other_stack(
    repo: Path, people: dict[str, Person]
) -> None:
    commit_record(
        repo,
        people["alice"],
        stack="staging",
        digest=DIGEST,
        path=record_path(STACK, DIGEST, "alice@example.com"),
    )
    [record] = check(repo).records
    assert record.code == OTHER_STACK and record.stack == "staging"


def test_records_in_the_wrong_place_are_found_and_refused(
    repo: Path, people: dict[str, Person]
) -> None:
    # A genuine record for this change, filed under another digest's directory...
    commit_record(
        repo,
        people["alice"],
        digest=DIGEST,
        path=record_path(STACK, "0" * 64, "alice@example.com"),
    )
    # ...and bob's record under carol's name.
    commit_record(
        repo,
        people["bob"],
        digest=DIGEST,
        path=record_path(STACK, DIGEST, "carol@example.com"),
    )
    report = check(repo)
    assert verdicts(report) == {"alice@example.com": RECORD_MOVED, "bob@example.com": RECORD_MOVED}
    assert all("belongs at" in (c.message or "") for c in report.records)


def test_an_expired_approval_does_not_count(repo: Path, people: dict[str, Person]) -> None:
    commit_record(repo, people["alice"], digest=DIGEST, valid_for=timedelta(minutes=30))
    [record] = check(repo).records
    assert record.code == EXPIRED
    still_valid = GitApprovals(repo, BASE).check(
        STACK, DIGEST, author=AUTHOR, now=NOW + timedelta(minutes=29)
    )
    assert still_valid.records[0].counts
    at_expiry = GitApprovals(repo, BASE).check(
        STACK, DIGEST, author=AUTHOR, now=NOW + timedelta(minutes=30)
    )
    assert at_expiry.records[0].code == EXPIRED


def test_someone_else_s_name_in_the_author_field_does_not_help(
    repo: Path, people: dict[str, Person]
) -> None:
    bob = people["bob"]
    # Mallory signs with her own (listed) key a record in bob's name, as bob.
    commit_record(repo, people["mallory"], digest=DIGEST, approver=bob, author=bob)
    [record] = check(repo).records
    assert record.code == SIGNER_MISMATCH
    assert record.signature is not None and record.signature.author == bob.email
    assert "signed by mallory@example.com" in (record.message or "")
    # With a key nobody listed, or no signature at all, it is no better.
    commit_record(repo, people["eve"], digest=DIGEST, approver=bob, author=bob, reason="2")
    assert verdicts(check(repo)) == {bob.email: UNKNOWN_SIGNER}
    commit_record(repo, None, digest=DIGEST, approver=bob, author=bob, reason="3")
    assert verdicts(check(repo)) == {bob.email: UNSIGNED}


def test_a_tampered_signed_commit_is_a_bad_signature(repo: Path, people: dict[str, Person]) -> None:
    commit = commit_record(repo, people["alice"], digest=DIGEST)
    body = git(repo, "cat-file", "commit", commit)
    forged = body.replace("\napprove\n", "\napprove (edited)\n")
    assert forged != body
    path = repo / "forged"
    path.write_text(forged)
    sha = git(repo, "hash-object", "-t", "commit", "-w", str(path)).strip()
    git(repo, "update-ref", "refs/heads/change", sha)
    [record] = check(repo).records
    assert record.code == BAD_SIGNATURE and "%G? = B" in (record.message or "")


def test_a_malformed_record_names_its_file_and_line(repo: Path, people: dict[str, Person]) -> None:
    path = record_path(STACK, DIGEST, "alice@example.com")
    commit_record(
        repo,
        people["alice"],
        digest=DIGEST,
        text=f"stack: prod\ndigest: {DIGEST}\ndecision: maybe\n",
    )
    [record] = check(repo).records
    assert record.code == MALFORMED and not record.counts
    assert f"{path}:3:11: decision:" in (record.message or "")
    assert record.approver == "alice@example.com"


def test_a_valid_rejection_counts_and_vetoes(repo: Path, people: dict[str, Person]) -> None:
    for name in ("alice", "bob"):
        commit_record(repo, people[name], digest=DIGEST)
    commit_record(repo, people["carol"], digest=DIGEST, decision="reject", reason="not on a Friday")
    approvals = GitApprovals(repo, BASE).approvals(CHANGE, author=AUTHOR, now=LATER)
    rejection = next(a for a in approvals if a.decision == "reject")
    assert rejection.counts and rejection.approver == "carol@example.com"
    decision = decide(CHANGE, _assessment(CHANGE), approvals, TICKET)
    assert not decision.open
    assert [r.code for r in decision.reasons] == ["rejected"]
    assert "not on a Friday" in decision.reasons[0].message


def test_a_later_decision_by_the_same_approver_replaces_the_earlier_one(
    repo: Path, people: dict[str, Person]
) -> None:
    commit_record(repo, people["carol"], digest=DIGEST, decision="reject")
    commit_record(repo, people["carol"], digest=DIGEST, reason="fixed now")
    [record] = check(repo).records
    assert record.counts and record.decision == "approve" and record.reason == "fixed now"


def _assessment(change):  # type: ignore[no-untyped-def]
    return assess(change, default_policy(), AssessmentContext(now=NOW))


def test_two_approvals_with_the_sre_group_open_the_gate_until_the_preview_changes(
    repo: Path, people: dict[str, Person]
) -> None:
    critical = changeset("data", critical=True)
    assessment = _assessment(critical)
    assert assessment.required_approvals == 2 and assessment.required_groups == ("sre",)
    source = GitApprovals(repo, BASE)
    commit_record(repo, people["bob"], digest=critical.digest)
    commit_record(repo, people["dave"], digest=critical.digest)  # the author: does not count
    closed = decide(
        critical, assessment, source.approvals(critical, author=AUTHOR, now=LATER), TICKET
    )
    assert not closed.open and closed.approvers == ("bob@example.com",)
    commit_record(repo, people["alice"], digest=critical.digest)
    opened = decide(
        critical, assessment, source.approvals(critical, author=AUTHOR, now=LATER), TICKET
    )
    assert opened.open, opened.reasons
    assert opened.approvers == ("alice@example.com", "bob@example.com")
    # A new commit changes the preview: the old approvals are a replay and count for nothing.
    changed = changeset("data2", critical=True)
    replayed = source.approvals(changed, author=AUTHOR, now=LATER)
    assert {a.approver for a in replayed} == {AUTHOR, "alice@example.com", "bob@example.com"}
    assert not any(a.counts for a in replayed)
    assert all((a.why_not or "").startswith("other-digest: ") for a in replayed)
    again = decide(changed, _assessment(changed), replayed, TICKET)
    assert not again.open and again.missing_approvals == 2


def test_a_merge_that_brings_back_a_superseded_decision_does_not_count(
    repo: Path, people: dict[str, Person]
) -> None:
    alice = people["alice"]
    approved = commit_record(repo, alice, digest=DIGEST)
    git(repo, "branch", "side", approved)
    commit_record(repo, alice, digest=DIGEST, decision="reject", reason="no")
    git(repo, "checkout", "-q", "side")
    (repo / "stacks" / "other.yaml").write_text("x: 1\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "side work", who=people["mallory"])
    git(repo, "checkout", "-q", "change")
    git(repo, "merge", "-q", "--no-edit", "side", who=people["mallory"])
    # Mallory resolves the merge in favour of alice's earlier approval.
    path = record_path(STACK, DIGEST, alice.email)
    git(repo, "checkout", approved, "--", path)
    git(repo, "commit", "-q", "--amend", "--no-edit", who=people["mallory"])
    [record] = check(repo).records
    assert record.decision == "approve" and record.code == UNSIGNED
    assert "comes from a merge" in (record.message or "")


def test_approvals_made_on_two_branches_and_merged_both_count(
    repo: Path, people: dict[str, Person]
) -> None:
    git(repo, "branch", "other")
    commit_record(repo, people["alice"], digest=DIGEST)
    git(repo, "checkout", "-q", "other")
    commit_record(repo, people["bob"], digest=DIGEST)
    git(repo, "checkout", "-q", "change")
    git(repo, "merge", "-q", "--no-edit", "other", who=people["alice"])
    assert verdicts(check(repo)) == {"alice@example.com": None, "bob@example.com": None}


def test_without_approvers_on_the_base_branch_nothing_counts(
    repo: Path, people: dict[str, Person]
) -> None:
    git(repo, "checkout", "-q", BASE)
    git(repo, "rm", "-q", "approvers.yaml")
    git(repo, "commit", "-qm", "drop approvers")
    git(repo, "checkout", "-q", "change")
    commit_record(repo, people["alice"], digest=DIGEST)
    report = check(repo)
    assert verdicts(report) == {"alice@example.com": UNKNOWN_SIGNER}
    assert not report.approvers_file_on_base
    assert any("does not exist on main" in note for note in report.notes)


def test_an_invalid_approvers_file_on_the_base_branch_is_an_error_with_its_line(
    repo: Path,
) -> None:
    git(repo, "checkout", "-q", BASE)
    (repo / "approvers.yaml").write_text(
        "approvers:\n  - principal: '*@example.com'\n    key: ssh-ed25519 AAAA\n"
    )
    git(repo, "commit", "-qam", "broken")
    git(repo, "checkout", "-q", "change")
    with pytest.raises(ApproversFileError) as caught:
        check(repo)
    text = str(caught.value)
    assert "main:approvers.yaml:2:16: approvers[0].principal:" in text
    assert "main:approvers.yaml:3:10: approvers[0].key:" in text


def test_an_unknown_base_ref_says_how_to_fix_it(repo: Path) -> None:
    with pytest.raises(RepositoryError, match=r"origin/main.*git fetch origin main"):
        GitApprovals(repo, "origin/main").check(STACK, DIGEST, author=None, now=LATER)


def test_no_records_and_no_commits_are_empty_reports(repo: Path, tmp_path: Path) -> None:
    assert check(repo).records == ()
    empty = tmp_path / "empty"
    empty.mkdir()
    git(empty, "init", "-q", "-b", "main")
    with pytest.raises(RepositoryError):
        check(empty)  # no base branch either
    git(empty, "commit", "-q", "--allow-empty", "-m", "root")
    assert check(empty).records == ()


def test_verify_all_judges_every_record_against_the_change_it_names(
    repo: Path, people: dict[str, Person]
) -> None:
    other = changeset("api")
    commit_record(repo, people["alice"], digest=DIGEST)
    commit_record(repo, people["bob"], digest=other.digest)
    commit_record(repo, people["eve"], digest=other.digest)
    report = GitApprovals(repo, BASE).verify_all(author=AUTHOR, now=LATER)
    assert {(c.digest, c.approver): c.code for c in report.records} == {
        (DIGEST, "alice@example.com"): None,
        (other.digest, "bob@example.com"): None,
        (other.digest, "eve@example.com"): UNKNOWN_SIGNER,
    }
    assert report.stack is None and report.as_dict()["counted"] == 2


def test_the_change_author_is_not_the_last_approver(repo: Path, people: dict[str, Person]) -> None:
    assert change_author(repo) == AUTHOR
    commit_record(repo, people["alice"], digest=DIGEST)
    assert change_author(repo) == AUTHOR


def test_reason_codes_are_distinct_and_named() -> None:
    assert len(set(REASON_CODES)) == len(REASON_CODES) == 12
    assert all(re.fullmatch(r"[a-z]+(-[a-z]+)*", code) for code in REASON_CODES)


def test_a_shallow_clone_is_reported(repo: Path, people: dict[str, Person], tmp_path: Path) -> None:
    commit_record(repo, people["alice"], digest=DIGEST)
    commit_record(repo, people["bob"], digest=DIGEST)
    clone = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", "--depth", "1", "--no-single-branch", f"file://{repo}", str(clone))
    git(clone, "checkout", "-q", "change")
    report = GitApprovals(clone, "origin/main").check(STACK, DIGEST, author=AUTHOR, now=LATER)
    assert report.shallow and any("shallow" in note for note in report.notes)
    # The tip commit is bob's and signed; alice's file looks written by it: not hers.
    assert verdicts(report) == {"alice@example.com": SIGNER_MISMATCH, "bob@example.com": None}


@pytest.mark.skipif(shutil.which("gpg") is None, reason="gpg is not installed")
def test_an_openpgp_signature_trusted_by_the_machine_s_keyring_does_not_count(
    repo: Path, people: dict[str, Person], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gnupg = tmp_path / "gnupg"
    gnupg.mkdir(mode=0o700)
    monkeypatch.setenv("GNUPGHOME", str(gnupg))
    subprocess.run(
        ["gpg", "--batch", "--passphrase", "", "--quick-gen-key", "alice@example.com", "ed25519"],
        check=True,
        capture_output=True,
    )
    path = write_record(repo, stack=STACK, digest=DIGEST, approver="alice@example.com")
    git(repo, "add", path)
    git(
        repo,
        "-c",
        "gpg.format=openpgp",
        "-c",
        "user.signingkey=alice@example.com",
        "commit",
        "-q",
        "-S",
        "-m",
        "approve",
        who=people["alice"],
    )
    assert git(repo, "log", "-1", "--format=%G? %GS").strip() == "G alice@example.com"
    [record] = check(repo).records
    assert record.code == WRONG_SIGNATURE_KIND
    assert "signed with OpenPGP (gpg) signature, not SSH" in (record.message or "")
    assert record.signature is not None and record.signature.kind == "openpgp"
