"""Change records read back from Jira: the fake Jira over loopback (Cloud and Data
Center), tickets made and moved by the real ticket code (TicketDesk: JiraTickets and the
outbox), the records compared with what the ledger holds."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from change_mgmt.gate.ticketing import TicketDesk
from change_mgmt.ledger import ChangeState, Transition
from change_mgmt.report.dora import ProposalTimeOnly, compute_dora
from change_mgmt.report.jira_records import (
    UNKNOWN_DIGEST,
    JiraRecords,
    StatusMap,
    read_jira_records,
    ticket_record,
)
from change_mgmt.tickets.content import change_label, stack_label
from change_mgmt.tickets.errors import JiraUnavailable
from change_mgmt.tickets.jira import JiraClient
from change_mgmt.tickets.models import ChangeHistory, ChangeItem, Issue, IssueFields
from change_mgmt.tickets.properties import CHANGE_PROPERTY
from change_mgmt.tickets.source import DUPLICATE_LABEL
from tests.change_mgmt.report.jira_helpers import WORKFLOW, Gate
from tests.change_mgmt.tickets.conftest import MakeClient, auth_for
from tests.fakes.jira import FakeJira, Fault

S = ChangeState
T0 = datetime(2026, 11, 2, 9, tzinfo=UTC)
HOUR = timedelta(hours=1)
STATUSES = StatusMap.configured({})


@pytest.fixture(params=["cloud", "data-center"])
def jira(request: pytest.FixtureRequest) -> Iterator[FakeJira]:
    with FakeJira(request.param, workflow=WORKFLOW) as fake:
        yield fake


@pytest.fixture
def cloud_jira() -> Iterator[FakeJira]:
    with FakeJira.cloud(workflow=WORKFLOW) as fake:
        yield fake


@pytest.fixture
def dc_jira() -> Iterator[FakeJira]:
    with FakeJira.data_center(workflow=WORKFLOW) as fake:
        yield fake


@pytest.fixture
def make_client() -> MakeClient:
    """A client with the right credentials that never really sleeps between retries."""

    def make(fake: FakeJira, **kwargs: Any) -> JiraClient:
        kwargs.setdefault("timeout", 5)
        kwargs.setdefault("sleep", lambda _: None)
        return JiraClient(fake.url, auth_for(fake), **kwargs)

    return make


def read(fake: FakeJira, make_client: MakeClient, **kwargs: Any) -> JiraRecords:
    with make_client(fake) as client:
        return read_jira_records(client, "OPS", kwargs.pop("statuses", STATUSES), **kwargs)


def moves(transitions: Sequence[Transition]) -> list[tuple[str | None, str, datetime]]:
    return [(t.from_state and t.from_state.value, t.to_state.value, t.at) for t in transitions]


def test_records_and_transitions_match_what_the_gate_wrote(
    jira: FakeJira, make_client: MakeClient, tmp_path: Path
) -> None:
    gate = Gate(jira, tmp_path, T0)
    applied = gate.move(
        gate.propose("prod", T0),
        (S.approved, T0 + HOUR),
        (S.applying, T0 + 2 * HOUR),
        (S.applied, T0 + 3 * HOUR),
    )
    retried = gate.move(
        gate.propose("prod", T0 + 4 * HOUR),
        (S.approved, T0 + 5 * HOUR),
        (S.applying, T0 + 6 * HOUR),
        (S.failed, T0 + 7 * HOUR),
        (S.applying, T0 + 8 * HOUR),
        (S.applied, T0 + 9 * HOUR),
        (S.rolled_back, T0 + 10 * HOUR),
    )
    emergency = gate.move(
        gate.propose("staging", T0 + 11 * HOUR, emergency=True, commit=None),
        (S.applying, T0 + 12 * HOUR),
        (S.failed, T0 + 13 * HOUR),
    )
    waiting = gate.propose("prod", T0 + 14 * HOUR)

    found = read(jira, make_client)

    assert found.tickets == 4 and found.without_property == () and found.duplicates == ()
    assert found.unknown_statuses == {} and found.incomplete_histories == ()
    by_key = {r.ticket_key: r for r in found.records}
    for mine in (applied, retried, emergency, waiting):
        theirs = by_key[mine.ticket_key]
        assert theirs.id == int(jira.issue(str(mine.ticket_key)).id)
        same = ("stack", "digest", "commit", "change_type", "risk_level", "risk_score")
        assert {f: getattr(theirs, f) for f in same} == {f: getattr(mine, f) for f in same}
        assert theirs.summary == mine.summary
        assert (theirs.state, theirs.state_times) == (mine.state, mine.state_times)
        assert theirs.created_at == mine.created_at
        assert (theirs.review_due_at, theirs.reviewed_at) == (mine.review_due_at, mine.reviewed_at)
        assert moves(found.history[theirs.id]) == moves(gate.ledger.history(mine.id))
    assert by_key[emergency.ticket_key].change_type == "emergency"

    # the same DORA report from either source (ids differ: the ledger's vs Jira's)
    ledger_records = gate.ledger.list()
    ledger_history = {r.id: gate.ledger.history(r.id) for r in ledger_records}
    window = {"since": T0 - HOUR, "until": T0 + 20 * HOUR, "now": T0 + 20 * HOUR}
    lead = ProposalTimeOnly()
    from_ledger = compute_dora(ledger_records, ledger_history, lead, **window).as_dict()
    from_jira = compute_dora(found.records, found.history, lead, **window).as_dict()
    ids = {mine.id: by_key[mine.ticket_key].id for mine in ledger_records}
    for metric in ("deployment_frequency", "lead_time"):
        assert from_jira[metric] == from_ledger[metric]
    rate = from_ledger["change_failure_rate"]
    rate["failed_change_ids"] = [ids[i] for i in rate["failed_change_ids"]]
    assert from_jira["change_failure_rate"] == rate
    assert (
        from_jira["time_to_restore"]["median_hours"]
        == from_ledger["time_to_restore"]["median_hours"]
    )
    assert from_jira["emergency_changes"]["change_ids"] == [by_key[emergency.ticket_key].id]


def test_several_pages_with_progress(
    jira: FakeJira, make_client: MakeClient, tmp_path: Path
) -> None:
    gate = Gate(jira, tmp_path, T0)
    for n in range(7):
        gate.propose("prod", T0 + n * HOUR)
    jira.add_issue("not a gate ticket", labels=["other"])
    jira.max_page_size = 3
    seen: list[int] = []
    found = read(jira, make_client, progress=seen.append, page_size=50)
    assert seen == list(range(1, 8))
    assert [r.ticket_key for r in found.records] == [f"OPS-{n}" for n in range(1, 8)]
    if jira.flavor == "cloud":
        pages = jira.requests_to("POST", "/rest/api/2/search/jql")[-3:]
        assert [bool(p.json.get("nextPageToken")) for p in pages] == [False, True, True]
        assert all(p.json["properties"] == [CHANGE_PROPERTY] for p in pages)
        assert all(p.json["expand"] == "changelog" for p in pages)
        assert not jira.requests_to("GET", r".*/properties/sre-change")
    else:
        pages = jira.requests_to("POST", "/rest/api/2/search")[-3:]
        assert [p.json["startAt"] for p in pages] == [0, 3, 6]
        assert all("properties" not in p.json and p.json["expand"] == ["changelog"] for p in pages)
        # Data Center's search cannot return properties: one read per ticket
        assert len(jira.requests_to("GET", r"/rest/api/2/issue/OPS-\d+/properties/sre-change")) == 7


def test_the_stack_filter_asks_jira_for_that_stacks_label(
    jira: FakeJira, make_client: MakeClient, tmp_path: Path
) -> None:
    gate = Gate(jira, tmp_path, T0)
    gate.propose("prod", T0)
    gate.propose("staging", T0 + HOUR)
    found = read(jira, make_client, stack="staging")
    assert [r.stack for r in found.records] == ["staging"]
    path = "/rest/api/2/search/jql" if jira.flavor == "cloud" else "/rest/api/2/search"
    jql = jira.requests_to("POST", path)[-1].json["jql"]
    assert (
        jql
        == 'project = OPS AND labels = "sre-gate" AND labels = "sre-stack-staging" ORDER BY created ASC'
    )


def test_tickets_without_the_property_fall_back_to_labels_and_creation(
    jira: FakeJira, make_client: MakeClient, tmp_path: Path
) -> None:
    gate = Gate(jira, tmp_path, T0)
    current = gate.propose("prod", T0)
    gate.moment = T0 + HOUR
    old = jira.add_issue(
        "[Prod.EU] an old ticket", labels=["sre-gate", stack_label("Prod.EU"), "sre-emergency"]
    )
    gate.moment = T0 + 2 * HOUR
    jira.move(old.key, "Approved")
    garbled = gate.propose("prod", T0 + 3 * HOUR)
    jira.issue(str(garbled.ticket_key)).properties[CHANGE_PROPERTY] = {"version": 1, "stack": ""}

    found = read(jira, make_client)
    assert found.without_property == (old.key, garbled.ticket_key)
    by_key = {r.ticket_key: r for r in found.records}
    assert by_key[current.ticket_key].digest == current.digest
    legacy = by_key[old.key]
    assert legacy.stack == "prod-eu"  # the label's slug: the stack's name is not on the ticket
    assert legacy.change_type == "emergency" and legacy.commit is None
    assert legacy.digest == UNKNOWN_DIGEST and legacy.review_due_at is None
    assert legacy.created_at == T0 + HOUR and legacy.state is S.approved
    assert moves(found.history[legacy.id]) == [
        (None, "proposed", T0 + HOUR),
        ("proposed", "approved", T0 + 2 * HOUR),
    ]
    assert by_key[garbled.ticket_key].stack == "prod"
    assert any("2 ticket(s) without a readable sre-change property" in n for n in found.notes())
    # asked for that stack, the label says it is that stack's: the exact name is kept
    only = read(jira, make_client, stack="Prod.EU")
    assert [(r.ticket_key, r.stack) for r in only.records] == [(old.key, "Prod.EU")]


def test_duplicates_marked_by_reconciliation_are_not_counted(
    jira: FakeJira, make_client: MakeClient, tmp_path: Path
) -> None:
    gate = Gate(jira, tmp_path, T0)
    record = gate.propose("prod", T0)
    # an earlier run's uncertain create surfaces late: a second ticket with the label
    gate.moment = T0 + HOUR
    orphan = jira.add_issue("orphan", labels=["sre-gate", change_label("prod", record.digest)])
    gate.moment = T0 + 2 * HOUR
    gate.regate(record)  # the next gate run reconciles: the orphan is marked a duplicate
    assert DUPLICATE_LABEL in jira.issue(orphan.key).labels

    found = read(jira, make_client)
    assert found.tickets == 2 and found.duplicates == (orphan.key,)
    assert [r.ticket_key for r in found.records] == [record.ticket_key]
    assert found.without_property == ()
    assert any(
        f"1 duplicate ticket(s) (sre-duplicate) not counted: {orphan.key}" in n
        for n in found.notes()
    )


def test_unknown_statuses_are_ignored_and_counted(
    jira: FakeJira, make_client: MakeClient, tmp_path: Path
) -> None:
    gate = Gate(jira, tmp_path, T0)
    reviewed = gate.propose("prod", T0)
    gate.moment = T0 + HOUR
    with make_client(jira) as client:
        client.transition(str(reviewed.ticket_key), "Review")  # → "Under review"
    gate.move(reviewed, (S.approved, T0 + 2 * HOUR))
    declined = gate.propose("prod", T0 + 3 * HOUR)
    jira.move(str(declined.ticket_key), "Declined")
    jira.move(str(declined.ticket_key), "Won't do")
    jira.move(str(declined.ticket_key), "Declined")

    found = read(jira, make_client)
    assert found.unknown_statuses == {"Under review": 1, "Declined": 2, "Won't do": 1}
    by_key = {r.ticket_key: r for r in found.records}
    assert moves(found.history[by_key[reviewed.ticket_key].id]) == [
        (None, "proposed", T0),
        ("proposed", "approved", T0 + 2 * HOUR),  # left an unmapped status: from the last known
    ]
    assert by_key[declined.ticket_key].state is S.proposed
    assert any("Declined ×2, Under review ×1, Won't do ×1" in n for n in found.notes())
    # mapped in jira.yaml, the review status is no longer unknown
    custom = StatusMap.configured({S.approved: "Under review"})
    assert "Under review" not in read(jira, make_client, statuses=custom).unknown_statuses


def test_cloud_reads_the_whole_changelog_when_search_cuts_it(
    cloud_jira: FakeJira, make_client: MakeClient, tmp_path: Path
) -> None:
    gate = Gate(cloud_jira, tmp_path, T0)
    record = gate.move(
        gate.propose("prod", T0),
        (S.approved, T0 + HOUR),
        (S.applying, T0 + 2 * HOUR),
        (S.applied, T0 + 3 * HOUR),
    )
    key = str(record.ticket_key)
    cloud_jira.search_changelog_limit = 2  # the search says: 2 of 4 entries
    found = read(cloud_jira, make_client)
    assert len(cloud_jira.requests_to("GET", rf"/rest/api/2/issue/{key}/changelog")) == 1
    assert moves(found.history[found.records[0].id]) == moves(gate.ledger.history(record.id))
    assert found.incomplete_histories == ()

    # at the documented cap of 40 the search cannot say more was cut: read it anyway
    cloud_jira.search_changelog_limit = 40
    for n in range(40):
        cloud_jira.add_history(
            key,
            T0 + 4 * HOUR + n * timedelta(minutes=1),
            [{"field": "labels", "toString": f"x{n}"}],
        )
    found = read(cloud_jira, make_client)
    assert len(cloud_jira.requests_to("GET", rf"/rest/api/2/issue/{key}/changelog")) == 2
    assert found.records[0].state is S.applied


def test_data_center_reports_a_history_it_got_only_in_part(
    dc_jira: FakeJira, make_client: MakeClient, tmp_path: Path
) -> None:
    gate = Gate(dc_jira, tmp_path, T0)
    record = gate.move(gate.propose("prod", T0), (S.approved, T0 + HOUR))
    page = {
        "startAt": 0,
        "maxResults": 50,
        "total": 1,
        "issues": [
            {
                "id": str(dc_jira.issue(str(record.ticket_key)).id),
                "key": record.ticket_key,
                "fields": {
                    "labels": ["sre-gate", "sre-stack-prod"],
                    "created": "2026-11-02T09:00:00.000+0000",
                },
                "changelog": {"startAt": 0, "maxResults": 0, "total": 3, "histories": []},
            }
        ],
    }
    dc_jira.inject(Fault(method="POST", path=r"/search$", status=200, body=page))
    found = read(dc_jira, make_client)
    assert found.incomplete_histories == (record.ticket_key,)
    assert found.records[0].state is S.proposed  # what could be read, and the note says so
    assert any("returned only in part" in n for n in found.notes())


def test_jira_failures_are_ticket_errors(
    jira: FakeJira, make_client: MakeClient, tmp_path: Path
) -> None:
    Gate(jira, tmp_path, T0).propose("prod", T0)
    jira.inject(Fault.unavailable(times=20))
    with pytest.raises(JiraUnavailable) as caught:
        read(jira, make_client)
    assert "gave up" in str(caught.value)


# --- one ticket, no HTTP -----------------------------------------------------------------


def _issue(labels: Sequence[str] = ("sre-gate", "sre-stack-prod"), **extra: Any) -> Issue:
    return Issue(
        id="10042",
        key="OPS-42",
        fields=IssueFields(labels=tuple(labels), created=T0),
        **extra,
    )


def _status(at: datetime, old: str | None, new: str | None, *more: ChangeItem) -> ChangeHistory:
    item = ChangeItem.model_validate({"field": "status", "fromString": old, "toString": new})
    return ChangeHistory(created=at, items=(item, *more))


def test_moves_between_statuses_of_one_state_are_no_moves() -> None:
    statuses = StatusMap({S.approved: "Approved", S.applied: "Done"}, ["Open", "To Do"])
    histories = [
        _status(T0 + 3 * HOUR, "Approved", "Done"),  # out of order: sorted by time
        _status(T0 + HOUR, "Open", "To Do"),
        _status(T0 + 2 * HOUR, "To Do", "approved "),  # names match ignoring case and spaces
    ]
    reading = ticket_record(_issue(), histories, None, statuses)
    assert not isinstance(reading, str)
    assert moves(reading.transitions) == [
        (None, "proposed", T0),
        ("proposed", "approved", T0 + 2 * HOUR),
        ("approved", "applied", T0 + 3 * HOUR),
    ]
    assert reading.record.change_type == "normal" and reading.record.id == 10042


def test_a_ticket_that_cannot_be_a_record_says_why() -> None:
    assert "no sre-stack-" in str(ticket_record(_issue(labels=["sre-gate"]), [], None, STATUSES))
    odd = Issue(id="abc", key="OPS-1")
    assert "not a positive number" in str(ticket_record(odd, [], None, STATUSES))
    no_time = Issue(id="7", key="OPS-7", fields=IssueFields(labels=("sre-stack-prod",)))
    assert "no creation time" in str(ticket_record(no_time, [], None, STATUSES))


def test_a_property_from_a_newer_gate_is_read_with_its_unknown_keys_ignored() -> None:
    value = {
        "version": 1,
        "change_id": 3,
        "stack": "prod",
        "digest": "a" * 64,
        "commit": None,
        "change_type": "standard",
        "emergency": False,
        "risk_level": "low",
        "risk_score": 1,
        "summary": {"update": 1},
        "proposed_at": "2026-11-02T08:00:00Z",
        "review_due_at": None,
        "reviewed_at": None,
        "added_later": {"anything": True},
    }
    reading = ticket_record(_issue(), [], value, STATUSES)
    assert not isinstance(reading, str) and reading.from_property
    assert reading.record.created_at == T0 - HOUR and reading.record.digest == "a" * 64


def test_a_recorded_review_reaches_the_report(
    jira: FakeJira, make_client: MakeClient, tmp_path: Path
) -> None:
    gate = Gate(jira, tmp_path, T0)
    record = gate.propose("prod", T0, emergency=True)
    due = T0 + 48 * HOUR
    (found,) = read(jira, make_client).records
    assert found.review_due_at == due and found.review_overdue(due + HOUR)
    record = gate.ledger.record_review(
        record.id, reviewer="lead@example.com", notes="root cause found", now=T0 + 24 * HOUR
    )
    with TicketDesk(gate.directory, gate.ledger, gate.config) as desk:  # as `sre changes review`
        result = desk.record_facts(record, now=T0 + 24 * HOUR)
    assert result is not None and result.remaining == 0
    (found,) = read(jira, make_client).records
    assert found.reviewed_at == T0 + 24 * HOUR and not found.review_overdue(due + HOUR)
    assert "lead@example.com" not in str(jira.issue(str(record.ticket_key)).properties)
