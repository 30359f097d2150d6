"""Outbox replayers as separate processes on one DynamoDB table (moto over HTTP)."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from change_mgmt.ledger.config import parse_ledger_url
from change_mgmt.ledger.dynamo_outbox import DynamoOutbox
from tests.change_mgmt.ledger_dynamodb.moto import subprocess_env
from tests.conftest import REPO_ROOT

NOW = datetime.now(UTC)
WORKER = [sys.executable, "-m", "tests.change_mgmt.ledger_dynamodb.workers"]


def _start(url: str, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [*WORKER, *args], cwd=REPO_ROOT, env=subprocess_env(url), stderr=subprocess.PIPE
    )


@pytest.mark.slow
def test_two_replayer_processes_deliver_each_update_exactly_once_in_order(
    dynamo_url: str, tmp_path: Path
) -> None:
    box = DynamoOutbox(parse_ledger_url(dynamo_url))
    ids = [box.enqueue("comment", f"OPS-{n % 3}", {"body": str(n)}, now=NOW) for n in range(24)]
    outs = [tmp_path / "a.txt", tmp_path / "b.txt"]
    runners = [_start(dynamo_url, "replay", str(out)) for out in outs]
    for runner in runners:
        _, err = runner.communicate(timeout=120)
        assert runner.returncode == 0, err.decode()
    delivered = [int(line) for out in outs if out.exists() for line in out.read_text().split()]
    assert sorted(delivered) == ids  # each once: none lost, none twice
    for out in outs:  # within one replayer, a ticket's updates keep their order
        mine = [int(line) for line in out.read_text().split()] if out.exists() else []
        for ticket in {box.get(i).ticket_key for i in mine}:
            order = [i for i in mine if box.get(i).ticket_key == ticket]
            assert order == sorted(order)
    assert box.pending() == []
    assert all(box.get(i).attempts == 1 for i in ids)


@pytest.mark.slow
def test_a_replayer_killed_after_claiming_loses_its_lease_and_another_delivers(
    dynamo_url: str, tmp_path: Path
) -> None:
    box = DynamoOutbox(parse_ledger_url(dynamo_url), claim_seconds=30)
    item = box.enqueue("transition", "OPS-7", {"state": "applied", "at": "t"}, now=NOW)
    claimed = tmp_path / "claimed.txt"
    hung = _start(dynamo_url, "hang", str(claimed), "30")
    deadline = time.monotonic() + 60
    while not (claimed.exists() and claimed.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert claimed.read_text().split() == [str(item)]
    hung.kill()
    hung.wait(10)
    delivered: list[int] = []
    now = datetime.now(UTC)
    assert box.replay(lambda i: delivered.append(i.id), now=now).done == 0  # lease running
    later = now + timedelta(seconds=31)
    assert box.replay(lambda i: delivered.append(i.id), now=later).done == 1
    assert delivered == [item]
    assert box.pending() == []
