"""``sre changes``: the change records of the local ledger, and local approvals."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.markup import escape

from change_mgmt.cli.common import (
    EXIT_FAILED,
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
from change_mgmt.cli.help import SreTyper
from change_mgmt.ledger import (
    LEDGER_PATH,
    ApprovalDecision,
    ChangeNotFoundError,
    ChangeRecord,
    ChangeReference,
    ChangeState,
    InvalidChangeReference,
    Ledger,
)
from change_mgmt.principals import same_principal

if TYPE_CHECKING:
    from change_mgmt.evidence.records import EvidenceCheck

app = SreTyper(
    help=(
        f"Change records in the local ledger ({LEDGER_PATH}, never committed): the "
        "default record of changes when no Jira is configured. The preview gate proposes "
        "a record per stack and preview digest and moves it through proposed → approved → "
        "applying → applied | failed → rolled_back.\n\n"
        "A change is named by its id (4), its ledger ticket (CHG-4) or the Jira key on "
        "its record, as the gate and `sre changes list` print it.\n\n"
        "Exit codes: 0 success; 1 the command failed (unknown change, approval "
        "refused, unreadable ledger); 2 bad input (an option value that is not valid, "
        "text that cannot name a change, or a name that fits two changes)."
    ),
)

IdArgument = typer.Argument(
    ...,
    metavar="ID",
    help="The change: its id (4), ticket (CHG-4) or Jira key (see `sre changes list`).",
)

_STATE_COLOURS = {
    ChangeState.proposed: "cyan",
    ChangeState.approved: "blue",
    ChangeState.applying: "magenta",
    ChangeState.applied: "green",
    ChangeState.failed: "red",
    ChangeState.rolled_back: "yellow",
}
_RISK_COLOURS = {"low": "green", "medium": "yellow", "high": "red", "critical": "bold red"}
UNSIGNED_WARNING = (
    "warning: local approvals are unsigned (anyone with this checkout can write one) and "
    "count only where the base branch has no approvers.yaml; signed approvals "
    "(`sre approve`) replace them"
)


def _clock() -> datetime:
    """Now; where the listings read the clock (tests replace it)."""
    return datetime.now(UTC)


def _existing_ledger(base: Path) -> Ledger | None:
    """The checkout's ledger, or None when nothing was ever recorded (not created here)."""
    if not Ledger.exists_in(base):
        return None
    return Ledger.for_repository(base)


def _get(base: Path, name: str) -> tuple[Ledger, ChangeRecord]:
    """The ledger and the change ``name`` names; text that cannot name exactly one
    change is bad input (exit 2)."""
    try:
        reference = ChangeReference.parse(name)
        ledger = _existing_ledger(base)
        if ledger is None:
            raise ChangeNotFoundError(reference.ticket or reference.text)
        return ledger, ledger.resolve(reference)
    except InvalidChangeReference as exc:
        fail(escape(str(exc)), EXIT_INVALID)


def _named(record: ChangeRecord) -> str:
    """How messages name a change: its id and the ticket identity printed everywhere."""
    return f"change {record.id} ({escape(record.ticket)})"


def _parse_since(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not a date; use YYYY-MM-DD (or an ISO 8601 time)",
            param_hint="--since",
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _state(state: ChangeState) -> str:
    return f"[{_STATE_COLOURS[state]}]{state.value}[/]"


def _risk(record: ChangeRecord) -> str:
    colour = _RISK_COLOURS.get(record.risk_level, "white")
    return f"[{colour}]{record.risk_level}[/] ({record.risk_score})"


def _review(record: ChangeRecord, now: datetime) -> str:
    if record.review_due_at is None:
        return "-"
    if record.reviewed_at is not None:
        return "[green]done[/]"
    if record.review_overdue(now):
        return f"[bold red]OVERDUE[/] since {_time(record.review_due_at)}"
    return f"due {_time(record.review_due_at)}"


@app.command("list")
def list_changes(
    stack: str | None = typer.Option(None, "--stack", help="Only changes to this stack."),
    since: str | None = typer.Option(
        None,
        "--since",
        metavar="YYYY-MM-DD",
        help="Only changes proposed on or after this day (UTC), or an ISO 8601 time.",
    ),
    states: list[ChangeState] | None = typer.Option(
        None, "--state", help="Only changes in this state; repeat for several."
    ),
    overdue: bool = typer.Option(
        False, "--overdue", help="Only emergency changes whose post-change review is overdue."
    ),
    output: OutputFormat = FormatOption,
    directory: Path | None = ProjectDirOption,
) -> None:
    """Change records, newest first. The review column shows emergency changes' post-change
    reviews: due, OVERDUE or done (`sre changes review ID`).

    JSON: a list of records with keys id, stack, digest (full), state, risk_level,
    risk_score, change_type, author, commit, emergency_reason, ticket_key, ticket (the
    Jira key, else CHG-<id>), what_if_only, summary, state_times (state → ISO time),
    created_at, updated_at, review_due_at, reviewed_at, reviewer, review_notes,
    evidence (URIs of archived documents); times are ISO 8601 UTC.

    Exit codes: 0 listed (also when nothing matches); 1 the ledger cannot be read; 2 an
    option value is not valid.
    """
    moment = _parse_since(since)
    with user_errors():
        ledger = _existing_ledger(project_dir(directory))
        records = ledger.list(stack=stack, since=moment, states=states) if ledger else []
    now = _clock()
    if overdue:
        records = [record for record in records if record.review_overdue(now)]
    if output is OutputFormat.json:
        print_json([record.as_dict() for record in records])
        return
    if not records:
        err.print("no change records" + (" match" if stack or since or states else " yet"))
        return
    from change_mgmt.cli.layout import Field, print_records

    rows = [
        {
            "id": str(record.id),
            "stack": escape(record.stack),
            "state": _state(record.state),
            "risk": _risk(record),
            "type": escape(record.change_type),
            "digest": record.digest[:12],
            "author": escape(record.author or "-"),
            "ticket": escape(record.ticket),
            "review": _review(record, now),
            "updated": _time(record.updated_at),
        }
        for record in records
    ]
    print_records(out, [Field(key) for key in rows[0]], rows)
    late = sum(record.review_overdue(now) for record in records)
    err.print(f"{len(records)} change record(s)" + (f", {late} review(s) overdue" if late else ""))


def _fields(record: ChangeRecord) -> list[tuple[str, str]]:
    """The name/value lines of `sre changes show` (rich markup, user text escaped)."""
    fields = [
        ("stack", escape(record.stack)),
        ("state", _state(record.state)),
        ("risk", _risk(record)),
        ("type", escape(record.change_type)),
        ("digest", record.digest),
        ("author", escape(record.author or "-")),
        ("commit", escape(record.commit or "-")),
        ("ticket", escape(record.ticket)),
    ]
    if record.what_if_only:
        fields.append(("assessed", "[yellow]what-if only[/] (sre gate --at); no real gate run yet"))
    if record.emergency_reason:
        fields.append(("emergency", escape(record.emergency_reason)))
    if record.review_due_at is not None:
        review = _review(record, datetime.now(UTC))
        if record.reviewed_at is not None:
            review += f" by {escape(record.reviewer or '-')} at {_time(record.reviewed_at)}: "
            review += escape(record.review_notes or "")
        fields.append(("review", review))
    if record.summary:
        ops = ", ".join(f"{op} {count}" for op, count in sorted(record.summary.items()))
        fields.append(("operations", escape(ops)))
    fields += [("created", _time(record.created_at)), ("updated", _time(record.updated_at))]
    return fields


@app.command()
def show(
    change_id: str = IdArgument,
    evidence: bool = typer.Option(
        False,
        "--evidence",
        help="Check in S3 that each archived document the record names is there.",
    ),
    fetch: Path | None = typer.Option(
        None,
        "--fetch",
        metavar="DIR",
        file_okay=False,
        help="Download the archived documents to DIR/<run>/ (implies --evidence); "
        "never overwrites a file.",
    ),
    output: OutputFormat = FormatOption,
    directory: Path | None = ProjectDirOption,
) -> None:
    """One change record with the time it entered each state, its history and its local
    approvals.

    With --evidence (or --fetch) the archived documents (docs/evidence.md) are looked up
    in S3 (AWS credentials, $SRE_EVIDENCE_URL's region); JSON adds `evidence_documents`
    (uri, exists, size, last_modified, version_id, encryption, fetched_to). --fetch
    writes nothing unless every document is there and no target file exists.

    JSON: the record as in `sre changes list` (its `evidence`: the URIs of archived
    documents), plus `history` (from, to, at) and `approvals` (approver, decision,
    reason, created_at).

    Exit codes: 0 shown; 1 no such change, or the ledger cannot be read, or (--evidence)
    a document is missing or S3 cannot be read; 2 text that cannot name a change, or
    names two.
    """
    with user_errors():
        ledger, record = _get(project_dir(directory), change_id)
        history = ledger.history(record.id)
        approvals = ledger.approvals(record.stack, record.digest)
        checked = _check_evidence(record, fetch, directory) if evidence or fetch else None
    if output is OutputFormat.json:
        print_json(
            {
                **record.as_dict(),
                "history": [t.as_dict() for t in history],
                "approvals": [a.as_dict() for a in approvals],
                **({"evidence_documents": checked.as_dict()} if checked else {}),
            }
        )
        if checked and checked.missing:
            raise typer.Exit(EXIT_FAILED)
        return
    fields = _fields(record)
    out.print(f"[bold]{_named(record)}[/]")
    for name, value in fields:
        out.print(f"  {name + ':':<12}{value}")
    out.print("[bold]states[/]")
    for state in ChangeState:
        if state in record.state_times:
            out.print(f"  {state.value + ':':<12}{_time(record.state_times[state])}")
    if len(history) > len(record.state_times):
        out.print("[bold]history[/]")
        for step in history:
            origin = step.from_state.value if step.from_state else "(new)"
            out.print(f"  {_time(step.at)}  {origin} → {step.to_state.value}")
    out.print("[bold]local approvals[/] [dim](unsigned)[/]")
    if not approvals:
        out.print("  none")
    for approval in approvals:
        colour = "green" if approval.decision is ApprovalDecision.approve else "red"
        out.print(
            f"  [{colour}]{approval.decision.value}[/] by {escape(approval.approver)} "
            f"at {_time(approval.created_at)}: {escape(approval.reason)}"
        )
    if record.evidence and checked is None:
        out.print("[bold]evidence[/] [dim](archived documents)[/]")
        for uri in record.evidence:
            out.print(f"  {escape(uri)}")
    if checked is not None:
        _print_evidence(checked)


def _check_evidence(
    record: ChangeRecord, fetch: Path | None, directory: Path | None
) -> EvidenceCheck:
    from change_mgmt.evidence.records import check_evidence

    return check_evidence(record.evidence, fetch, repo_root=project_dir(directory))


def _print_evidence(checked: EvidenceCheck) -> None:
    """The archived documents, checked; a missing one fails the command (exit 1)."""
    out.print("[bold]evidence[/] [dim](archived documents, checked in S3)[/]")
    if not checked.documents:
        out.print("  none archived")
    fetched = {f.uri: f.path for f in checked.fetched}
    for document in checked.documents:
        if not document.exists:
            out.print(f"  [bold red]MISSING[/] {escape(document.uri)}")
            continue
        when = _time(document.last_modified) if document.last_modified else "-"
        out.print(f"  {escape(document.uri)}")
        out.print(f"    {document.size} bytes, {when}, {escape(document.encryption or '-')}")
        if document.uri in fetched:
            out.print(f"    fetched to {escape(str(fetched[document.uri]))}")
    if checked.missing:
        fail(f"{len(checked.missing)} archived document(s) are missing")


def git_user_email(directory: Path) -> str | None:
    """``git config user.email`` as seen from ``directory`` (repository, global, system)."""
    import git

    try:
        value = git.Git(str(directory)).config("--get", "user.email")
    except (git.GitCommandError, git.GitCommandNotFound, OSError):
        return None
    email = str(value).strip()
    return email or None


@app.command()
def approve(
    change_id: str = IdArgument,
    reason: str = typer.Option(
        ...,
        "--reason",
        metavar="TEXT",
        help="What you checked and why you agree (or object); required.",
    ),
    reject: bool = typer.Option(
        False, "--reject", help="Record a rejection instead of an approval."
    ),
    directory: Path | None = ProjectDirOption,
) -> None:
    """Record your local approval (or, with --reject, rejection) of a change.

    The approver is `git config user.email` in the project directory. The author of a
    change cannot approve it (four eyes). The approval binds to the change's stack and
    preview digest: a new preview is a new change and needs new approvals. A later
    decision by the same approver replaces the earlier one. Approving does not move the
    change to `approved`; the gate decides whether the approvals it has are enough.

    Exit codes: 0 recorded; 1 refused (you are the author, no git identity, the change is
    past approval) or no such change; 2 bad input (an empty --reason, text that cannot
    name a change).
    """
    if not reason.strip():
        raise typer.BadParameter("must not be empty: say what you checked", param_hint="--reason")
    decision = ApprovalDecision.reject if reject else ApprovalDecision.approve
    with user_errors():
        base = project_dir(directory)
        ledger, record = _get(base, change_id)
        approver = git_user_email(base)
        if approver is None:
            fail(
                f"no approver identity: `git config user.email` is not set in {escape(str(base))}"
                "; set it with `git config user.email you@example.com`"
            )
        if decision is ApprovalDecision.approve and same_principal(record.author, approver):
            fail(
                f"four eyes: the author of a change cannot approve it ({_named(record)} "
                f"was proposed by {escape(record.author or '')}); ask a teammate"
            )
        if record.state not in {ChangeState.proposed, ChangeState.approved, ChangeState.failed}:
            fail(
                f"{_named(record)} is {record.state.value}; approvals only count before it "
                "is applied"
            )
        err.print(f"[yellow]{UNSIGNED_WARNING}[/]")
        approval = ledger.add_approval(
            record.stack,
            record.digest,
            approver=approver,
            decision=decision,
            reason=reason,
            now=datetime.now(UTC),
        )
    verb = "approved" if decision is ApprovalDecision.approve else "rejected"
    out.print(
        f"{verb} change {record.id} ({escape(record.ticket)}, stack {escape(record.stack)}, "
        f"digest {record.digest[:12]}) as {escape(approval.approver)}"
    )


@app.command()
def review(
    change_id: str = IdArgument,
    notes: str = typer.Option(
        ...,
        "--notes",
        metavar="TEXT",
        help="What happened, what was learned, what follows (required).",
    ),
    directory: Path | None = ProjectDirOption,
) -> None:
    """Record the post-change review an emergency change owes.

    The reviewer is `git config user.email` and must not be the change's author. Until
    the review is recorded, `sre changes list` shows the change as due, then OVERDUE.
    With Jira, the ticket's sre-change property gets the review time (through the outbox),
    so `sre report dora --source jira` sees it too.

    Exit codes: 0 recorded; 1 refused (no git identity, not an emergency change) or no
    such change; 2 bad input (empty --notes, invalid Jira settings).
    """
    if not notes.strip():
        raise typer.BadParameter("must not be empty", param_hint="--notes")
    from change_mgmt.gate.ticketing import TicketDesk
    from change_mgmt.tickets import TicketConfigError

    with user_errors(TicketConfigError):
        base = project_dir(directory)
        ledger, record = _get(base, change_id)
        reviewer = git_user_email(base)
        if reviewer is None:
            fail("no reviewer identity: set `git config user.email you@example.com`")
        now = datetime.now(UTC)
        record = ledger.record_review(record.id, reviewer=reviewer, notes=notes, now=now)
        with TicketDesk.from_env(base, ledger) as desk:
            result = desk.record_facts(record, now=now)
    out.print(f"reviewed emergency {_named(record)} as {escape(reviewer)}")
    if result is not None and result.remaining:
        err.print(f"{result.remaining} ticket update(s) queued; `sre changes sync` sends them")


@app.command()
def sync(directory: Path | None = ProjectDirOption) -> None:
    """Deliver queued ticket updates (state transitions) to Jira.

    Updates after a change is gated or applied are queued in .sre/outbox.sqlite3 before
    they are sent, so nothing is lost while Jira is down; every `sre` run and this command
    send what is queued, in order per ticket.

    Exit codes: 0 nothing is left to send (also when nothing was queued, with or without
    Jira); 1 updates are still queued (Jira refused them, is down, or is not configured);
    2 the Jira settings are not valid.
    """
    from change_mgmt.gate.ticketing import TicketDesk
    from change_mgmt.tickets import JiraConfig, TicketConfigError
    from change_mgmt.tickets.outbox import OUTBOX_PATH, Outbox

    with user_errors(TicketConfigError):
        base = project_dir(directory)
        if JiraConfig.from_env() is None:
            exists = Outbox.exists_in(base)
            queued = len(Outbox.for_repository(base).pending()) if exists else 0
            if queued:
                fail(
                    f"{queued} ticket update(s) queued in {OUTBOX_PATH}, but no Jira is "
                    "configured ($SRE_JIRA_URL): configure it and run `sre changes sync` again"
                )
            err.print("nothing to sync: no Jira configured ($SRE_JIRA_URL) and nothing queued")
            return
        ledger = Ledger.for_repository(base)
        with TicketDesk.from_env(base, ledger) as desk:
            result = desk.replay(now=datetime.now(UTC))
    if result is None:
        out.print("nothing queued")
        return
    out.print(f"delivered {result.done}, failed {result.failed}, still queued {result.remaining}")
    for item_id, error in result.errors:
        err.print(f"  item {item_id}: {escape(error)}")
    if result.remaining:
        raise typer.Exit(EXIT_FAILED)


@app.command("rolled-back")
def rolled_back(change_id: str = IdArgument, directory: Path | None = ProjectDirOption) -> None:
    """Record that a change (applied, or failed part-way) was rolled back.

    Its ticket is moved to "rolled back" through the outbox; the DORA report counts it as
    a change failure.

    Exit codes: 0 recorded; 1 no such change, or it cannot be rolled back from its state;
    2 bad input (text that cannot name a change, invalid Jira settings).
    """
    from change_mgmt.gate.ticketing import TicketDesk
    from change_mgmt.tickets import TicketConfigError

    with user_errors(TicketConfigError):
        base = project_dir(directory)
        ledger, record = _get(base, change_id)
        now = datetime.now(UTC)
        record = ledger.transition(record.id, ChangeState.rolled_back, now=now)
        with TicketDesk.from_env(base, ledger) as desk:
            result = desk.record_state(record, now=now)
    out.print(f"{_named(record)} marked rolled back")
    if result is not None and result.remaining:
        err.print(f"{result.remaining} ticket update(s) queued; `sre changes sync` sends them")
