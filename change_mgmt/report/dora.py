"""DORA metrics from change records and their state history: a pure computation.

:func:`compute_dora` takes the records (from the local ledger or, through
:mod:`change_mgmt.report.jira_records`, from Jira), each record's transitions, a
:class:`LeadTimeSource` that knows when a commit's change was first committed, the
window ``[since, until)`` and ``now``. It reads no clock, no file and no repository
itself, and returns a frozen :class:`DoraReport` whose :meth:`DoraReport.as_dict` is the
stable JSON document (schema :data:`SCHEMA`).

Definitions (each also carried in the output, see the ``*_DEFINITION`` constants):

* **Deployment** — a change entering ``applied`` inside the window. A change that is
  later rolled back was still deployed and counts.
* **Deployment frequency** — deployments ÷ days of the window up to ``now`` (a window
  reaching into the future is measured only up to ``now``), per day and per week, per
  stack, and the number of distinct UTC days with a deployment.
* **Lead time for changes** — for each deployment, from the first commit of the change
  to ``applied``. The first commit comes from the lead-time source (git: the earliest
  author time among the commits reachable from the record's commit and not from the
  base branch; see :mod:`change_mgmt.report.git_lead_time` for commits already merged).
  Without a recorded commit, or when the source cannot place it, the record's proposal
  time (``created_at``) is used instead and counted as a fallback. Median, 90th
  percentile (linear interpolation between closest ranks) and mean, in hours; a
  negative duration (clock skew) counts as zero.
* **Change failure rate** — among the changes that reached ``applied`` or ``failed``
  inside the window (the denominator, each change once however often it was retried),
  the share that failed: entered ``failed`` inside the window, or were applied inside
  the window and later rolled back (a rollback counts against the window of the
  deployment it undoes). ``None`` (n/a) when nothing was attempted.
* **Time to restore** — for each failure inside the window (a change entering
  ``failed``, or entering ``rolled_back`` from ``applied``; a failed change that is then
  rolled back is one failure, at the time it failed), the time until the next change to
  the same stack enters ``applied`` (a successful retry of the same change counts).
  Median and maximum in hours over the restored ones; failures with no later
  ``applied`` up to ``now`` are listed as unresolved with how long they have been open.
* **Emergency changes** — emergency changes proposed inside the window, and the
  post-change reviews overdue at ``now`` (whenever the change was made: an overdue
  review stays on the list until it is done). A change a real gate run let through as
  an emergency stays one when it is re-gated as normal (its review is still owed and
  ``sre changes review`` accepts it); a what-if-only record
  (:attr:`~change_mgmt.ledger.ChangeRecord.what_if_only`) is no emergency and owes nothing.

Transitions are the source of truth for when things happened (a retried change has
several ``applying`` and ``failed`` moves, ``state_times`` keeps only the last of each);
for a record without any transitions its ``state_times`` stand in.

Performance bands follow the DORA *Accelerate State of DevOps Report 2023*; the
thresholds are the configurable :class:`BandThresholds` constants (:data:`DORA_2023` by
default), reported in the output next to the bands.
"""

from __future__ import annotations

import bisect
import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from change_mgmt.ledger.records import ChangeRecord, ChangeState, Transition, format_time

SCHEMA = "sre-platform/dora-report/v1"

Band = Literal["elite", "high", "medium", "low"]
BANDS: tuple[Band, ...] = ("elite", "high", "medium", "low")

DEPLOYMENT_FREQUENCY_DEFINITION = "changes entering applied in the window ÷ days up to now"
LEAD_TIME_DEFINITION = (
    "first commit (earliest author time in git log BASE..COMMIT) → applied; "
    "proposed → applied when git cannot say"
)
CHANGE_FAILURE_RATE_DEFINITION = (
    "changes that failed in the window, or were applied in it and later rolled back ÷ "
    "changes that reached applied or failed in it"
)
TIME_TO_RESTORE_DEFINITION = (
    "failure in the window (entering failed, or applied → rolled_back) → next change "
    "to the same stack entering applied"
)
EMERGENCY_DEFINITION = "emergency changes proposed in the window; reviews overdue now"

_HOUR = 3600.0
_DAY = 86400.0


@dataclass(frozen=True)
class BandThresholds:
    """Where each DORA performance band begins, best first (elite, high, medium); any
    value past the medium limit is ``low``.

    * ``deploys_per_day``: at least this many deployments per day;
    * ``lead_time_hours``: a median lead time below this;
    * ``change_failure_rate``: a rate of at most this (0–1);
    * ``restore_hours``: a median time to restore below this.
    """

    source: str
    deploys_per_day: tuple[float, float, float]
    lead_time_hours: tuple[float, float, float]
    change_failure_rate: tuple[float, float, float]
    restore_hours: tuple[float, float, float]

    def as_dict(self) -> dict[str, Any]:
        def named(limits: tuple[float, float, float], digits: int) -> dict[str, float]:
            return {band: round(limit, digits) for band, limit in zip(BANDS, limits, strict=False)}

        return {
            "source": self.source,
            "deployments_per_day_at_least": named(self.deploys_per_day, 6),
            "lead_time_hours_below": named(self.lead_time_hours, 3),
            "change_failure_rate_at_most": named(self.change_failure_rate, 4),
            "time_to_restore_hours_below": named(self.restore_hours, 3),
        }


DORA_2023 = BandThresholds(
    source="DORA Accelerate State of DevOps Report 2023",
    # Elite: on demand (at least daily on average); high: between once per day and once
    # per week; medium: between once per week and once per month; low: less often.
    deploys_per_day=(1.0, 1.0 / 7.0, 1.0 / 30.0),
    # Elite: less than one day; high: one day to one week; medium: one week to one
    # month; low: longer.
    lead_time_hours=(24.0, 24.0 * 7, 24.0 * 30),
    # The 2023 clusters: elite 5 %, high 10 %, medium 15 %, low 64 %.
    change_failure_rate=(0.05, 0.10, 0.15),
    # Failed deployment recovery time: elite less than one hour, high less than one
    # day, medium one day to one week, low longer.
    restore_hours=(1.0, 24.0, 24.0 * 7),
)
"""The default thresholds, from the 2023 report's performance clusters."""


@dataclass(frozen=True)
class RecordSource:
    """Where the change records came from: the ``source`` of the JSON document.

    ``kind`` is ``ledger`` (the local SQLite ledger at ``location``) or ``jira`` (the
    change tickets of ``project`` on the site at ``location``). For Jira, ``tickets`` is
    how many gate tickets were read, ``without_property`` those whose facts came from
    labels and the creation time (no readable ``sre-change`` property),
    ``duplicates_skipped`` those marked duplicates, ``unknown_statuses`` the status moves
    ignored because no change state maps to the status, ``incomplete_histories`` the
    tickets whose status history may be cut short, and ``skipped`` tickets that could
    not become a record at all. ``ticket_keys`` maps change ids to ticket keys.
    """

    kind: Literal["ledger", "jira"]
    location: str
    project: str | None = None
    tickets: int | None = None
    without_property: tuple[str, ...] = ()
    duplicates_skipped: tuple[str, ...] = ()
    unknown_statuses: tuple[tuple[str, int], ...] = ()
    incomplete_histories: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()
    ticket_keys: tuple[tuple[int, str], ...] = ()

    def describe(self) -> str:
        """One line for people."""
        if self.kind == "ledger":
            return f"the local ledger ({self.location})"
        return f"Jira project {self.project} at {self.location}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "location": self.location,
            "project": self.project,
            "tickets": self.tickets,
            "without_property": list(self.without_property),
            "duplicates_skipped": list(self.duplicates_skipped),
            "unknown_statuses": dict(self.unknown_statuses),
            "incomplete_histories": list(self.incomplete_histories),
            "skipped": list(self.skipped),
            "ticket_keys": {str(i): key for i, key in self.ticket_keys},
        }


class LeadTimeSource(Protocol):
    """Knows when the change that ended at a commit was first committed."""

    @property
    def description(self) -> str:
        """One line for the report: where first-commit times come from."""
        ...

    def first_commit_at(self, commit: str) -> datetime | None:
        """The earliest author time of the change's commits, or None when unknown."""
        ...


class ProposalTimeOnly:
    """A lead-time source that knows no commits: every lead time starts at proposal."""

    description = "proposal time only (no git repository given)"

    def first_commit_at(self, commit: str) -> datetime | None:
        return None


@dataclass(frozen=True)
class DeploymentFrequency:
    deployments: int
    per_day: float | None
    per_week: float | None
    deploy_days: int
    by_stack: tuple[tuple[str, int], ...]
    band: Band | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "deployments": self.deployments,
            "per_day": _round(self.per_day, 3),
            "per_week": _round(self.per_week, 3),
            "deploy_days": self.deploy_days,
            "by_stack": dict(self.by_stack),
            "band": self.band,
            "definition": DEPLOYMENT_FREQUENCY_DEFINITION,
        }


@dataclass(frozen=True)
class LeadTime:
    changes: int
    median_hours: float | None
    p90_hours: float | None
    mean_hours: float | None
    from_git: int
    without_commit: int
    commit_not_resolved: int
    source: str
    band: Band | None

    @property
    def from_proposal(self) -> int:
        """Deployments whose lead time starts at the proposal time (the fallback)."""
        return self.without_commit + self.commit_not_resolved

    def as_dict(self) -> dict[str, Any]:
        return {
            "changes": self.changes,
            "median_hours": _round(self.median_hours, 2),
            "p90_hours": _round(self.p90_hours, 2),
            "mean_hours": _round(self.mean_hours, 2),
            "from_git": self.from_git,
            "from_proposal": self.from_proposal,
            "fallbacks": {
                "no_commit": self.without_commit,
                "commit_not_resolved": self.commit_not_resolved,
            },
            "source": self.source,
            "band": self.band,
            "definition": LEAD_TIME_DEFINITION,
        }


@dataclass(frozen=True)
class ChangeFailureRate:
    attempted: int
    failed: int
    rate: float | None
    failed_change_ids: tuple[int, ...]
    band: Band | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "attempted": self.attempted,
            "failed": self.failed,
            "rate": _round(self.rate, 4),
            "failed_change_ids": list(self.failed_change_ids),
            "band": self.band,
            "definition": CHANGE_FAILURE_RATE_DEFINITION,
        }


@dataclass(frozen=True)
class Failure:
    """One failure and its restoration (``restored_at`` None: unresolved at ``now``);
    ``hours`` is the time to restore, or how long it has been open."""

    change_id: int
    stack: str
    state: ChangeState
    failed_at: datetime
    restored_at: datetime | None
    restored_by: int | None
    hours: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "change_id": self.change_id,
            "stack": self.stack,
            "state": self.state.value,
            "failed_at": format_time(self.failed_at),
            "restored_at": None if self.restored_at is None else format_time(self.restored_at),
            "restored_by": self.restored_by,
            "hours": round(self.hours, 2),
        }


@dataclass(frozen=True)
class TimeToRestore:
    failures: tuple[Failure, ...]
    median_hours: float | None
    max_hours: float | None
    band: Band | None

    @property
    def restored(self) -> tuple[Failure, ...]:
        return tuple(f for f in self.failures if f.restored_at is not None)

    @property
    def unresolved(self) -> tuple[Failure, ...]:
        return tuple(f for f in self.failures if f.restored_at is None)

    def as_dict(self) -> dict[str, Any]:
        return {
            "failures": len(self.failures),
            "restored": len(self.restored),
            "unresolved": len(self.unresolved),
            "median_hours": _round(self.median_hours, 2),
            "max_hours": _round(self.max_hours, 2),
            "band": self.band,
            "definition": TIME_TO_RESTORE_DEFINITION,
            "events": [f.as_dict() for f in self.failures],
        }


@dataclass(frozen=True)
class EmergencyChanges:
    change_ids: tuple[int, ...]
    overdue_review_ids: tuple[int, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "changes": len(self.change_ids),
            "change_ids": list(self.change_ids),
            "reviews_overdue": len(self.overdue_review_ids),
            "overdue_change_ids": list(self.overdue_review_ids),
            "definition": EMERGENCY_DEFINITION,
        }


@dataclass(frozen=True)
class DoraReport:
    """The four DORA metrics (and emergency changes) over one window."""

    since: datetime
    until: datetime
    now: datetime
    days: float
    stack: str | None
    records: int
    deployment_frequency: DeploymentFrequency
    lead_time: LeadTime
    change_failure_rate: ChangeFailureRate
    time_to_restore: TimeToRestore
    emergency: EmergencyChanges
    thresholds: BandThresholds
    notes: tuple[str, ...]
    source: RecordSource | None = None

    def as_dict(self) -> dict[str, Any]:
        """The JSON document: keys in a fixed order, times ISO 8601 UTC, hours and rates
        rounded, ``null`` for what is undefined (never a division by zero)."""
        return {
            "schema": SCHEMA,
            "generated_at": format_time(self.now),
            "window": {
                "since": format_time(self.since),
                "until": format_time(self.until),
                "days": round(self.days, 3),
            },
            "stack": self.stack,
            "records": self.records,
            "deployment_frequency": self.deployment_frequency.as_dict(),
            "lead_time": self.lead_time.as_dict(),
            "change_failure_rate": self.change_failure_rate.as_dict(),
            "time_to_restore": self.time_to_restore.as_dict(),
            "emergency_changes": self.emergency.as_dict(),
            "thresholds": self.thresholds.as_dict(),
            "notes": list(self.notes),
            "source": None if self.source is None else self.source.as_dict(),
        }


@dataclass(frozen=True)
class _Move:
    """A record entering a state; ``previous`` is the state it left (None: unknown)."""

    record: ChangeRecord
    at: datetime
    state: ChangeState
    previous: ChangeState | None


def compute_dora(
    records: Iterable[ChangeRecord],
    history: Mapping[int, Sequence[Transition]],
    lead_times: LeadTimeSource,
    *,
    since: datetime,
    until: datetime,
    now: datetime,
    stack: str | None = None,
    thresholds: BandThresholds = DORA_2023,
    notes: Sequence[str] = (),
    source: RecordSource | None = None,
) -> DoraReport:
    """DORA metrics for the window ``[since, until)`` as of ``now`` (see the module
    docstring for every definition).

    ``history`` maps a record id to its transitions (a missing id: ``state_times`` stand
    in). ``records`` should hold every record that may matter, not only those proposed in
    the window: a change proposed long ago may be applied inside it, and a failure inside
    the window may be restored after it. ``stack`` keeps only that stack's records;
    ``notes`` are passed through to the report, before the notes computed here, and
    ``source`` (where the records came from) as it is.
    """
    for name, moment in (("since", since), ("until", until), ("now", now)):
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError(f"{name} must be timezone-aware, got {moment!r}")
    if since >= until:
        raise ValueError(f"the window is empty: since {since} is not before until {until}")
    chosen = sorted((r for r in records if stack is None or r.stack == stack), key=lambda r: r.id)
    moves = {r.id: _moves(r, history.get(r.id)) for r in chosen}
    every = sorted((m for ms in moves.values() for m in ms), key=lambda m: (m.at, m.record.id))

    def inside(moment: datetime) -> bool:
        return since <= moment < until

    measured_until = min(until, now)
    days = max(0.0, (measured_until - since).total_seconds() / _DAY)
    deployments = [m for m in every if m.state is ChangeState.applied and inside(m.at)]

    computed: list[str] = []
    if not chosen:
        computed.append(
            "no change records" + (f" for stack {stack}" if stack else "") + ": every count is 0"
        )
    if until > now:
        computed.append(
            f"the window ends after now: frequencies are over the {days:.1f} days up to now"
        )
    frequency = _frequency(deployments, days, thresholds)
    lead = _lead_time(deployments, lead_times, thresholds)
    if lead.from_proposal:
        computed.append(
            f"{lead.from_proposal} of {lead.changes} lead time(s) start at the proposal time, "
            f"not the first commit ({lead.without_commit} without a recorded commit, "
            f"{lead.commit_not_resolved} whose commit git could not place)"
        )
    failure_rate = _failure_rate(moves, inside, thresholds)
    restore = _time_to_restore(every, inside, now, thresholds)
    emergency = EmergencyChanges(
        change_ids=tuple(r.id for r in chosen if r.is_emergency and inside(r.created_at)),
        overdue_review_ids=tuple(r.id for r in chosen if r.review_overdue(now)),
    )
    return DoraReport(
        since=since,
        until=until,
        now=now,
        days=days,
        stack=stack,
        records=len(chosen),
        deployment_frequency=frequency,
        lead_time=lead,
        change_failure_rate=failure_rate,
        time_to_restore=restore,
        emergency=emergency,
        thresholds=thresholds,
        notes=(*notes, *computed),
        source=source,
    )


def percentile(values: Sequence[float], fraction: float) -> float:
    """The ``fraction`` quantile (0–1) by linear interpolation between closest ranks
    (numpy's default, ``statistics.quantiles(method="inclusive")``)."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low = math.floor(position)
    high = math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def band_at_least(value: float, limits: Sequence[float]) -> Band:
    """The first band whose limit ``value`` reaches (higher is better)."""
    for band, limit in zip(BANDS, limits, strict=False):
        if value >= limit:
            return band
    return "low"


def band_below(value: float, limits: Sequence[float]) -> Band:
    """The first band whose limit ``value`` stays under (lower is better)."""
    for band, limit in zip(BANDS, limits, strict=False):
        if value < limit:
            return band
    return "low"


def band_at_most(value: float, limits: Sequence[float]) -> Band:
    """The first band whose limit ``value`` does not exceed (lower is better)."""
    for band, limit in zip(BANDS, limits, strict=False):
        if value <= limit:
            return band
    return "low"


def _moves(record: ChangeRecord, steps: Sequence[Transition] | None) -> list[_Move]:
    if steps:
        ordered = sorted(steps, key=lambda t: t.at)  # stable: equal times keep log order
        return [_Move(record, t.at, t.to_state, t.from_state) for t in ordered]
    order = list(ChangeState)
    times = sorted(record.state_times.items(), key=lambda item: (item[1], order.index(item[0])))
    result: list[_Move] = []
    previous: ChangeState | None = None
    for state, at in times:
        result.append(_Move(record, at, state, previous))
        previous = state
    return result


def _frequency(
    deployments: Sequence[_Move], days: float, thresholds: BandThresholds
) -> DeploymentFrequency:
    per_day = len(deployments) / days if days > 0 else None
    return DeploymentFrequency(
        deployments=len(deployments),
        per_day=per_day,
        per_week=None if per_day is None else per_day * 7,
        deploy_days=len({m.at.date() for m in deployments}),
        by_stack=tuple(sorted(Counter(m.record.stack for m in deployments).items())),
        band=None if per_day is None else band_at_least(per_day, thresholds.deploys_per_day),
    )


def _lead_time(
    deployments: Sequence[_Move], source: LeadTimeSource, thresholds: BandThresholds
) -> LeadTime:
    hours: list[float] = []
    from_git = without_commit = not_resolved = 0
    for move in deployments:
        start: datetime | None = None
        if move.record.commit:
            start = source.first_commit_at(move.record.commit)
            if start is None:
                not_resolved += 1
            else:
                from_git += 1
        else:
            without_commit += 1
        if start is None:
            start = move.record.created_at
        hours.append(max(0.0, (move.at - start).total_seconds() / _HOUR))
    median = statistics.median(hours) if hours else None
    return LeadTime(
        changes=len(hours),
        median_hours=median,
        p90_hours=percentile(hours, 0.9) if hours else None,
        mean_hours=statistics.fmean(hours) if hours else None,
        from_git=from_git,
        without_commit=without_commit,
        commit_not_resolved=not_resolved,
        source=source.description,
        band=None if median is None else band_below(median, thresholds.lead_time_hours),
    )


def _failure_rate(
    moves: Mapping[int, Sequence[_Move]],
    inside: Callable[[datetime], bool],
    thresholds: BandThresholds,
) -> ChangeFailureRate:
    attempted: list[int] = []
    failed: list[int] = []
    for change_id, steps in sorted(moves.items()):
        applied = [m.at for m in steps if m.state is ChangeState.applied and inside(m.at)]
        failures = [m for m in steps if m.state is ChangeState.failed and inside(m.at)]
        if not applied and not failures:
            continue
        attempted.append(change_id)
        rolled_back = bool(applied) and any(
            m.state is ChangeState.rolled_back and m.at >= min(applied) for m in steps
        )
        if failures or rolled_back:
            failed.append(change_id)
    rate = len(failed) / len(attempted) if attempted else None
    return ChangeFailureRate(
        attempted=len(attempted),
        failed=len(failed),
        rate=rate,
        failed_change_ids=tuple(failed),
        band=None if rate is None else band_at_most(rate, thresholds.change_failure_rate),
    )


def _time_to_restore(
    every: Sequence[_Move],
    inside: Callable[[datetime], bool],
    now: datetime,
    thresholds: BandThresholds,
) -> TimeToRestore:
    applied_at: dict[str, list[tuple[datetime, int]]] = defaultdict(list)
    for move in every:  # already in time order
        if move.state is ChangeState.applied:
            applied_at[move.record.stack].append((move.at, move.record.id))
    failures: list[Failure] = []
    for move in every:
        is_failure = move.state is ChangeState.failed or (
            move.state is ChangeState.rolled_back and move.previous is not ChangeState.failed
        )
        if not is_failure or not inside(move.at):
            continue
        later = applied_at.get(move.record.stack, [])
        index = bisect.bisect_right([at for at, _ in later], move.at)
        fix = later[index] if index < len(later) else None
        if fix is not None and fix[0] > now:
            fix = None
        end = now if fix is None else fix[0]
        failures.append(
            Failure(
                change_id=move.record.id,
                stack=move.record.stack,
                state=move.state,
                failed_at=move.at,
                restored_at=None if fix is None else fix[0],
                restored_by=None if fix is None else fix[1],
                hours=max(0.0, (end - move.at).total_seconds() / _HOUR),
            )
        )
    restored = [f.hours for f in failures if f.restored_at is not None]
    median = statistics.median(restored) if restored else None
    return TimeToRestore(
        failures=tuple(failures),
        median_hours=median,
        max_hours=max(restored) if restored else None,
        band=None if median is None else band_below(median, thresholds.restore_hours),
    )


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)
