"""One Jira ticket per change through the ledger's claim, however far search lags.

Jira Cloud's search is eventually consistent: a gate that searches the change's label
just after another gate created the ticket finds nothing. Without the claim, racing
gates each create (the duplicates are reconciled afterwards); with it, one creates and
the others wait for its key in the ledger.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from change_mgmt.ledger.store import Ledger
from change_mgmt.tickets.config import JiraConfig
from change_mgmt.tickets.content import change_label
from change_mgmt.tickets.errors import TicketError
from change_mgmt.tickets.source import DUPLICATE_LABEL, JiraTickets
from tests.change_mgmt.ledger.conftest import open_ledger
from tests.change_mgmt.tickets.conftest import FakeTime, MakeClient, auth_for
from tests.change_mgmt.tickets.test_content import NOW, make_context
from tests.change_mgmt.tickets.test_source import MakeTickets, grant_always
from tests.fakes.jira import FakeJira, Fault

CREATE = r"/rest/api/2/issue$"
GATES = 5
LAG = 0.5
"""Seconds a new issue stays out of search results: far longer than it takes all the
racing gates to search, so without the claim every one of them finds nothing."""


@pytest.fixture
def make_tickets(make_client: MakeClient, fake_time: FakeTime) -> MakeTickets:
    def make(fake: FakeJira, ledger: Ledger, **kwargs: Any) -> JiraTickets:
        config = JiraConfig(url=fake.url, auth=auth_for(fake), project="OPS")
        kwargs.setdefault("sleep", fake_time.sleep)
        kwargs.setdefault("now", lambda: NOW)
        return JiraTickets(make_client(fake), config, ledger, **kwargs)

    return make


def _posts(fake: FakeJira) -> int:
    return len(fake.requests_to("POST", CREATE))


def twin(ledger: Ledger) -> Ledger:
    from change_mgmt.ledger.dynamodb import DynamoLedger

    if isinstance(ledger, DynamoLedger):
        return DynamoLedger(ledger.location)
    return Ledger(ledger.path)


def race(
    cloud_jira: FakeJira, ledger: Ledger, make_tickets: MakeTickets, tmp_path: Path
) -> list[str]:
    """GATES threads, each a gate with its own ledger client, asking for the ticket of
    one change at the same moment; the keys they got."""
    ctx = make_context(tmp_path, ledger=ledger)
    cloud_jira.search_lag_seconds = LAG
    barrier = threading.Barrier(GATES, timeout=10)
    keys: list[str] = []
    errors: list[BaseException] = []

    def gate() -> None:
        try:
            tickets = make_tickets(
                cloud_jira,
                twin(ledger),
                sleep=time.sleep,
                now=lambda: datetime.now(UTC),
                search_pause=0.05,
                search_attempts=6,  # 0.05 + 0.1 + ... = 1.6 s > LAG: the creator sees its own
                key_wait=30.0,
                key_wait_pause=0.05,
            )
            barrier.wait()
            keys.append(tickets.ticket_for(ctx.record, ctx).key)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=gate) for _ in range(GATES)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    assert len(keys) == GATES
    return keys


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", "dynamodb"])
def test_racing_gates_create_one_ticket_while_search_lags(
    backend: str,
    cloud_jira: FakeJira,
    make_tickets: MakeTickets,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ledger = open_ledger(backend, tmp_path, monkeypatch)
    keys = race(cloud_jira, ledger, make_tickets, tmp_path)
    assert _posts(cloud_jira) == 1
    (issue,) = cloud_jira.issues.values()
    assert set(keys) == {issue.key} and DUPLICATE_LABEL not in issue.labels
    assert twin(ledger).get(1).ticket_key == issue.key


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", "dynamodb"])
def test_without_the_claim_the_same_race_creates_a_ticket_per_gate(
    backend: str,
    cloud_jira: FakeJira,
    make_tickets: MakeTickets,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What the claim prevents: the searches before creating all miss, as Cloud's do."""
    ledger = open_ledger(backend, tmp_path, monkeypatch)
    monkeypatch.setattr(type(ledger), "claim_ticket_creation", grant_always)
    keys = race(cloud_jira, ledger, make_tickets, tmp_path)
    assert _posts(cloud_jira) == GATES  # every gate created one
    kept = min(cloud_jira.issues.values(), key=lambda i: i.id)
    assert set(keys) == {kept.key}  # the reconciliation still converges on the oldest
    others = [i for i in cloud_jira.issues.values() if i is not kept]
    assert all(DUPLICATE_LABEL in i.labels for i in others)


# --- one gate against a claim another run holds (the fake clock: nothing waits) -----------


def waiting_tickets(
    make_tickets: MakeTickets, jira: FakeJira, ledger: Ledger, fake_time: FakeTime, **kw: Any
) -> JiraTickets:
    start = fake_time.now

    def clock() -> datetime:  # the ledger's leases see the fake sleeps pass
        return NOW + timedelta(seconds=fake_time.now - start)

    return make_tickets(jira, ledger, now=clock, **kw)


def test_a_gate_without_the_claim_uses_the_key_the_holder_stores(
    jira: FakeJira, make_tickets: MakeTickets, tmp_path: Path, fake_time: FakeTime
) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    ctx = make_context(tmp_path, ledger=ledger)
    holder = ledger.claim_ticket_creation(ctx.record.id, now=NOW)
    assert holder is not None
    key = jira.add_issue("created by the other gate").key
    original: Callable[[float], None] = fake_time.sleep

    def sleep(seconds: float) -> None:
        original(seconds)
        if len(fake_time.sleeps) == 3:  # the holder stores its key meanwhile
            ledger.set_ticket(ctx.record.id, key, now=NOW)

    tickets = waiting_tickets(make_tickets, jira, ledger, fake_time, sleep=sleep)
    assert tickets.ticket_for(ctx.record, ctx).key == key
    assert fake_time.sleeps == [0.25, 0.5, 1.0]
    assert _posts(jira) == 0
    assert change_label(ctx.stack, ctx.digest) in jira.issue(key).labels  # made its own


def test_a_wait_without_a_key_fails_closed(
    jira: FakeJira, make_tickets: MakeTickets, tmp_path: Path, fake_time: FakeTime
) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    ctx = make_context(tmp_path, ledger=ledger)
    holder = ledger.claim_ticket_creation(ctx.record.id, now=NOW)  # alive, but slow
    assert holder is not None
    tickets = waiting_tickets(make_tickets, jira, ledger, fake_time, key_wait=30.0)
    with pytest.raises(TicketError, match="being created by another gate run.*within 30 s"):
        tickets.ticket_for(ctx.record, ctx)
    assert fake_time.sleeps == [0.25, 0.5, 1.0, 2.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0, 2.25]
    assert _posts(jira) == 0 and ledger.get(ctx.record.id).ticket_key is None


def test_a_dead_holders_claim_is_taken_over_when_its_lease_ends(
    jira: FakeJira,
    make_tickets: MakeTickets,
    tmp_path: Path,
    fake_time: FakeTime,
    caplog: pytest.LogCaptureFixture,
) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    ctx = make_context(tmp_path, ledger=ledger)
    lease = timedelta(seconds=10)
    dead = ledger.claim_ticket_creation(ctx.record.id, now=NOW, lease=lease)  # then it died
    assert dead is not None
    tickets = waiting_tickets(make_tickets, jira, ledger, fake_time, claim_lease=lease)
    with caplog.at_level(logging.WARNING, logger="change_mgmt.tickets.source"):
        ref = tickets.ticket_for(ctx.record, ctx)
    assert sum(fake_time.sleeps) >= 10  # it waited the dead run's lease out, no longer
    assert fake_time.sleeps[:5] == [0.25, 0.5, 1.0, 2.0, 4.0]
    assert _posts(jira) == 1 and ledger.get(ctx.record.id).ticket_key == ref.key
    assert "claim on creating its ticket ran out" in caplog.text


def test_a_failed_create_releases_the_claim(
    cloud_jira: FakeJira, make_tickets: MakeTickets, tmp_path: Path
) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    ctx = make_context(tmp_path, ledger=ledger)
    cloud_jira.inject(Fault.error(400, errors={"summary": "too long"}, method="POST", path=CREATE))
    with pytest.raises(TicketError, match="too long"):
        make_tickets(cloud_jira, ledger).ticket_for(ctx.record, ctx)
    claim = ledger.claim_ticket_creation(ctx.record.id, now=NOW)  # at once: not waited out
    assert claim is not None and not claim.taken_over
