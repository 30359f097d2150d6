"""Where a change's ticket lives: Jira when ``$SRE_JIRA_URL`` is set, else the local ledger.

Finding or creating the ticket is part of the gate and fails closed (no ticket, no
production change). Later state changes (approved, applying, applied, failed) go through
the durable outbox and are replayed at once, by the next ``sre`` run, or by
``sre changes sync``: nothing is lost while Jira is down.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType

from change_mgmt.gate.decision import Approval, TicketRef
from change_mgmt.gate.sources import LedgerTickets
from change_mgmt.ledger.records import ChangeRecord
from change_mgmt.ledger.store import Ledger
from change_mgmt.tickets import JiraClient, JiraConfig, TicketError
from change_mgmt.tickets.content import TicketContext
from change_mgmt.tickets.outbox import Outbox, ReplayResult
from change_mgmt.tickets.properties import CHANGE_PROPERTY, change_property
from change_mgmt.tickets.settings import SETTINGS_FILE, load_jira_settings
from change_mgmt.tickets.source import (
    DEFAULT_STATUSES,
    DEFAULT_TRANSITIONS,
    JiraTickets,
    JsmApprovals,
)


@dataclass(frozen=True)
class TicketResult:
    ticket: TicketRef | None
    problem: str | None = None


class TicketDesk:
    """The ticket source of one ``sre`` run (a context manager: it may hold a client)."""

    def __init__(self, project_dir: Path, ledger: Ledger, config: JiraConfig | None) -> None:
        self.project_dir = project_dir
        self.ledger = ledger
        self.config = config
        self._client: JiraClient | None = None
        self._jira: JiraTickets | None = None
        if config is not None:
            settings = load_jira_settings(project_dir / SETTINGS_FILE, display_path=SETTINGS_FILE)
            config = config.model_copy(update={"fields": settings.fields})
            self._client = JiraClient.from_config(config)
            self._jira = JiraTickets(
                self._client,
                config,
                ledger,
                transitions={**DEFAULT_TRANSITIONS, **settings.transitions},
                statuses={**DEFAULT_STATUSES, **settings.statuses},
            )

    @classmethod
    def from_env(cls, project_dir: Path, ledger: Ledger) -> TicketDesk:
        return cls(project_dir, ledger, JiraConfig.from_env())

    def __enter__(self) -> TicketDesk:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._client is not None:
            self._client.close()

    @property
    def source(self) -> str:
        return "jira" if self._jira else "local ledger"

    def ticket_for(self, record: ChangeRecord, ctx: TicketContext) -> TicketResult:
        if self._jira is None:
            return TicketResult(LedgerTickets().ticket_for(record))
        try:
            return TicketResult(self._jira.ticket_for(record, ctx))
        except TicketError as exc:
            return TicketResult(None, str(exc))

    def jsm_approvals(
        self, ticket: TicketRef | None, record: ChangeRecord, *, counts: bool
    ) -> tuple[tuple[Approval, ...], str | None]:
        """Approvals given on the Jira Service Management ticket, for this digest only (those
        decided before the digest was first gated do not count); with a note on failure."""
        if self._client is None or ticket is None or ticket.source != "jira":
            return (), None
        jsm = JsmApprovals(self._client, counts=counts)
        try:
            found = jsm.approvals_for(
                ticket.key, stack=record.stack, digest=record.digest, not_before=record.created_at
            )
        except TicketError as exc:
            return (), f"Jira Service Management approvals not read: {exc}"
        return tuple(found), None

    def link(self, ticket: TicketRef | None, links: Mapping[str, str]) -> str | None:
        """Upsert remote links (pull request, CI run) on the ticket; a note on failure."""
        if self._client is None or ticket is None or ticket.source != "jira":
            return None
        try:
            for title, url in links.items():
                self._client.upsert_remote_link(
                    ticket.key, global_id=f"sre-gate:{title}:{url}", url=url, title=title
                )
        except TicketError as exc:
            return f"links on {ticket.key} not updated: {exc}"
        return None

    def record_state(self, record: ChangeRecord, *, now: datetime) -> ReplayResult | None:
        """Queue the record's state for its ticket and try to deliver everything queued."""
        if self._jira is None or not record.ticket_key:
            return None
        outbox = Outbox.for_repository(self.project_dir)
        moment = record.state_times.get(record.state, now)
        outbox.enqueue(
            "transition",
            record.ticket_key,
            {"state": record.state.value, "change_id": record.id, "at": moment.isoformat()},
            now=now,
        )
        return outbox.replay(self._jira.apply_outbox_item, now=now)

    def record_facts(self, record: ChangeRecord, *, now: datetime) -> ReplayResult | None:
        """Queue the record's facts (its ``sre-change`` issue property, say after a
        post-change review) for its ticket and try to deliver everything queued."""
        if self._jira is None or not record.ticket_key:
            return None
        outbox = Outbox.for_repository(self.project_dir)
        outbox.enqueue(
            "property",
            record.ticket_key,
            {"key": CHANGE_PROPERTY, "value": change_property(record)},
            now=now,
        )
        return outbox.replay(self._jira.apply_outbox_item, now=now)

    def replay(self, *, now: datetime) -> ReplayResult | None:
        """Deliver what earlier runs queued (None without Jira or without an outbox)."""
        if self._jira is None or not Outbox.exists_in(self.project_dir):
            return None
        return Outbox.for_repository(self.project_dir).replay(self._jira.apply_outbox_item, now=now)
