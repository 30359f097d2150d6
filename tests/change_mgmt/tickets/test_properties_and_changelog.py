"""Issue properties and changelogs: the client against the fake Jira over real HTTP, and
the ``sre-change`` property the gate writes on its tickets."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr

from change_mgmt.ledger.records import ChangeState
from change_mgmt.ledger.store import Ledger
from change_mgmt.tickets.auth import CloudAuth, DataCenterAuth
from change_mgmt.tickets.config import JiraConfig
from change_mgmt.tickets.errors import JiraAuthError, JiraError, TicketInputError
from change_mgmt.tickets.jira import PROPERTY_VALUE_LIMIT, JiraClient
from change_mgmt.tickets.outbox import Outbox
from change_mgmt.tickets.properties import CHANGE_PROPERTY, ChangeProperty, change_property
from change_mgmt.tickets.source import JiraTickets
from tests.change_mgmt.tickets.conftest import FakeTime, MakeClient, auth_for
from tests.change_mgmt.tickets.test_content import (
    AWS_KEY,
    GITHUB_TOKEN,
    NOW,
    PASSWORD,
    make_context,
)
from tests.fakes.jira import (
    BASE_TIME,
    DEFAULT_API_TOKEN,
    DEFAULT_EMAIL,
    DEFAULT_PAT,
    FakeJira,
    Fault,
)

PROPERTY_PATH = r"/rest/api/2/issue/OPS-1/properties/sre-change"


def test_a_property_is_stored_replaced_and_read_back(jira: FakeJira, client: JiraClient) -> None:
    jira.add_issue("a change")
    assert client.get_issue_property("OPS-1", "sre-change") is None  # 404: none yet
    client.set_issue_property("OPS-1", "sre-change", {"stack": "prod", "n": 1})
    client.set_issue_property("OPS-1", "sre-change", {"stack": "prod", "n": 2})
    assert client.get_issue_property("OPS-1", "sre-change") == {"stack": "prod", "n": 2}
    assert jira.issue("OPS-1").properties == {"sre-change": {"stack": "prod", "n": 2}}
    puts = jira.requests_to("PUT", PROPERTY_PATH)
    assert [p.json for p in puts] == [{"stack": "prod", "n": 1}, {"stack": "prod", "n": 2}]
    expected = "Basic" if jira.flavor == "cloud" else "Bearer"
    assert all((p.authorization or "").startswith(expected) for p in puts)


def test_property_arguments_are_checked_before_sending(jira: FakeJira, client: JiraClient) -> None:
    for key in ("", "has space", "a/b", "x" * 256):
        with pytest.raises(TicketInputError, match="not an issue property key"):
            client.set_issue_property("OPS-1", key, {"a": 1})
    with pytest.raises(TicketInputError, match="non-empty JSON object"):
        client.set_issue_property("OPS-1", "k", {})
    with pytest.raises(TicketInputError, match="not JSON"):
        client.set_issue_property("OPS-1", "k", {"a": object()})
    with pytest.raises(TicketInputError, match=f"at most {PROPERTY_VALUE_LIMIT}"):
        client.set_issue_property("OPS-1", "k", {"a": "x" * PROPERTY_VALUE_LIMIT})
    assert jira.requests == []


def test_property_errors_other_than_404_are_errors(jira: FakeJira, make_client: MakeClient) -> None:
    jira.add_issue("a change")
    wrong_token = "wrong-token-0123456789"
    wrong = make_client(
        jira,
        auth=CloudAuth(email=DEFAULT_EMAIL, api_token=SecretStr(wrong_token))
        if jira.flavor == "cloud"
        else DataCenterAuth(token=SecretStr(wrong_token)),
    )
    with pytest.raises(JiraAuthError) as caught:
        wrong.get_issue_property("OPS-1", "sre-change")
    assert wrong_token not in str(caught.value) and wrong_token not in repr(caught.value)
    client = make_client(jira)
    jira.inject(Fault.rate_limited("1"))  # a PUT is idempotent: retried like a read
    client.set_issue_property("OPS-1", "sre-change", {"a": 1})
    assert len(jira.requests_to("PUT", PROPERTY_PATH)) == 2


def test_cloud_search_returns_named_properties_and_the_recent_changelog(
    cloud_jira: FakeJira, make_client: MakeClient
) -> None:
    client = make_client(cloud_jira)
    cloud_jira.add_issue("a", labels=["sre-gate"])
    cloud_jira.add_issue("b", labels=["sre-gate"])
    client.set_issue_property("OPS-1", "sre-change", {"stack": "prod"})
    for status, minutes in (("Approved", 1), ("In progress", 2), ("Done", 3)):
        cloud_jira.move("OPS-1", status, at=BASE_TIME + timedelta(minutes=minutes))
    found = list(
        client.search(
            'project = OPS AND labels = "sre-gate"',
            expand=["changelog"],
            properties=["sre-change"],
        )
    )
    body = cloud_jira.requests_to("POST", "/rest/api/2/search/jql")[-1].json
    assert body["expand"] == "changelog" and body["properties"] == ["sre-change"]
    assert found[0].properties == {"sre-change": {"stack": "prod"}}
    assert found[1].properties == {}
    log = found[0].changelog
    assert log is not None and log.total == 3
    moves = [(i.from_string, i.to_string) for h in log.histories for i in h.items]
    assert moves == [
        ("In progress", "Done"),
        ("Approved", "In progress"),
        ("Awaiting approval", "Approved"),
    ]
    assert all(i.field == "status" for h in log.histories for i in h.items)


def test_data_center_search_expands_a_list_and_cannot_return_properties(
    dc_jira: FakeJira, make_client: MakeClient
) -> None:
    client = make_client(dc_jira)
    dc_jira.add_issue("a", labels=["sre-gate"])
    dc_jira.move("OPS-1", "Approved")
    (issue,) = client.search("project = OPS", expand=["changelog"])
    assert dc_jira.requests[-1].json["expand"] == ["changelog"]
    assert issue.changelog is not None and len(issue.changelog.histories) == 1
    with pytest.raises(TicketInputError, match="JRASERVER-62898"):
        client.search("project = OPS", properties=["sre-change"])
    with pytest.raises(TicketInputError, match="at most 5"):
        client.search("project = OPS", properties=[f"p{n}" for n in range(6)])


def test_cloud_search_keeps_only_the_most_recent_changelog_entries(
    cloud_jira: FakeJira, make_client: MakeClient
) -> None:
    cloud_jira.add_issue("a")
    for n in range(45):
        cloud_jira.add_history(
            "OPS-1",
            BASE_TIME + timedelta(minutes=n),
            [{"field": "labels", "fromString": "", "toString": f"l{n}"}],
        )
    client = make_client(cloud_jira)
    (issue,) = client.search("project = OPS", expand=["changelog"])
    assert issue.changelog is not None
    assert len(issue.changelog.histories) == 40 and issue.changelog.total == 45
    assert issue.changelog.histories[0].items[0].to_string == "l44"


def test_the_cloud_changelog_resource_pages_oldest_first(
    cloud_jira: FakeJira, make_client: MakeClient
) -> None:
    cloud_jira.add_issue("a")
    cloud_jira.changelog_page_size = 4
    for n in range(10):
        cloud_jira.add_history(
            "OPS-1",
            BASE_TIME + timedelta(minutes=10 - n),  # stored newest first
            [{"field": "status", "fromString": "x", "toString": f"s{n}"}],
        )
    entries = make_client(cloud_jira).changelog("OPS-1")
    assert [e.items[0].to_string for e in entries] == [f"s{n}" for n in range(9, -1, -1)]
    pages = cloud_jira.requests_to("GET", r"/rest/api/2/issue/OPS-1/changelog")
    assert [p.query["startAt"] for p in pages] == [["0"], ["4"], ["8"]]
    assert make_client(cloud_jira).changelog("OPS-1", page_size=100) == entries


def test_a_changelog_page_that_does_not_start_where_asked_is_malformed(
    cloud_jira: FakeJira, make_client: MakeClient
) -> None:
    cloud_jira.add_issue("a")
    page = {
        "startAt": 0,
        "maxResults": 1,
        "total": 5,
        "isLast": False,
        "values": [{"id": "1", "created": "2026-11-27T09:00:00.000+0000", "items": []}],
    }
    cloud_jira.inject(Fault(status=200, body=page, times=2))
    with pytest.raises(JiraError, match="asked for startAt 1, got 0"):
        make_client(cloud_jira).changelog("OPS-1", page_size=1)


def test_data_center_has_no_changelog_resource(dc_jira: FakeJira, make_client: MakeClient) -> None:
    with pytest.raises(TicketInputError, match="Jira Cloud's"):
        make_client(dc_jira).changelog("OPS-1")


def test_transitions_and_edits_are_logged_with_jira_item_names(
    jira: FakeJira, client: JiraClient
) -> None:
    jira.add_issue("a", labels=["one"])
    client.add_labels("OPS-1", ["two"])
    client.transition("OPS-1", "Approve")
    log = jira.issue("OPS-1").changelog
    assert [item["field"] for entry in log for item in entry.items] == ["labels", "status"]
    labels, status = (entry.items[0] for entry in log)
    assert (labels["fromString"], labels["toString"]) == ("one", "one two")
    assert (status["fromString"], status["toString"]) == ("Awaiting approval", "Approved")
    assert status["from"] == "10000" and status["to"] == "10001"


# --- the sre-change property the gate writes ---------------------------------------------


def _tickets(
    fake: FakeJira, ledger: Ledger, make_client: MakeClient, fake_time: FakeTime
) -> JiraTickets:
    config = JiraConfig(url=fake.url, auth=auth_for(fake), project="OPS")
    return JiraTickets(make_client(fake), config, ledger, sleep=fake_time.sleep, now=lambda: NOW)


def test_the_gate_writes_the_change_property_without_any_secret(
    jira: FakeJira, make_client: MakeClient, fake_time: FakeTime, tmp_path: Path
) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    ctx = make_context(tmp_path, ledger=ledger)  # resource values hold a password, a key…
    ref = _tickets(jira, ledger, make_client, fake_time).ticket_for(ctx.record, ctx)
    value = jira.issue(ref.key).properties[CHANGE_PROPERTY]
    record = ledger.get(ctx.record.id)
    assert value == change_property(record)
    facts = ChangeProperty.model_validate(value)
    assert (facts.stack, facts.digest, facts.commit) == ("prod", ctx.digest, record.commit)
    assert facts.change_type == ctx.assessment.change_type and facts.emergency is False
    assert facts.proposed_at == record.created_at and facts.change_id == record.id
    text = json.dumps(value)
    for secret in (PASSWORD, AWS_KEY, GITHUB_TOKEN, DEFAULT_API_TOKEN, DEFAULT_PAT, "dana"):
        assert secret not in text
    for request in jira.requests_to("PUT", rf"/rest/api/2/issue/{ref.key}/properties/sre-change"):
        assert request.authorization is not None
        assert (request.authorization.split()[-1]) not in request.body.decode()


def test_an_emergency_reason_never_reaches_the_property(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    record = ledger.propose(
        "prod",
        "e" * 64,
        risk_level="high",
        risk_score=50,
        change_type="emergency",
        author="oncall@example.com",
        commit=None,
        summary={"update": 1},
        emergency_reason=f"outage, token {GITHUB_TOKEN}",
        review_due_at=NOW + timedelta(hours=48),
        now=NOW,
    )
    value = change_property(record)
    assert value["emergency"] is True and value["review_due_at"] == "2026-11-29T10:00:00Z"
    assert GITHUB_TOKEN not in json.dumps(value) and "oncall" not in json.dumps(value)


def test_a_review_updates_the_property_through_the_outbox(
    jira: FakeJira, make_client: MakeClient, fake_time: FakeTime, tmp_path: Path
) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    ctx = make_context(tmp_path, ledger=ledger)
    tickets = _tickets(jira, ledger, make_client, fake_time)
    key = tickets.ticket_for(ctx.record, ctx).key
    record = ledger.get(ctx.record.id)
    later = record.model_copy(update={"reviewed_at": NOW + timedelta(days=1)})
    outbox = Outbox.for_repository(tmp_path)
    outbox.enqueue(
        "property", key, {"key": CHANGE_PROPERTY, "value": change_property(later)}, now=NOW
    )
    jira.inject(Fault.unavailable(times=10, method="PUT"))  # Jira down: it waits
    first = outbox.replay(tickets.apply_outbox_item, now=NOW)
    assert first.remaining == 1
    assert jira.issue(key).properties[CHANGE_PROPERTY]["reviewed_at"] is None
    jira.faults.clear()
    assert outbox.replay(tickets.apply_outbox_item, now=NOW).remaining == 0
    assert jira.issue(key).properties[CHANGE_PROPERTY]["reviewed_at"] == "2026-11-28T10:00:00Z"
    assert record.state is ChangeState.proposed
