"""Jira as the ticket source, against the fake Jira over real HTTP."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from change_mgmt.ledger.records import ChangeState
from change_mgmt.ledger.store import Ledger, TicketClaim
from change_mgmt.tickets.auth import CloudAuth, DataCenterAuth
from change_mgmt.tickets.config import JiraConfig
from change_mgmt.tickets.content import TicketContext, change_label, render_ticket
from change_mgmt.tickets.errors import TicketError
from change_mgmt.tickets.jira import JiraClient
from change_mgmt.tickets.source import (
    DUPLICATE_LABEL,
    PREVIEW_MARKER,
    JiraTickets,
    JsmApprovals,
)
from tests.change_mgmt.preview.builders import step
from tests.change_mgmt.tickets.conftest import FakeTime, MakeClient, auth_for
from tests.change_mgmt.tickets.test_content import NOW, make_context
from tests.fakes.jira import DEFAULT_FIELDS, FakeJira, Fault

CREATE = r"/rest/api/2/issue"
OTHER_STEPS = [step("create", "aws:sqs/queue:Queue", "jobs", new={})]

MakeTickets = Callable[..., JiraTickets]


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    return Ledger(tmp_path / "ledger.sqlite3")


@pytest.fixture
def make_tickets(make_client: MakeClient, fake_time: FakeTime) -> MakeTickets:
    def make(fake: FakeJira, ledger: Ledger, **kwargs: Any) -> JiraTickets:
        client: JiraClient = kwargs.pop("client", None) or make_client(fake)
        config = JiraConfig(url=fake.url, auth=auth_for(fake), project="OPS")
        kwargs.setdefault("sleep", fake_time.sleep)
        kwargs.setdefault("now", lambda: NOW)
        return JiraTickets(client, config, ledger, **kwargs)

    return make


def grant_always(ledger: Ledger, change_id: int, **_: Any) -> TicketClaim:
    """``Ledger.claim_ticket_creation`` as if there were no claim: every run may create."""
    return TicketClaim(change_id, "no-claim", NOW)


def _posts(fake: FakeJira) -> int:
    return len(fake.requests_to("POST", CREATE))


def _marked(fake: FakeJira, key: str, marker: str) -> list[str]:
    return [c.body for c in fake.issue(key).comments if marker in c.body]


def test_creates_once_then_finds_it_by_the_record_key(
    jira: FakeJira, ledger: Ledger, make_tickets: MakeTickets, tmp_path: Path
) -> None:
    ctx = make_context(tmp_path, ledger=ledger)
    tickets = make_tickets(jira, ledger)
    ref = tickets.ticket_for(ctx.record, ctx)
    assert ref.source == "jira"
    assert ref.state == "Awaiting approval"
    assert ref.url == f"{jira.url}/browse/{ref.key}"
    assert ledger.get(ctx.record.id).ticket_key == ref.key
    issue = jira.issue(ref.key)
    content = render_ticket(ctx)
    assert issue.summary == content.summary
    assert set(content.labels) <= set(issue.labels)
    assert issue.values["customfield_10005"] == "Normal"  # Change type
    assert issue.values["customfield_10042"] == ctx.assessment.level.capitalize()
    assert _posts(jira) == 1

    again = tickets.ticket_for(ctx.record, ctx)  # the stale record object: re-read
    assert again == ref
    assert _posts(jira) == 1
    assert len(_marked(jira, ref.key, PREVIEW_MARKER)) == 1


def test_finds_by_label_when_the_record_lost_its_key(
    jira: FakeJira, make_tickets: MakeTickets, tmp_path: Path
) -> None:
    first = Ledger(tmp_path / "a.sqlite3")
    ctx = make_context(tmp_path, ledger=first)
    ref = make_tickets(jira, first).ticket_for(ctx.record, ctx)
    fresh = Ledger(tmp_path / "b.sqlite3")  # a new checkout: no key in its ledger
    ctx2 = make_context(tmp_path, ledger=fresh)
    assert ctx2.record.ticket_key is None
    assert make_tickets(jira, fresh).ticket_for(ctx2.record, ctx2).key == ref.key
    assert fresh.get(ctx2.record.id).ticket_key == ref.key
    assert _posts(jira) == 1


def test_pr_continuity_updates_the_ticket_of_the_same_pr_and_stack(
    cloud_jira: FakeJira, ledger: Ledger, make_tickets: MakeTickets, tmp_path: Path
) -> None:
    pr = "https://github.com/acme/infra/pull/42"
    tickets = make_tickets(cloud_jira, ledger)
    ctx1 = make_context(tmp_path, ledger=ledger, pr_url=pr)
    ref1 = tickets.ticket_for(ctx1.record, ctx1)
    ctx2 = make_context(tmp_path, OTHER_STEPS, ledger=ledger, pr_url=pr)
    assert ctx2.digest != ctx1.digest
    ref2 = tickets.ticket_for(ctx2.record, ctx2)
    assert ref2.key == ref1.key
    assert _posts(cloud_jira) == 1
    issue = cloud_jira.issue(ref1.key)
    assert change_label("prod", ctx2.digest) in issue.labels
    assert issue.summary == render_ticket(ctx2).summary
    assert any(f"preview changed: new digest {ctx2.digest}" in c.body for c in issue.comments)
    current = _marked(cloud_jira, ref1.key, PREVIEW_MARKER)
    assert len(current) == 1 and ctx2.digest in current[0]
    assert ledger.get(ctx2.record.id).ticket_key == ref1.key

    # the same PR on another stack is another change ticket
    ctx3 = make_context(tmp_path, OTHER_STEPS, ledger=ledger, pr_url=pr, stack="staging")
    assert tickets.ticket_for(ctx3.record, ctx3).key != ref1.key
    assert _posts(cloud_jira) == 2


def test_pr_continuity_skips_a_ticket_already_approved(
    cloud_jira: FakeJira, ledger: Ledger, make_tickets: MakeTickets, tmp_path: Path
) -> None:
    pr = "https://github.com/acme/infra/pull/43"
    tickets = make_tickets(cloud_jira, ledger)
    ctx1 = make_context(tmp_path, ledger=ledger, pr_url=pr)
    ref1 = tickets.ticket_for(ctx1.record, ctx1)
    cloud_jira.issue(ref1.key).status = "Approved"
    ctx2 = make_context(tmp_path, OTHER_STEPS, ledger=ledger, pr_url=pr)
    assert tickets.ticket_for(ctx2.record, ctx2).key != ref1.key


def test_lost_create_answer_is_found_by_search_after_the_lag(
    jira: FakeJira, ledger: Ledger, make_tickets: MakeTickets, tmp_path: Path, fake_time: FakeTime
) -> None:
    jira.inject(Fault.lost_response())
    jira.search_lag_requests = 3  # the pre-create search does not count: nothing to hide yet
    ctx = make_context(tmp_path, ledger=ledger)
    ref = make_tickets(jira, ledger).ticket_for(ctx.record, ctx)
    assert _posts(jira) == 1
    assert len(jira.issues) == 1 and ref.key in jira.issues
    assert ledger.get(ctx.record.id).ticket_key == ref.key
    assert fake_time.sleeps == [0.5, 1.0, 2.0]


def test_lost_create_not_found_fails_closed_and_the_next_run_finds_it(
    jira: FakeJira, ledger: Ledger, make_tickets: MakeTickets, tmp_path: Path
) -> None:
    jira.inject(Fault.lost_response())
    jira.search_lag_requests = 100
    ctx = make_context(tmp_path, ledger=ledger)
    tickets = make_tickets(jira, ledger)
    with pytest.raises(TicketError, match="may have happened.*next gate run will find it"):
        tickets.ticket_for(ctx.record, ctx)
    assert _posts(jira) == 1
    assert ledger.get(ctx.record.id).ticket_key is None
    (issue,) = jira.issues.values()
    issue.hidden_for_searches = 0  # the search index caught up
    assert tickets.ticket_for(ctx.record, ctx).key == issue.key
    assert _posts(jira) == 1


def test_two_gates_that_both_created_keep_one_ticket(
    jira: FakeJira, make_tickets: MakeTickets, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second line of defence behind the ledger's claim (a holder that outlived its
    lease, a create whose key was lost): with the claim bypassed, both gates create,
    and both keep the older ticket and mark the other a duplicate."""
    monkeypatch.setattr(Ledger, "claim_ticket_creation", grant_always)
    ctx = make_context(tmp_path, ledger=Ledger(tmp_path / "ledger.sqlite3"))
    barrier = threading.Barrier(2, timeout=5)
    refs: list[str] = []
    errors: list[BaseException] = []

    def gate() -> None:
        try:
            tickets = make_tickets(jira, Ledger(tmp_path / "ledger.sqlite3"))
            original = tickets._search_label
            calls = [0]

            def search_then_wait(label: str) -> Any:
                found = original(label)
                calls[0] += 1
                if calls[0] == 1:  # both searched and found nothing: both will create
                    barrier.wait()
                return found

            tickets._search_label = search_then_wait  # type: ignore[method-assign]
            refs.append(tickets.ticket_for(ctx.record, ctx).key)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=gate) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert not errors
    assert _posts(jira) == 2  # the race happened
    kept = min(jira.issues.values(), key=lambda i: i.id)
    assert refs == [kept.key, kept.key]
    other = next(i for i in jira.issues.values() if i is not kept)
    assert DUPLICATE_LABEL in other.labels
    assert change_label("prod", ctx.digest) not in other.labels
    assert any(f"Duplicate of {kept.key}" in c.body for c in other.comments)
    assert DUPLICATE_LABEL not in kept.labels
    assert Ledger(tmp_path / "ledger.sqlite3").get(ctx.record.id).ticket_key == kept.key


@pytest.mark.parametrize(
    "fault",
    [
        Fault.unavailable(times=50, path="search"),
        Fault.error(
            400, ["The value 'OPS' does not exist for the field 'project'."], path="search"
        ),
        Fault.error(400, errors={"summary": "too long"}, method="POST", path=r"/issue$"),
    ],
)
def test_errors_fail_closed(
    cloud_jira: FakeJira, ledger: Ledger, make_tickets: MakeTickets, tmp_path: Path, fault: Fault
) -> None:
    cloud_jira.inject(fault)
    ctx = make_context(tmp_path, ledger=ledger)
    with pytest.raises(TicketError, match=f"no Jira ticket for change {ctx.record.id}"):
        make_tickets(cloud_jira, ledger).ticket_for(ctx.record, ctx)
    assert ledger.get(ctx.record.id).ticket_key is None


def test_bad_credentials_fail_closed(
    cloud_jira: FakeJira,
    ledger: Ledger,
    make_tickets: MakeTickets,
    make_client: MakeClient,
    tmp_path: Path,
) -> None:
    wrong = CloudAuth(email="sre-bot@example.com", api_token=SecretStr("wrong-token-123456"))
    ctx = make_context(tmp_path, ledger=ledger)
    tickets = make_tickets(cloud_jira, ledger, client=make_client(cloud_jira, auth=wrong))
    with pytest.raises(TicketError, match="HTTP 401") as caught:
        tickets.ticket_for(ctx.record, ctx)
    assert "wrong-token" not in str(caught.value)


def test_a_recorded_ticket_that_vanished_fails_closed(
    dc_jira: FakeJira, ledger: Ledger, make_tickets: MakeTickets, tmp_path: Path
) -> None:
    ctx = make_context(tmp_path, ledger=ledger)
    ledger.set_ticket(ctx.record.id, "OPS-999", now=NOW)
    with pytest.raises(TicketError, match="OPS-999.*a person has to look"):
        make_tickets(dc_jira, ledger).ticket_for(ctx.record, ctx)
    assert _posts(dc_jira) == 0


def test_fields_the_site_lacks_are_skipped(
    make_tickets: MakeTickets, ledger: Ledger, tmp_path: Path
) -> None:
    fields = [f for f in DEFAULT_FIELDS if f.name not in ("Change risk", "Backout plan")]
    with FakeJira.data_center(fields=fields) as fake:
        ctx = make_context(tmp_path, ledger=ledger)
        ref = make_tickets(fake, ledger).ticket_for(ctx.record, ctx)
        values = fake.issue(ref.key).values
        assert values["customfield_10005"] == "Normal"
        assert "customfield_10042" not in values


def test_sync_state_moves_the_ticket_and_is_idempotent(
    jira: FakeJira, ledger: Ledger, make_tickets: MakeTickets, tmp_path: Path
) -> None:
    ctx = make_context(tmp_path, ledger=ledger)
    tickets = make_tickets(jira, ledger)
    key = tickets.ticket_for(ctx.record, ctx).key
    assert tickets.transition_for_state(ChangeState.proposed) is None
    assert tickets.transition_for_state(ChangeState.rolled_back) == "Roll back"
    record = ledger.transition(ctx.record.id, ChangeState.approved, now=NOW)
    assert tickets.sync_state(record) == ("Approve",)
    assert jira.issue(key).status == "Approved"
    assert tickets.sync_state(record) == ()
    record = ledger.transition(record.id, ChangeState.applying, now=NOW)
    record = ledger.transition(record.id, ChangeState.applied, now=NOW)
    assert tickets.sync_state(record) == ("Start", "Complete")  # catches up
    assert jira.issue(key).status == "Done"
    assert tickets.sync_state(record) == ()
    assert tickets.ticket_for(record, ctx).state == "Done"


def test_sync_state_that_cannot_be_reached_fails(
    cloud_jira: FakeJira, ledger: Ledger, make_tickets: MakeTickets, tmp_path: Path
) -> None:
    ctx = make_context(tmp_path, ledger=ledger)
    tickets = make_tickets(cloud_jira, ledger)
    key = tickets.ticket_for(ctx.record, ctx).key
    cloud_jira.issue(key).status = "Declined"
    record = ledger.transition(ctx.record.id, ChangeState.approved, now=NOW)
    with pytest.raises(TicketError, match="Declined"):
        tickets.sync_state(record)


def test_jsm_approvals(
    jira: FakeJira,
    ledger: Ledger,
    make_tickets: MakeTickets,
    make_client: MakeClient,
    tmp_path: Path,
) -> None:
    ctx: TicketContext = make_context(tmp_path, ledger=ledger)
    key = make_tickets(jira, ledger).ticket_for(ctx.record, ctx).key
    client = make_client(jira)

    (pending,) = JsmApprovals(client, counts=True).approvals_for(
        key, stack=ctx.stack, digest=ctx.digest
    )
    assert (pending.counts, pending.why_not) == (False, "pending")

    jira.decide_approval(key, "approved")
    (approved,) = JsmApprovals(client, counts=True).approvals_for(
        key, stack=ctx.stack, digest=ctx.digest
    )
    assert approved.decision == "approve" and approved.counts
    assert approved.source == "jira service management"
    assert approved.approver in {"alice", "Alice Approver"}
    assert (approved.stack, approved.digest) == (ctx.stack, ctx.digest)
    (not_counted,) = JsmApprovals(client).approvals_for(key, stack=ctx.stack, digest=ctx.digest)
    assert not not_counted.counts and "does not count" in (not_counted.why_not or "")
    assert approved.created_at is not None
    (stale,) = JsmApprovals(client, counts=True).approvals_for(
        key, stack=ctx.stack, digest=ctx.digest, not_before=approved.created_at.replace(year=2027)
    )
    assert not stale.counts

    jira.decide_approval(key, "declined")
    (declined,) = JsmApprovals(client).approvals_for(key, stack=ctx.stack, digest=ctx.digest)
    assert declined.decision == "reject" and declined.counts  # a decline always vetoes


def test_bind_gives_the_gate_ticket_source_shape(
    dc_jira: FakeJira, ledger: Ledger, make_tickets: MakeTickets, tmp_path: Path
) -> None:
    ctx = make_context(tmp_path, ledger=ledger)
    bound = make_tickets(dc_jira, ledger).bind(ctx)
    assert bound.ticket_for(ctx.record).source == "jira"


def test_dc_auth_type_is_used(dc_jira: FakeJira) -> None:
    assert isinstance(auth_for(dc_jira), DataCenterAuth)
