"""Lost races and throttling on the DynamoDB ledger: retried, never duplicated, no loss."""

from __future__ import annotations

import http.client
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from change_mgmt.ledger import ChangeState, IllegalTransitionError
from change_mgmt.ledger.config import parse_ledger_url
from change_mgmt.ledger.dynamodb import DynamoLedger
from tests.change_mgmt.ledger.test_store import DIGEST, propose
from tests.change_mgmt.ledger_dynamodb.moto import endpoint
from tests.conftest import NOW
from tests.fakes.loopback import LoopbackServer

S = ChangeState


def test_a_transition_that_loses_a_race_is_re_read_and_retried_once(
    dynamo_url: str,
) -> None:
    mine, theirs = (DynamoLedger(parse_ledger_url(dynamo_url)) for _ in range(2))
    record = propose(mine)
    calls: list[str] = []

    def another_runner_writes_first(**_: Any) -> None:
        calls.append("transact")
        if len(calls) == 1:  # between our read and our write, another runner links a ticket
            theirs.set_ticket(record.id, "OPS-9", now=NOW)

    mine.table.client.meta.events.register(
        "before-call.dynamodb.TransactWriteItems", another_runner_writes_first
    )
    moved = mine.transition(record.id, S.approved, now=NOW + timedelta(minutes=1))
    assert len(calls) == 2  # the first write failed its version check and was retried
    assert moved.state is S.approved and moved.ticket_key == "OPS-9"  # their write kept
    assert [(t.from_state, t.to_state) for t in mine.history(record.id)] == [
        (None, S.proposed),
        (S.proposed, S.approved),
    ]  # the move recorded once


def test_a_move_another_runner_made_first_is_not_made_again(dynamo_url: str) -> None:
    mine, theirs = (DynamoLedger(parse_ledger_url(dynamo_url)) for _ in range(2))
    record = propose(mine, change_type="standard")

    def another_runner_starts_applying(**_: Any) -> None:
        mine.table.client.meta.events.unregister(
            "before-call.dynamodb.TransactWriteItems", another_runner_starts_applying
        )
        theirs.transition(record.id, S.applying, now=NOW)

    mine.table.client.meta.events.register(
        "before-call.dynamodb.TransactWriteItems", another_runner_starts_applying
    )
    with pytest.raises(IllegalTransitionError, match="is applying"):
        mine.transition(record.id, S.applying, now=NOW)
    assert [t.to_state for t in mine.history(record.id)] == [S.proposed, S.applying]


def test_racing_proposals_make_one_record_and_racing_moves_one_move(dynamo_url: str) -> None:
    ledgers = [DynamoLedger(parse_ledger_url(dynamo_url)) for _ in range(6)]
    barrier = threading.Barrier(len(ledgers))
    ids: list[int] = []
    moved: list[bool] = []

    def runner(ledger: DynamoLedger) -> None:
        barrier.wait()
        record = propose(ledger, change_type="standard")
        ids.append(record.id)
        barrier.wait()
        try:
            ledger.transition(record.id, S.applying, now=NOW)
            moved.append(True)
        except IllegalTransitionError:
            moved.append(False)

    threads = [threading.Thread(target=runner, args=(ledger,)) for ledger in ledgers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(set(ids)) == 1 and len(ids) == len(ledgers)
    assert sorted(moved) == [False] * (len(ledgers) - 1) + [True]
    assert len(ledgers[0].list()) == 1
    assert [t.to_state for t in ledgers[0].history(ids[0])] == [S.proposed, S.applying]


class _Throttler(BaseHTTPRequestHandler):
    """Answers the first ``throttle`` requests as DynamoDB does when throttled, then
    forwards every request to the moto server."""

    def log_message(self, *args: Any) -> None:
        return

    def do_POST(self) -> None:
        fake: Any = self.server.fake  # type: ignore[attr-defined]
        body = self.rfile.read(int(self.headers["Content-Length"]))
        target = self.headers.get("X-Amz-Target", "")
        with fake.lock:
            fake.seen.append(target)
            throttled = fake.throttle > 0
            fake.throttle -= 1
        if throttled:
            answer = (
                b'{"__type":"com.amazonaws.dynamodb.v20120810#'
                b'ProvisionedThroughputExceededException","message":"slow down"}'
            )
            self.send_response(400)
            self.send_header("Content-Type", "application/x-amz-json-1.0")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)
            return
        host, port = fake.upstream
        conn = http.client.HTTPConnection(host, port, timeout=30)
        headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
        conn.request("POST", self.path, body=body, headers=headers)
        reply = conn.getresponse()
        data = reply.read()
        self.send_response(reply.status)
        for name, value in reply.getheaders():
            if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        conn.close()


class ThrottlingProxy(LoopbackServer):
    def __init__(self, throttle: int) -> None:
        super().__init__(_Throttler)
        self.lock = threading.Lock()
        self.throttle = throttle
        self.seen: list[str] = []
        host, port = endpoint().removeprefix("http://").split(":")
        self.upstream = (host, int(port))


@pytest.mark.slow  # botocore's real backoff: up to a few seconds
def test_throttled_writes_back_off_and_nothing_is_lost(
    dynamo_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with ThrottlingProxy(throttle=3) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.base_url)
        ledger = DynamoLedger(parse_ledger_url(dynamo_url))
        record = propose(ledger)
        moved = ledger.transition(record.id, S.approved, now=NOW)
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint())
    assert proxy.seen[:4] == ["DynamoDB_20120810.GetItem"] * 4  # 3 throttled, then served
    assert moved.state is S.approved and moved.digest == DIGEST
    fresh = DynamoLedger(parse_ledger_url(dynamo_url))
    assert [r.id for r in fresh.list()] == [record.id]
    assert [t.to_state for t in fresh.history(record.id)] == [S.proposed, S.approved]
