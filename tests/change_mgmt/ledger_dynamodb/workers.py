"""Runner processes for the DynamoDB tests: ``python -m tests.change_mgmt.ledger_dynamodb.workers``.

Each is a separate process with its own boto3 client, as a CI runner on another machine
would be; the ledger URL and moto endpoint come from the environment.

* ``replay OUT [CLAIM_SECONDS]``: replay the outbox once, appending each delivered item
  id to ``OUT`` (one line each, flushed before the item is marked done);
* ``hang OUT``: replay, but after claiming the first item write its id to ``OUT`` and
  hang (the test kills the process: a replayer that died holding a claim).
"""

from __future__ import annotations

import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from change_mgmt.ledger.config import parse_ledger_url
from change_mgmt.ledger.dynamo_outbox import DynamoOutbox
from change_mgmt.tickets.outbox import OutboxItem


def main(argv: list[str]) -> int:
    command, out = argv[0], Path(argv[1])
    claim = float(argv[2]) if len(argv) > 2 else 300.0
    box = DynamoOutbox(parse_ledger_url(os.environ["SRE_LEDGER_URL"]), claim_seconds=claim)

    def deliver(item: OutboxItem) -> None:
        with out.open("a") as sink:
            sink.write(f"{item.id}\n")
        if command == "hang":
            time.sleep(600)
        time.sleep(0.002)

    box.replay(deliver, now=datetime.now(UTC))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
