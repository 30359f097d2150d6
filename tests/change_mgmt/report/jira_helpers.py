"""A change gate against the fake Jira for report tests: changes proposed and moved by
the real ticket code (``TicketDesk``: ``JiraTickets`` and the outbox), the fake's clock
set to each moment so Jira's history carries the ledger's times."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from pathlib import Path

from change_mgmt.gate.ticketing import TicketDesk
from change_mgmt.ledger import ChangeRecord, ChangeState, Ledger
from change_mgmt.preview import parse_preview_json
from change_mgmt.risk.assess import AssessmentContext, assess
from change_mgmt.risk.policy import default_policy
from change_mgmt.tickets.config import JiraConfig
from change_mgmt.tickets.content import TicketContext
from tests.change_mgmt.preview.builders import preview_json, step
from tests.change_mgmt.tickets.conftest import auth_for
from tests.fakes.jira import CHANGE_WORKFLOW, FakeJira, FakeTransition

HOUR = timedelta(hours=1)
COMMIT = "c0ffee" * 6 + "abcd"

WORKFLOW = {
    **CHANGE_WORKFLOW,
    # a fuller workflow than the fake's default: retries and rollbacks, and a review
    # status no change state maps to
    "Awaiting approval": (
        *CHANGE_WORKFLOW["Awaiting approval"],
        FakeTransition("13", "Start", "In progress"),
        FakeTransition("14", "Review", "Under review"),
    ),
    "Under review": (FakeTransition("15", "Approve", "Approved"),),
    "Done": (FakeTransition("41", "Roll back", "Rolled back"),),
    "Failed": (
        FakeTransition("51", "Start", "In progress"),
        FakeTransition("52", "Roll back", "Rolled back"),
    ),
}


class Gate:
    """Gates changes and moves them as the real commands do: the ledger first, then
    the ticket through :class:`TicketDesk` (find-or-create, the outbox), with the fake
    Jira's clock set to the same moment."""

    def __init__(self, fake: FakeJira, directory: Path, start: datetime) -> None:
        self.fake = fake
        self.directory = directory
        self.ledger = Ledger(directory / "ledger.sqlite3")
        self.config = JiraConfig(url=fake.url, auth=auth_for(fake), project="OPS", timeout=5)
        self.moment = start
        fake.clock = lambda: self.moment
        self._names = itertools.count(1)
        self.contexts: dict[int, TicketContext] = {}

    def propose(
        self,
        stack: str,
        at: datetime,
        *,
        emergency: bool = False,
        commit: str | None = COMMIT,
    ) -> ChangeRecord:
        self.moment = at
        name = f"queue-{next(self._names)}"
        changeset = parse_preview_json(
            preview_json(step("update", "aws:sqs/queue:Queue", name, old={"a": 1}, new={"a": 2})),
            stack=stack,
        )
        assessment = assess(
            changeset,
            default_policy(),
            AssessmentContext(now=at, emergency=emergency, emergency_reason="outage"),
        )
        record = self.ledger.propose(
            stack,
            changeset.digest,
            risk_level=assessment.level,
            risk_score=assessment.score,
            change_type=assessment.change_type,
            author="dev@example.com",
            commit=commit,
            summary=changeset.summary,
            emergency_reason="outage" if emergency else None,
            review_due_at=at + 48 * HOUR if emergency else None,
            now=at,
        )
        self.contexts[record.id] = TicketContext(
            changeset=changeset, assessment=assessment, record=record, commit=commit
        )
        return self.regate(record)

    def regate(self, record: ChangeRecord) -> ChangeRecord:
        """The gate run once more on the same change (it finds its ticket)."""
        with TicketDesk(self.directory, self.ledger, self.config) as desk:
            result = desk.ticket_for(record, self.contexts[record.id])
        assert result.ticket is not None, result.problem
        return self.ledger.get(record.id)

    def move(self, record: ChangeRecord, *moves: tuple[ChangeState, datetime]) -> ChangeRecord:
        for state, at in moves:
            self.moment = at
            record = self.ledger.transition(record.id, state, now=at)
            with TicketDesk(self.directory, self.ledger, self.config) as desk:
                result = desk.record_state(record, now=at)
            assert result is not None and result.remaining == 0, result
        return record
