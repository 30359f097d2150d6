"""``sre approve`` and ``sre approvals``: signed git approvals of one preview of one stack."""

from __future__ import annotations

import contextlib
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import typer
from rich.markup import escape

from change_mgmt.approvals import (
    APPROVERS_FILE,
    ApprovalInputError,
    ApprovalReport,
    ApprovalsDirtyError,
    Decision,
    GitApprovals,
    SigningNotConfiguredError,
    WrittenApproval,
    change_author,
    expand_digest,
    recorded_digests,
    withdraw_approval,
    write_approval,
)
from change_mgmt.cli.common import (
    EXIT_INVALID,
    FormatOption,
    OutputFormat,
    ProjectDirOption,
    err,
    fail,
    out,
    print_json,
    project_dir,
    user_errors,
)
from change_mgmt.errors import SreError
from change_mgmt.gate.sources import base_ref as base_ref_name
from change_mgmt.ledger.store import Ledger

AUTHOR_ENV = "SRE_CHANGE_AUTHOR"
MAX_VALIDITY = timedelta(days=30)
_DURATION = re.compile(r"^\s*([0-9]+)\s*([mhd])\s*$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}

StackOption = typer.Option(
    ..., "--stack", "-s", help="The stack of the change, e.g. prod or acme/sre-platform/prod."
)
DigestOption = typer.Option(
    ...,
    "--digest",
    "-d",
    metavar="DIGEST",
    help=(
        "The change's preview digest as `sre gate` prints it: all 64 hex digits, or a unique "
        "prefix of at least 12 of a change known here (in approvals/ or the local ledger)."
    ),
)
AuthorOption = typer.Option(
    None,
    "--author",
    metavar="EMAIL",
    help=(
        "The change's author, who cannot approve it (default: $SRE_CHANGE_AUTHOR, else the "
        "author of the newest commit that changes anything outside approvals/)."
    ),
)


def _known_digests(base: Path, stack: str) -> set[str]:
    """Digests of ``stack`` this checkout knows: approval directories and ledger records."""
    known = recorded_digests(base, stack)
    if Ledger.exists_in(base):
        with contextlib.suppress(SreError):
            known |= {record.digest for record in Ledger.for_repository(base).list(stack=stack)}
    return known


def _full_digest(base: Path, stack: str, digest: str) -> str:
    if len(digest.strip()) == 64:
        return expand_digest(digest, ())
    full = expand_digest(digest, _known_digests(base, stack))
    err.print(f"digest {escape(digest.strip())}… is {full}")
    return full


def _author(base: Path, author: str | None) -> str | None:
    return author or os.environ.get(AUTHOR_ENV) or change_author(base)


def parse_duration(text: str) -> timedelta:
    """``90m``, ``24h``, ``7d`` → timedelta (positive, at most 30 days)."""
    match = _DURATION.fullmatch(text)
    if not match:
        raise typer.BadParameter(
            f"{text!r} is not a duration; write e.g. 90m, 24h or 7d", param_hint="--expires-in"
        )
    amount, unit = int(match.group(1)), match.group(2)
    value = timedelta(**{_UNITS[unit]: amount})
    if value <= timedelta(0) or value > MAX_VALIDITY:
        raise typer.BadParameter(
            f"{text!r}: an approval is valid for more than 0 and at most 30 days",
            param_hint="--expires-in",
        )
    return value


def approve_command(
    stack: str = StackOption,
    digest: str = DigestOption,
    reason: str = typer.Option(
        ...,
        "--reason",
        metavar="TEXT",
        help="What you checked and why you agree (or object); required.",
    ),
    reject: bool = typer.Option(
        False, "--reject", help="Record a rejection (a veto) instead of an approval."
    ),
    ticket: str | None = typer.Option(
        None,
        "--ticket",
        metavar="KEY",
        help="The change ticket this approval refers to, e.g. CHG-42.",
    ),
    expires_in: str = typer.Option(
        "24h",
        "--expires-in",
        metavar="DURATION",
        help="How long the approval is valid: 90m, 24h, 7d.",
    ),
    directory: Path | None = ProjectDirOption,
    push: bool = typer.Option(
        False, "--push", help="Push the signed commit to the current branch's upstream."
    ),
    withdraw: bool = typer.Option(
        False,
        "--withdraw",
        help=(
            "Withdraw your decision on this change: delete your record in a signed commit. "
            "The only way to lift your rejection: a deletion by anyone else does not."
        ),
    ),
    author: str | None = AuthorOption,
) -> None:
    """Approve (or with --reject, veto) one preview of one stack with a signed git commit.

    Writes approvals/<stack>/<digest>/<you>.yaml and commits only that file with
    `git commit -S`, signed with your own SSH key (`gpg.format ssh`, `user.signingkey`).
    You are the principal approvers.yaml lists for your signing key, else your
    `git config user.email`. A new decision replaces your earlier one on the same change;
    --withdraw deletes it. The change's author is refused at once (four eyes; they may
    still reject). The approval counts only for exactly this digest: a changed preview
    needs a new one.

    Exit codes: 0 committed (and pushed); 1 the commit or push failed; 2 refused: signing
    is not set up, approvals/ has uncommitted changes, you are the change's author, or an
    option value is not valid.
    """
    if not reason.strip():
        raise typer.BadParameter("must not be empty: say what you checked", param_hint="--reason")
    if withdraw and reject:
        fail("give either --reject or --withdraw, not both", EXIT_INVALID)
    valid_for = parse_duration(expires_in)
    decision: Decision = "reject" if reject else "approve"
    with user_errors():
        base = project_dir(directory)
        try:
            full = _full_digest(base, stack, digest)
            if withdraw:
                _withdraw(base, stack, full, reason, push)
                return
            written = write_approval(
                base,
                stack=stack,
                digest=full,
                decision=decision,
                reason=reason,
                now=datetime.now(UTC),
                valid_for=valid_for,
                ticket=ticket,
                push=push,
                author=_author(base, author),
            )
        except (SigningNotConfiguredError, ApprovalsDirtyError, ApprovalInputError) as exc:
            fail(escape(str(exc)), EXIT_INVALID)
    _print_written(written, decision)


def _withdraw(base: Path, stack: str, digest: str, reason: str, push: bool) -> None:
    done = withdraw_approval(base, stack=stack, digest=digest, reason=reason, push=push)
    out.print(
        f"withdrew {escape(done.approver)}'s decision on {escape(stack)} {digest[:12]}: "
        f"deleted {escape(', '.join(done.paths))} in signed commit {done.commit[:12]}"
    )
    if done.pushed_to:
        out.print(f"  pushed to {escape(done.pushed_to)}")
    else:
        err.print("push it to the change's branch (`git push`, or run again with --push)")


def _print_written(written: WrittenApproval, decision: Decision) -> None:
    record = written.record
    verb = "approved" if decision == "approve" else "rejected"
    action = "replaced your earlier decision" if written.replaced else "recorded"
    out.print(
        f"{verb} {escape(record.stack)} {record.digest[:12]} as {escape(record.approver)}: "
        f"{action} in {escape(written.path)}, signed commit {written.commit[:12]}"
    )
    out.print(f"  valid until {record.expires.astimezone(UTC):%Y-%m-%d %H:%M UTC}")
    if not written.listed:
        err.print(
            f"[yellow]warning:[/] your signing key is not listed in {APPROVERS_FILE} here, so "
            "this approval will not count (unknown-signer) until your key is added on the "
            "protected branch"
        )
    if written.pushed_to:
        out.print(f"  pushed to {escape(written.pushed_to)}")
    else:
        err.print("push it to the change's branch (`git push`, or run again with --push)")


def approvals_command(
    stack: str = StackOption,
    digest: str = DigestOption,
    base_ref: str | None = typer.Option(
        None,
        "--base-ref",
        metavar="BRANCH",
        help=(
            "The protected branch whose approvers.yaml decides whose signatures count "
            "(never the change's own copy). Default: $SRE_BASE_REF, else origin/main when "
            "this clone has it, else main, as sre gate chooses it."
        ),
    ),
    author: str | None = AuthorOption,
    output: OutputFormat = FormatOption,
    directory: Path | None = ProjectDirOption,
) -> None:
    """The signed approvals of one change: whether each counts, and why not.

    Lists every record in approvals/<stack>/<digest>/ and any record elsewhere that
    claims this change, each judged by the commit that wrote it.

    JSON: {stack, digest, base_ref, base_commit (the commit the base branch resolved
    to), head, approvers_file_on_base, approvers_modified, shallow, notes[], counted,
    records[], author}; each record has path, stack, digest, approver, decision, reason,
    counts, code (null when it counts, else the reason code), why_not, groups,
    created_at, expires_at, ticket, signature {commit, status (%G?), signer, key,
    author} (null when no commit wrote the file) and note (why a rejection that is no
    longer at HEAD still vetoes, else null).

    The base ref is only ever a branch or remote-tracking branch; a tag or an ambiguous
    name is refused.

    Exit codes: 0 listed; 1 the repository or base ref cannot be read (or the base ref is
    a tag or ambiguous); 2 bad input or an invalid approvers.yaml on the base branch.
    """
    with user_errors():
        base = project_dir(directory)
        try:
            who = _author(base, author)
            chosen = base_ref_name(base, base_ref)
            if chosen is None:
                fail("no base branch: neither origin/main nor main exists here; pass --base-ref")
            report = GitApprovals(base, chosen).check(
                stack, _full_digest(base, stack, digest), author=who, now=datetime.now(UTC)
            )
        except ApprovalInputError as exc:
            fail(escape(str(exc)), EXIT_INVALID)
    if output is OutputFormat.json:
        print_json({**report.as_dict(), "author": who})
        return
    _print_report(report, who)


def _print_report(report: ApprovalReport, author: str | None) -> None:
    from change_mgmt.cli.layout import Field, print_records

    out.print(f"[bold]approvals of {escape(report.stack or '')}[/]")
    out.print(f"  digest   {report.digest}")
    out.print(f"  signers  from {escape(report.base_ref)} at {report.base_commit[:12]}")
    out.print(f"  author   {escape(author or 'unknown')}")
    for note in report.notes:
        err.print(f"[yellow]note:[/] {escape(note)}", soft_wrap=False)
    if not report.records:
        out.print("  none")
        return
    rows = []
    for check in report.records:
        colour = "green" if check.decision == "approve" else "red"
        record = check.record
        rows.append(
            {
                "approver": escape(check.approver),
                "decision": f"[{colour}]{check.decision}[/]",
                "counts": "[green]yes[/]" if check.counts else "[red]no[/]",
                "expires": f"{record.expires.astimezone(UTC):%Y-%m-%d %H:%M}" if record else "-",
                "commit": check.signature.commit[:12] if check.signature else "-",
                "groups": escape(", ".join(check.groups) or "-"),
                "why_not": escape(check.why_not or check.note or "-"),
            }
        )
    fields = [Field(key) for key in rows[0] if key != "why_not"]
    print_records(out, [*fields, Field("why_not", prose=True)], rows)
    counted = sum(1 for check in report.records if check.counts)
    err.print(f"{counted} of {len(report.records)} record(s) count")
