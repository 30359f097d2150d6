"""Change records read from Jira: the gate's change tickets as ``ChangeRecord`` and
``Transition`` lists, the inputs of :func:`~change_mgmt.report.dora.compute_dora`.

When Jira is the record of changes, the local ledger of a CI runner is gone after the
run; the tickets are what stays. One search reads every gate ticket of the project
(label ``sre-gate``, and ``sre-stack-<slug>`` with a stack filter), oldest first, page by
page (Cloud: ``POST /rest/api/2/search/jql`` with ``nextPageToken``; Data Center:
``POST /rest/api/2/search`` with ``startAt``).

Status history — the changelog, ``expand=changelog`` on that search. Both Cloud's
``/search/jql`` and Data Center's ``/search`` document ``changelog`` among their
``expand`` values, and each entry is ``histories[]`` with ``created`` and ``items[]``;
a status move is an item with ``field == "status"`` and the status names in
``fromString``/``toString``. Cloud's search returns only the most recent 40 entries of
each issue (JRACLOUD-96459; Atlassian's documented way to more is
``GET /rest/api/2/issue/{key}/changelog``, paginated, oldest first). So: the search's
changelog is used as it is when it is whole; on Cloud, when it holds 40 entries or more,
or says it is a part (``total`` above the entries given, or ``startAt`` past 0), the
issue's changelog is read again from that resource, all pages. Data Center has no such
resource and its search returns the changelog whole; should it say otherwise, the
ticket is reported as having an incomplete history (never silently).

Facts a status history does not hold — stack, digest, commit, change type, proposal
time, review due/done — come from the ticket's ``sre-change`` issue entity property
(:mod:`change_mgmt.tickets.properties`), written by the gate. Cloud's search returns it
when named in ``properties``; Data Center's search cannot return issue properties
(JRASERVER-62898), so there it is read per ticket with
``GET /rest/api/2/issue/{key}/properties/sre-change`` (404: none). Tickets made before the
property existed (or whose property cannot be read) fall back to what is
machine-readable on every gate ticket: the stack from the ``sre-stack-<slug>`` label (the
slug, or the ``--stack`` asked for when the label is that stack's), emergency from the
``sre-emergency`` label (else counted as a normal change), and the proposal time from
the issue's ``created``; they have no commit (lead time from the proposal) and no
review times, and they are counted and named in the report. Nothing is parsed from the
summary or the description.

Statuses map back to change states through the configured status names (``jira.yaml``
``statuses`` over :data:`~change_mgmt.tickets.source.DEFAULT_STATUSES`; the statuses a
new ticket waits in, :data:`~change_mgmt.tickets.source.DEFAULT_CONTINUE_STATUSES`, and a
configured ``proposed`` status, mean ``proposed``). A move into a status no state maps
to (say "Declined") is ignored and counted by status name. Tickets labelled
``sre-duplicate`` by the gate's reconciliation are skipped and counted.

A record's id is the issue's numeric id (unique on the site, unlike the ledger ids of
short-lived CI runners); its ``ticket_key`` is the issue key. Transition times are
Jira's: when the transition reached Jira (an update that waited in the outbox while
Jira was down carries the time it was delivered).
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from change_mgmt.ledger.records import ChangeRecord, ChangeState, Transition
from change_mgmt.report.dora import RecordSource
from change_mgmt.tickets.auth import JiraFlavor
from change_mgmt.tickets.content import EMERGENCY_LABEL, GATE_LABEL, stack_label
from change_mgmt.tickets.jira import SEARCH_CHANGELOG_LIMIT, JiraClient
from change_mgmt.tickets.models import ChangeHistory, Issue
from change_mgmt.tickets.properties import CHANGE_PROPERTY, ChangeProperty
from change_mgmt.tickets.source import (
    DEFAULT_CONTINUE_STATUSES,
    DEFAULT_STATUSES,
    DUPLICATE_LABEL,
)

_log = logging.getLogger(__name__)

STACK_LABEL_PREFIX = "sre-stack-"
SEARCH_FIELDS: tuple[str, ...] = ("summary", "status", "labels", "created")
UNKNOWN_DIGEST = "0" * 64
"""The digest of a record read without the ``sre-change`` property (unknown; the DORA
computation never reads digests, risk levels or scores)."""
UNKNOWN_RISK_LEVEL = "low"
STATUS_FIELD = "status"

Progress = Callable[[int], None]
"""Called with the number of tickets read so far, after each one."""


class StatusMap:
    """Jira status name (case-insensitive) → change state.

    ``statuses`` maps states to status names, as ``jira.yaml`` does; ``proposal_statuses``
    are further names that mean ``proposed`` (the statuses a new ticket waits in). When
    two states name the same status, the earlier state in the lifecycle wins.
    """

    def __init__(
        self,
        statuses: Mapping[ChangeState, str],
        proposal_statuses: Iterable[str] = DEFAULT_CONTINUE_STATUSES,
    ) -> None:
        names: dict[str, ChangeState] = {}
        for state in ChangeState:
            name = statuses.get(state)
            if name and name.strip():
                names.setdefault(name.strip().casefold(), state)
        for name in proposal_statuses:
            names.setdefault(name.strip().casefold(), ChangeState.proposed)
        self._names = names

    @classmethod
    def configured(cls, statuses: Mapping[ChangeState, str]) -> StatusMap:
        """The defaults with the configured (``jira.yaml``) names over them."""
        return cls({**DEFAULT_STATUSES, **statuses})

    def state(self, status: str | None) -> ChangeState | None:
        if status is None:
            return None
        return self._names.get(status.strip().casefold())


@dataclass(frozen=True)
class TicketRecord:
    """One ticket read as a change record."""

    record: ChangeRecord
    transitions: tuple[Transition, ...]
    unknown_statuses: Mapping[str, int]
    from_property: bool


@dataclass(frozen=True)
class JiraRecords:
    """Every gate ticket of a project as change records, and what could not be read."""

    site: str
    project: str
    records: tuple[ChangeRecord, ...]
    history: Mapping[int, tuple[Transition, ...]]
    tickets: int
    without_property: tuple[str, ...] = ()
    duplicates: tuple[str, ...] = ()
    unknown_statuses: Mapping[str, int] = field(default_factory=dict)
    incomplete_histories: tuple[str, ...] = ()
    skipped: tuple[tuple[str, str], ...] = ()
    """``(ticket key, why)`` of tickets that could not become records."""

    def source(self) -> RecordSource:
        return RecordSource(
            kind="jira",
            location=self.site,
            project=self.project,
            tickets=self.tickets,
            without_property=self.without_property,
            duplicates_skipped=self.duplicates,
            unknown_statuses=tuple(sorted(self.unknown_statuses.items())),
            incomplete_histories=self.incomplete_histories,
            skipped=tuple(key for key, _ in self.skipped),
            ticket_keys=tuple(
                (r.id, r.ticket_key) for r in self.records if r.ticket_key is not None
            ),
        )

    def notes(self) -> list[str]:
        """What a reader of the report should know about these records, one line each."""
        notes = [
            f"records from Jira project {self.project} at {self.site}: {self.tickets} gate "
            f"ticket(s) read, {len(self.records)} change record(s)"
        ]
        if self.without_property:
            notes.append(
                f"{len(self.without_property)} ticket(s) without a readable {CHANGE_PROPERTY} "
                "property (made before it existed?) fall back to labels and the creation time "
                "(stack from sre-stack-…, emergency from sre-emergency, proposed when created, "
                f"no commit, no review times): {_keys(self.without_property)}"
            )
        if self.duplicates:
            notes.append(
                f"{len(self.duplicates)} duplicate ticket(s) ({DUPLICATE_LABEL}) not counted: "
                f"{_keys(self.duplicates)}"
            )
        if self.unknown_statuses:
            counts = ", ".join(f"{name} ×{n}" for name, n in sorted(self.unknown_statuses.items()))
            notes.append(
                f"status moves ignored, no change state maps to: {counts} "
                "(map them under statuses in jira.yaml)"
            )
        if self.incomplete_histories:
            notes.append(
                f"{len(self.incomplete_histories)} ticket(s) whose status history Jira "
                f"returned only in part: {_keys(self.incomplete_histories)}"
            )
        if self.skipped:
            shown = "; ".join(f"{key}: {why}" for key, why in self.skipped[:10])
            more = f"; and {len(self.skipped) - 10} more" if len(self.skipped) > 10 else ""
            notes.append(f"{len(self.skipped)} ticket(s) not read as changes: {shown}{more}")
        return notes


def read_jira_records(
    client: JiraClient,
    project: str,
    statuses: StatusMap,
    *,
    stack: str | None = None,
    progress: Progress | None = None,
    page_size: int = 50,
) -> JiraRecords:
    """Every gate ticket of ``project`` (of ``stack``'s label, when given) as change
    records with their transitions; see the module docstring for what is read how.
    Jira failures raise :class:`~change_mgmt.tickets.errors.JiraError` (a
    ``TicketError``), with secrets scrubbed."""
    cloud = client.flavor is JiraFlavor.CLOUD
    jql = f"project = {project} AND labels = {_jql_string(GATE_LABEL)}"
    if stack is not None:
        jql += f" AND labels = {_jql_string(stack_label(stack))}"
    jql += " ORDER BY created ASC"
    issues = client.search(
        jql,
        fields=SEARCH_FIELDS,
        page_size=page_size,
        expand=["changelog"],
        properties=[CHANGE_PROPERTY] if cloud else (),
    )
    records: list[ChangeRecord] = []
    history: dict[int, tuple[Transition, ...]] = {}
    unknown: Counter[str] = Counter()
    without: list[str] = []
    duplicates: list[str] = []
    incomplete: list[str] = []
    skipped: list[tuple[str, str]] = []
    read = 0
    for issue in issues:
        read += 1
        if DUPLICATE_LABEL in issue.labels:
            duplicates.append(issue.key)
        else:
            entries, whole = _histories(client, issue, cloud=cloud)
            if not whole:
                incomplete.append(issue.key)
            raw = (
                issue.properties.get(CHANGE_PROPERTY)
                if cloud
                else client.get_issue_property(issue.key, CHANGE_PROPERTY)
            )
            reading = ticket_record(issue, entries, raw, statuses, stack=stack)
            if isinstance(reading, str):
                skipped.append((issue.key, reading))
            else:
                records.append(reading.record)
                history[reading.record.id] = reading.transitions
                unknown.update(reading.unknown_statuses)
                if not reading.from_property:
                    without.append(issue.key)
        if progress is not None:
            progress(read)
    return JiraRecords(
        site=client.base_url,
        project=project,
        records=tuple(records),
        history=history,
        tickets=read,
        without_property=tuple(without),
        duplicates=tuple(duplicates),
        unknown_statuses=dict(unknown),
        incomplete_histories=tuple(incomplete),
        skipped=tuple(skipped),
    )


def ticket_record(
    issue: Issue,
    histories: Sequence[ChangeHistory],
    property_value: Any,
    statuses: StatusMap,
    *,
    stack: str | None = None,
) -> TicketRecord | str:
    """One ticket as a change record (pure): its facts from the ``sre-change`` property
    value (None: absent), else from labels and ``created``; its moves from the status
    items of ``histories``. A string says why the ticket cannot be a record."""
    if not issue.id.isdigit() or int(issue.id) < 1:
        return f"issue id {issue.id[:20]!r} is not a positive number"
    change_id = int(issue.id)
    facts = _facts(issue.key, property_value)
    if facts is not None:
        stack_name = facts.stack
        proposed_at: datetime | None = facts.proposed_at
    else:
        labels = [label for label in issue.labels if label.startswith(STACK_LABEL_PREFIX)]
        if not labels:
            return f"no {CHANGE_PROPERTY} property and no {STACK_LABEL_PREFIX}… label"
        if stack is not None and stack_label(stack) in issue.labels:
            stack_name = stack
        else:
            stack_name = labels[0].removeprefix(STACK_LABEL_PREFIX)
        proposed_at = issue.fields.created
        if proposed_at is None or proposed_at.tzinfo is None:
            return f"no {CHANGE_PROPERTY} property and no creation time with a time zone"
        if not stack_name:
            return f"no {CHANGE_PROPERTY} property and an empty stack label"
    assert proposed_at is not None
    transitions, unknown = _transitions(change_id, proposed_at, histories, statuses)
    state_times: dict[ChangeState, datetime] = {}
    for move in transitions:
        state_times[move.to_state] = move.at
    last = transitions[-1]
    emergency = EMERGENCY_LABEL in issue.labels
    record = ChangeRecord(
        id=change_id,
        stack=stack_name,
        digest=facts.digest if facts else UNKNOWN_DIGEST,
        risk_level=facts.risk_level if facts else UNKNOWN_RISK_LEVEL,
        risk_score=facts.risk_score if facts else 0,
        change_type=facts.change_type if facts else ("emergency" if emergency else "normal"),
        author=None,
        commit=facts.commit if facts else None,
        emergency_reason=None,
        ticket_key=issue.key,
        summary=dict(facts.summary) if facts else {},
        state=last.to_state,
        state_times=state_times,
        created_at=proposed_at,
        updated_at=max(move.at for move in transitions),
        review_due_at=facts.review_due_at if facts else None,
        reviewed_at=facts.reviewed_at if facts else None,
    )
    return TicketRecord(record, tuple(transitions), dict(unknown), facts is not None)


def _facts(key: str, value: Any) -> ChangeProperty | None:
    if value is None:
        return None
    try:
        return ChangeProperty.model_validate(value)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(part) for part in first["loc"]) or "value"
        _log.warning(
            "%s: the %s property is not readable (%s: %s); using labels",
            key,
            CHANGE_PROPERTY,
            where,
            first["msg"],
        )
        return None


def _transitions(
    change_id: int,
    proposed_at: datetime,
    histories: Sequence[ChangeHistory],
    statuses: StatusMap,
) -> tuple[list[Transition], Counter[str]]:
    """The proposal, then each status move into a mapped state, oldest first.

    A move's ``from_state`` is the state ``fromString`` maps to, else the state the
    record was in (the status it left may be one no state maps to). A move between two
    statuses of the same state (say "Open" → "To Do", both ``proposed``) is no move.
    """
    moves = [
        Transition(
            change_id=change_id, from_state=None, to_state=ChangeState.proposed, at=proposed_at
        )
    ]
    unknown: Counter[str] = Counter()
    current = ChangeState.proposed
    for entry in sorted(histories, key=lambda h: h.created):  # stable: equal times keep order
        for item in entry.items:
            if item.field != STATUS_FIELD:
                continue
            target = statuses.state(item.to_string)
            if target is None:
                unknown[(item.to_string or "").strip() or "(no name)"] += 1
                continue
            if target is current:
                continue
            previous = statuses.state(item.from_string) or current
            moves.append(
                Transition(
                    change_id=change_id, from_state=previous, to_state=target, at=entry.created
                )
            )
            current = target
    return moves, unknown


def _histories(
    client: JiraClient, issue: Issue, *, cloud: bool
) -> tuple[Sequence[ChangeHistory], bool]:
    """The issue's changelog entries, and whether they are known to be all of them."""
    log = issue.changelog
    entries: Sequence[ChangeHistory] = log.histories if log is not None else ()
    partial = (
        log is None or log.start_at > 0 or (log.total is not None and log.total > len(entries))
    )
    if cloud and (partial or len(entries) >= SEARCH_CHANGELOG_LIMIT):
        return client.changelog(issue.key), True
    return entries, not partial


def _jql_string(value: str) -> str:
    return json.dumps(value)  # double quotes, backslash-escaped: valid JQL


def _keys(keys: Sequence[str], limit: int = 10) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f" and {len(keys) - limit} more" if len(keys) > limit else "")
