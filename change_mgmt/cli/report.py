"""``sre report``: reports over the change records; ``sre report dora`` for DORA metrics.

``sre report cost`` (change_mgmt/cli/report_cost.py) is registered at the end."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

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
from change_mgmt.cli.help import SreTyper
from change_mgmt.gate.sources import resolve_base
from change_mgmt.ledger import LEDGER_PATH, ChangeRecord, ChangeState, Ledger, Transition
from change_mgmt.report.dora import (
    CHANGE_FAILURE_RATE_DEFINITION,
    DEPLOYMENT_FREQUENCY_DEFINITION,
    EMERGENCY_DEFINITION,
    LEAD_TIME_DEFINITION,
    SCHEMA,
    TIME_TO_RESTORE_DEFINITION,
    Band,
    ChangeFailureRate,
    DeploymentFrequency,
    DoraReport,
    EmergencyChanges,
    LeadTime,
    RecordSource,
    TimeToRestore,
    compute_dora,
)
from change_mgmt.report.git_lead_time import GitLeadTimes
from change_mgmt.report.jira_records import JiraRecords, StatusMap, read_jira_records
from change_mgmt.tickets import JiraClient, JiraConfig, TicketError
from change_mgmt.tickets.config import ENV_URL
from change_mgmt.tickets.settings import SETTINGS_FILE, load_jira_settings

DEFAULT_WINDOW = timedelta(days=30)

app = SreTyper(
    help=(
        f"Reports over the change records: the local ledger ({LEDGER_PATH}) or, with "
        f"${ENV_URL} set, the Jira change tickets; and `sre report cost`, the monthly cost "
        "of the environments and platform stacks (docs/cost.md).\n\n"
        "Exit codes: 0 success (also when nothing was recorded yet); 2 bad input (a date, "
        "a base ref, jira.yaml); 1 the report could not be made (an unreadable ledger; "
        "Jira not configured or not reachable)."
    ),
)


class SourceChoice(StrEnum):
    auto = "auto"
    ledger = "ledger"
    jira = "jira"


_BAND_COLOURS: Mapping[Band, str] = {
    "elite": "bold green",
    "high": "green",
    "medium": "yellow",
    "low": "red",
}
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# Records that never got past approval have no deployment, failure or rollback.
_DEPLOYED_STATES = frozenset({ChangeState.applied, ChangeState.failed, ChangeState.rolled_back})


def _clock() -> datetime:
    """Now; the one place the report reads the clock (tests replace it)."""
    return datetime.now(UTC)


def parse_moment(value: str, option: str) -> datetime:
    """``YYYY-MM-DD`` (midnight UTC) or an ISO 8601 time (UTC when it names no offset)."""
    text = value.strip()
    try:
        if _DATE.match(text):
            return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not a date; use YYYY-MM-DD (UTC) or an ISO 8601 time such as "
            "2026-11-01T09:00:00+01:00",
            param_hint=option,
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def window(since: str | None, until: str | None, now: datetime) -> tuple[datetime, datetime]:
    """``[since, until)``: until defaults to now, since to 30 days before until."""
    end = parse_moment(until, "--until") if until is not None else now
    start = parse_moment(since, "--since") if since is not None else end - DEFAULT_WINDOW
    if start >= end:
        raise typer.BadParameter(
            f"the window is empty: --since ({_time(start)}) must be before --until "
            f"({_time(end)}; until is exclusive)",
            param_hint="--since/--until",
        )
    return start, end


def _read_jira(project: Path, config: JiraConfig, stack: str | None) -> JiraRecords:
    """Every gate ticket of the configured project, with a spinner while paging."""
    settings = load_jira_settings(project / SETTINGS_FILE, display_path=SETTINGS_FILE)
    statuses = StatusMap.configured(settings.statuses)
    what = f"Jira project {config.project}"
    with (
        err.status(f"Reading change tickets of {escape(what)}…") as status,
        JiraClient.from_config(config) as client,
    ):

        def progress(count: int) -> None:
            status.update(f"Reading change tickets of {escape(what)}… {count} read")

        try:
            return read_jira_records(
                client, config.project, statuses, stack=stack, progress=progress
            )
        except TicketError as exc:
            raise TicketError(f"cannot read the change records from Jira: {exc}") from exc


def _jira_config(choice: SourceChoice) -> JiraConfig | None:
    """The Jira settings when the records come from Jira; None for the ledger.
    Half-configured Jira settings are an error even for ``auto`` (as for the gate)."""
    if choice is SourceChoice.ledger:
        return None
    config = JiraConfig.from_env()
    if config is None and choice is SourceChoice.jira:
        fail(
            f"--source jira needs Jira: set {ENV_URL}, SRE_JIRA_PROJECT and the credentials "
            "(SRE_JIRA_EMAIL + SRE_JIRA_API_TOKEN, or SRE_JIRA_PAT)"
        )
    return config


def _read_ledger(
    base: Path, stack: str | None
) -> tuple[list[ChangeRecord], dict[int, list[Transition]]] | None:
    """The records (of ``stack``) and the transitions of those that were deployed; None
    when the checkout has no ledger (nothing is created here)."""
    if not Ledger.exists_in(base):
        return None
    ledger = Ledger.for_repository(base)
    records = ledger.list(stack=stack)
    history = {
        record.id: ledger.history(record.id)
        for record in records
        if _DEPLOYED_STATES.intersection(record.state_times)
    }
    return records, history


def _resolves(directory: Path, ref: str) -> bool:
    import git

    try:
        with git.Repo(directory, search_parent_directories=True) as repo:
            repo.commit(ref)
    except (
        git.InvalidGitRepositoryError,
        git.NoSuchPathError,
        git.ODBError,
        git.CommandError,
        ValueError,
    ):
        return False
    return True


@app.command("dora")
def dora(
    since: str | None = typer.Option(
        None,
        "--since",
        metavar="DATE",
        help="Start of the window (inclusive): YYYY-MM-DD (UTC) or an ISO 8601 time. "
        "Default: 30 days before --until.",
    ),
    until: str | None = typer.Option(
        None,
        "--until",
        metavar="DATE",
        help="End of the window (exclusive): YYYY-MM-DD (UTC) or an ISO 8601 time. Default: now.",
    ),
    stack: str | None = typer.Option(None, "--stack", "-s", help="Only this stack's changes."),
    base: str | None = typer.Option(
        None,
        "--base-ref",
        metavar="REF",
        help="The base branch for lead times (git log BASE..COMMIT). Default: "
        "$SRE_BASE_REF, else origin/main when this clone has it, else main.",
    ),
    output: OutputFormat = FormatOption,
    source: SourceChoice = typer.Option(
        SourceChoice.auto,
        "--source",
        help="Where the change records are: jira (the change tickets of $SRE_JIRA_PROJECT), "
        "ledger (the local ledger), auto (jira when $SRE_JIRA_URL is set, else ledger).",
    ),
    directory: Path | None = ProjectDirOption,
) -> None:
    """DORA metrics over a window: deployment frequency, lead time for changes, change
    failure rate and time to restore, each with its DORA performance band (elite, high,
    medium, low; thresholds of the 2023 State of DevOps report), plus emergency changes
    and overdue post-change reviews.

    A deployment is a change entering applied in the window. Lead time runs from the
    change's first commit (the earliest author time in git log BASE..COMMIT; the
    proposal time when the commit is not in this clone or there is no base branch, and
    the report counts those) to applied. Change failure rate: changes that failed in the
    window, or were applied in it and later rolled back, divided by changes that reached
    applied or failed in it. Time to restore: from a failure (entering failed, or
    applied → rolled_back) to the next change to the same stack entering applied.

    Records come from the local ledger, or from Jira (--source jira, or auto with
    $SRE_JIRA_URL set): every ticket labelled sre-gate in $SRE_JIRA_PROJECT, its facts
    from its sre-change issue property (older tickets: from its labels and creation
    time, counted in the notes), its state moves from its status history, mapped back
    through the statuses of jira.yaml; duplicate tickets are not counted.

    JSON (`--format json`, schema sre-platform/dora-report/v1; keys are only ever added):
    schema, generated_at, window {since, until, days}, stack, records,
    deployment_frequency {deployments, per_day, per_week, deploy_days, by_stack, band,
    definition}, lead_time {changes, median_hours, p90_hours, mean_hours, from_git,
    from_proposal, fallbacks {no_commit, commit_not_resolved}, source, band, definition},
    change_failure_rate {attempted, failed, rate, failed_change_ids, band, definition},
    time_to_restore {failures, restored, unresolved, median_hours, max_hours, band,
    definition, events [{change_id, stack, state, failed_at, restored_at, restored_by,
    hours}]}, emergency_changes {changes, change_ids, reviews_overdue,
    overdue_change_ids, definition}, thresholds, notes, source {kind (ledger|jira),
    location, project, tickets, without_property, duplicates_skipped, unknown_statuses,
    incomplete_histories, skipped, ticket_keys}. Times are ISO 8601 UTC; a value that
    is undefined (no deployments, no failures) is null, as is its band. With Jira, change
    ids are Jira issue ids (ticket_keys maps them to issue keys).

    Exit codes: 0 success (also when nothing was recorded yet); 1 the report could not be
    made (an unreadable ledger; Jira not configured or not reachable); 2 bad input (a
    date, a base ref, jira.yaml).
    """
    now = _clock()
    start, end = window(since, until, now)
    with user_errors():
        project = project_dir(directory)
        if base is not None and not _resolves(project, base):
            err.print(
                f"[bold red]error:[/] --base-ref {escape(base)} does not name a commit in "
                f"{escape(str(project))}; fetch it or pass another ref"
            )
            raise SystemExit(EXIT_INVALID)
        notes: list[str] = []
        records: list[ChangeRecord] = []
        history: Mapping[int, Sequence[Transition]] = {}
        config = _jira_config(source)
        if config is not None:
            read = _read_jira(project, config, stack)
            records, history = list(read.records), read.history
            origin = read.source()
            notes.extend(read.notes())
        else:
            loaded = _read_ledger(project, stack)
            if loaded is None:
                notes.append(
                    f"no change ledger yet ({LEDGER_PATH}): nothing was gated in this checkout"
                )
            else:
                records, history = loaded
            origin = RecordSource(
                kind="ledger",
                location=str(LEDGER_PATH),
                ticket_keys=tuple((r.id, r.ticket_key) for r in records if r.ticket_key),
            )
        resolved = resolve_base(project, base)  # a branch, never a tag of the same name
        with GitLeadTimes(
            project, resolved.name if resolved else None, resolved.commit if resolved else None
        ) as lead_times:
            report = compute_dora(
                records,
                history,
                lead_times,
                since=start,
                until=end,
                now=now,
                stack=stack,
                notes=notes,
                source=origin,
            )
    if output is OutputFormat.json:
        print_json(report.as_dict())
        return
    _print_text(report)


def _namer(source: RecordSource | None) -> Callable[[int], str]:
    """How a change is named in text: its ticket key when the records are Jira's (their
    ids are Jira issue ids), else ``#<ledger id>``."""
    keys = dict(source.ticket_keys) if source is not None and source.kind == "jira" else {}
    return lambda change_id: escape(keys.get(change_id, f"#{change_id}"))


def _print_text(report: DoraReport) -> None:
    scope = f"stack {escape(report.stack)}" if report.stack else "all stacks"
    origin = f" from {escape(report.source.describe())}" if report.source else ""
    name = _namer(report.source)
    out.print(
        f"[bold]DORA metrics[/] {_time(report.since)} → {_time(report.until)} "
        f"({report.days:.1f} days measured) · {scope} · {report.records} change record(s)"
        f"{origin}"
    )
    table = Table(pad_edge=False)
    for column in ("metric", "value", "band", "how"):
        table.add_column(column, overflow="fold")
    table.add_row(
        "Deployment frequency",
        _frequency_text(report.deployment_frequency),
        _band(report.deployment_frequency.band),
        DEPLOYMENT_FREQUENCY_DEFINITION,
    )
    table.add_row(
        "Lead time for changes",
        _lead_time_text(report.lead_time),
        _band(report.lead_time.band),
        LEAD_TIME_DEFINITION,
    )
    table.add_row(
        "Change failure rate",
        _failure_rate_text(report.change_failure_rate, name),
        _band(report.change_failure_rate.band),
        CHANGE_FAILURE_RATE_DEFINITION,
    )
    table.add_row(
        "Time to restore",
        _restore_text(report.time_to_restore),
        _band(report.time_to_restore.band),
        TIME_TO_RESTORE_DEFINITION,
    )
    table.add_row(
        "Emergency changes", _emergency_text(report.emergency, name), "", EMERGENCY_DEFINITION
    )
    out.print(table)
    if report.time_to_restore.unresolved:
        out.print("[bold]unresolved failures[/]")
        for failure in report.time_to_restore.unresolved:
            out.print(
                f"  {name(failure.change_id)} {escape(failure.stack)}: {failure.state.value} at "
                f"{_time(failure.failed_at)}, open {_duration(failure.hours)}"
            )
    for note in report.notes:
        out.print(f"[dim]note:[/] {escape(note)}")
    out.print(
        f"[dim]lead times: {escape(report.lead_time.source)}; bands: "
        f"{escape(report.thresholds.source)} (configurable); JSON: {SCHEMA}[/]"
    )


def _frequency_text(frequency: DeploymentFrequency) -> str:
    text = f"{frequency.deployments}"
    if frequency.per_day is not None and frequency.per_week is not None:
        text += f" ({frequency.per_day:.2f}/day, {frequency.per_week:.2f}/week)"
    text += f" on {frequency.deploy_days} day(s)"
    if frequency.by_stack:
        text += ": " + ", ".join(f"{escape(s)} {n}" for s, n in frequency.by_stack)
    return text


def _lead_time_text(lead: LeadTime) -> str:
    if lead.median_hours is None or lead.p90_hours is None or lead.mean_hours is None:
        return "n/a (no deployments)"
    return (
        f"median {_duration(lead.median_hours)}, p90 {_duration(lead.p90_hours)}, "
        f"mean {_duration(lead.mean_hours)} ({lead.changes} change(s); "
        f"{lead.from_proposal} from proposal time)"
    )


def _failure_rate_text(failure_rate: ChangeFailureRate, name: Callable[[int], str]) -> str:
    if failure_rate.rate is None:
        return "n/a (nothing applied or failed)"
    text = f"{failure_rate.rate:.1%} ({failure_rate.failed} of {failure_rate.attempted})"
    if failure_rate.failed_change_ids:
        text += ": " + ", ".join(name(i) for i in failure_rate.failed_change_ids)
    return text


def _restore_text(restore: TimeToRestore) -> str:
    unresolved = len(restore.unresolved)
    if restore.median_hours is None or restore.max_hours is None:
        text = "n/a (no failures)" if not unresolved else "n/a (none restored yet)"
    else:
        text = (
            f"median {_duration(restore.median_hours)}, max {_duration(restore.max_hours)} "
            f"({len(restore.restored)} restored)"
        )
    if unresolved:
        text += f"; {unresolved} unresolved"
    return text


def _emergency_text(emergency: EmergencyChanges, name: Callable[[int], str]) -> str:
    overdue = emergency.overdue_review_ids
    if not overdue:
        return f"{len(emergency.change_ids)} (no review overdue)"
    ids = ", ".join(name(i) for i in overdue)
    return f"{len(emergency.change_ids)} ({len(overdue)} review(s) overdue: {ids})"


def _band(band: Band | None) -> str:
    if band is None:
        return "[dim]n/a[/]"
    return f"[{_BAND_COLOURS[band]}]{band}[/]"


def _duration(hours: float) -> str:
    if hours < 1:
        return f"{hours * 60:.0f} min"
    if hours < 48:
        return f"{hours:.1f} h"
    return f"{hours / 24:.1f} d"


def _time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


from change_mgmt.cli import report_cost  # noqa: E402  (registered after app exists)

app.command("cost")(report_cost.cost_command)
