"""The durable outbox: nothing lost while Jira is down, each item applied once, in order."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest

from change_mgmt.ledger.records import ChangeState
from change_mgmt.ledger.store import Ledger
from change_mgmt.tickets.config import JiraConfig
from change_mgmt.tickets.errors import TicketInputError
from change_mgmt.tickets.outbox import OUTBOX_PATH, Outbox, OutboxItem
from change_mgmt.tickets.source import JiraTickets
from tests.change_mgmt.ledger_dynamodb.moto import new_table_url, use_moto
from tests.change_mgmt.tickets.conftest import FakeTime, MakeClient, auth_for
from tests.change_mgmt.tickets.test_content import GITHUB_TOKEN, NOW, make_context
from tests.fakes.jira import FakeJira, Fault


@pytest.fixture(params=["sqlite", "dynamodb"])
def outbox(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Outbox:
    """The repository's outbox: the SQLite file, or the DynamoDB ledger table (moto)."""
    if request.param == "dynamodb":
        use_moto(monkeypatch)
        monkeypatch.setenv("SRE_LEDGER_URL", new_table_url())
    return Outbox.for_repository(tmp_path)


def test_the_default_outbox_is_a_file_in_the_checkout(tmp_path: Path) -> None:
    assert Outbox.for_repository(tmp_path).path == tmp_path / OUTBOX_PATH


def test_enqueue_is_idempotent(outbox: Outbox) -> None:
    first = outbox.enqueue("transition", "OPS-1", {"state": "applied", "at": "t1"}, now=NOW)
    again = outbox.enqueue("transition", "OPS-1", {"at": "t1", "state": "applied"}, now=NOW)
    other = outbox.enqueue("transition", "OPS-2", {"state": "applied", "at": "t1"}, now=NOW)
    assert first == again != other
    assert [i.id for i in outbox.pending()] == [first, other]
    outbox.replay(lambda item: None, now=NOW)
    # done items are remembered too: enqueueing it once more sends nothing
    assert outbox.enqueue("transition", "OPS-1", {"state": "applied", "at": "t1"}, now=NOW) == first
    assert outbox.pending() == []
    with pytest.raises(TicketInputError):
        outbox.enqueue("comment", "OPS-1", {"body": object()}, now=NOW)


def test_replay_keeps_order_per_ticket_and_goes_on_with_others(outbox: Outbox) -> None:
    a1 = outbox.enqueue("comment", "OPS-1", {"body": "a1"}, now=NOW)
    b1 = outbox.enqueue("comment", "OPS-2", {"body": "b1"}, now=NOW)
    a2 = outbox.enqueue("comment", "OPS-1", {"body": "a2"}, now=NOW)
    b2 = outbox.enqueue("comment", "OPS-2", {"body": "b2"}, now=NOW)
    applied: list[int] = []

    def apply(item: OutboxItem) -> None:
        if item.id == a1:
            raise RuntimeError(f"Jira said no; token {GITHUB_TOKEN}")
        applied.append(item.id)

    result = outbox.replay(apply, now=NOW)
    assert applied == [b1, b2]
    assert (result.done, result.failed, result.remaining) == (2, 1, 2)
    failed = outbox.get(a1)
    assert failed.attempts == 1 and failed.last_error is not None
    assert "Jira said no" in failed.last_error and GITHUB_TOKEN not in failed.last_error
    assert result.errors == ((a1, failed.last_error),)

    result = outbox.replay(lambda item: applied.append(item.id), now=NOW + timedelta(minutes=1))
    assert applied == [b1, b2, a1, a2]
    assert (result.done, result.failed, result.remaining) == (2, 0, 0)
    assert outbox.get(a1).attempts == 2 and outbox.get(a1).last_error is None


def test_a_crashed_replayers_claim_expires(outbox: Outbox) -> None:
    item = outbox.enqueue("comment", "OPS-1", {"body": "x"}, now=NOW)
    assert outbox._claim("crashed", set(), NOW) is not None  # claimed, then the process died
    applied: list[int] = []
    result = outbox.replay(lambda i: applied.append(i.id), now=NOW + timedelta(seconds=10))
    assert applied == [] and result.remaining == 1
    later = NOW + timedelta(seconds=outbox.claim_seconds + 1)
    assert outbox.replay(lambda i: applied.append(i.id), now=later).done == 1
    assert applied == [item]


def test_two_replayers_apply_each_item_once_in_order(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    Outbox(path)
    ids = [
        Outbox(path).enqueue("comment", f"OPS-{n % 4}", {"body": str(n)}, now=NOW)
        for n in range(40)
    ]
    applied: list[tuple[str, int]] = []
    lock = threading.Lock()
    barrier = threading.Barrier(2)

    def apply(item: OutboxItem) -> None:
        time.sleep(0.002)
        with lock:
            applied.append((item.ticket_key, item.id))

    def replayer() -> None:
        box = Outbox(path)  # its own connections, as another process would have
        barrier.wait()
        box.replay(apply, now=NOW)

    threads = [threading.Thread(target=replayer) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert sorted(i for _, i in applied) == ids  # each once, none lost
    for ticket in {k for k, _ in applied}:
        order = [i for k, i in applied if k == ticket]
        assert order == sorted(order)
    assert Outbox(path).pending() == []


def test_jira_down_nothing_lost_then_replayed_when_it_recovers(
    cloud_jira: FakeJira, make_client: MakeClient, fake_time: FakeTime, tmp_path: Path
) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    ctx = make_context(tmp_path, ledger=ledger)
    config = JiraConfig(url=cloud_jira.url, auth=auth_for(cloud_jira), project="OPS")
    tickets = JiraTickets(make_client(cloud_jira), config, ledger, sleep=fake_time.sleep)
    key = tickets.ticket_for(ctx.record, ctx).key
    outbox = Outbox.for_repository(tmp_path)
    moved = outbox.enqueue("transition", key, {"state": "applied", "at": "t"}, now=NOW)
    said = outbox.enqueue("comment", key, {"body": "applied by CI run 17"}, now=NOW)

    cloud_jira.inject(Fault.unavailable(times=1000))
    result = outbox.replay(tickets.apply_outbox_item, now=NOW)
    assert (result.done, result.failed, result.remaining) == (0, 1, 2)
    assert "503" in (outbox.get(moved).last_error or "")
    assert cloud_jira.issue(key).status == "Awaiting approval"

    cloud_jira.faults.clear()
    result = outbox.replay(tickets.apply_outbox_item, now=NOW + timedelta(minutes=5))
    assert (result.done, result.failed, result.remaining) == (2, 0, 0)
    assert cloud_jira.issue(key).status == "Done"
    assert sum("applied by CI run 17" in c.body for c in cloud_jira.issue(key).comments) == 1

    # replaying an item again (at-least-once delivery) changes nothing
    tickets.apply_outbox_item(outbox.get(said))
    tickets.apply_outbox_item(outbox.get(moved))
    assert sum("applied by CI run 17" in c.body for c in cloud_jira.issue(key).comments) == 1
    assert cloud_jira.issue(key).status == "Done"
    assert ChangeState("applied") is ChangeState.applied
