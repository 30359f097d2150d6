"""``sre ledger init`` and ``sre ledger migrate``; the ledger URL as configuration."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from change_mgmt.cli.app import app
from change_mgmt.ledger import ChangeState, Ledger
from change_mgmt.ledger.config import parse_ledger_url
from change_mgmt.ledger.dynamodb import DynamoLedger
from change_mgmt.tickets.outbox import Outbox
from tests.change_mgmt.ledger.test_store import DIGEST, propose
from tests.change_mgmt.ledger_dynamodb.moto import REGION, new_table_url, use_moto
from tests.conftest import NOW

runner = CliRunner()


def sre(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env=env)
    return result.exit_code, result.output


def test_init_creates_the_table_once_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_moto(monkeypatch)
    url = f"dynamodb://ledger-init-{tmp_path.name[-8:].lower()}?region={REGION}"
    code, text = sre("ledger", "init", "--url", url, "--project-dir", str(tmp_path))
    assert code == 0, text
    assert text.startswith("created DynamoDB table ledger-init-")
    code, again = sre("ledger", "init", "--url", url, "-f", "json", "--project-dir", str(tmp_path))
    document = json.loads(again)
    assert code == 0 and document["created"] is False and document["kind"] == "dynamodb"
    assert document["schema"] == "sre-platform/ledger-init/v1"


def test_init_of_the_default_ledger_creates_the_sqlite_file(tmp_path: Path) -> None:
    code, text = sre("ledger", "init", "--project-dir", str(tmp_path))
    assert code == 0 and "created SQLite ledger" in text
    assert (tmp_path / ".sre" / "ledger.sqlite3").is_file()
    assert "exists already" in sre("ledger", "init", "--project-dir", str(tmp_path))[1]


@pytest.mark.parametrize(
    "url",
    [
        "dynamodb://x?region=eu-west-1",  # table name too short
        "dynamodb://ledger",  # no region
        "dynamodb://ledger?region=eu-west-1&endpoint=http://evil",
        "postgres://db/ledger",
        "sqlite://relative/path",
        "dynamodb://key:secret@ledger?region=eu-west-1",
    ],
)
def test_an_invalid_ledger_url_exits_2_naming_the_variable(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SRE_LEDGER_URL", url)
    code, text = sre("changes", "list", "--project-dir", str(tmp_path))
    assert code == 2
    assert "SRE_LEDGER_URL" in text and "is not a ledger URL" in text
    assert "secret" not in text and "Traceback" not in text


def test_ledger_yaml_chooses_the_ledger_and_a_bad_one_names_its_line(tmp_path: Path) -> None:
    (tmp_path / "ledger.yaml").write_text("# shared\nurl: mysql://nope\n")
    code, text = sre("changes", "list", "--project-dir", str(tmp_path))
    assert code == 2 and "ledger.yaml:2:" in text
    (tmp_path / "ledger.yaml").write_text("uri: x\n")
    code, text = sre("changes", "list", "--project-dir", str(tmp_path))
    assert code == 2 and "ledger.yaml:1:" in text


def test_migrate_copies_everything_and_refuses_a_non_empty_target(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    local = Ledger.for_repository(tmp_path)
    first = propose(local)
    local.transition(first.id, ChangeState.approved, now=NOW)
    local.set_ticket(first.id, "OPS-3", now=NOW)
    local.add_evidence(first.id, [f"s3://b/prod/{DIGEST}/plan.json"], now=NOW)
    second = propose(local, digest="b" * 64, change_type="standard")
    local.transition(second.id, ChangeState.applying, now=NOW)
    local.add_approval("prod", DIGEST, approver="al@x.io", decision="approve", reason="ok", now=NOW)
    claim = local.claim_reminder("demo", NOW, now=NOW)
    assert claim is not None
    local.reminder_sent(claim, now=NOW)
    box = Outbox.for_repository(tmp_path)
    sent = box.enqueue("comment", "OPS-3", {"body": "done"}, now=NOW)
    box.replay(lambda item: None, now=NOW)
    queued = box.enqueue("comment", "OPS-3", {"body": "later"}, now=NOW)

    use_moto(monkeypatch)
    url = new_table_url()
    code, text = sre("ledger", "migrate", "--to", url, "-f", "json", "--project-dir", str(tmp_path))
    assert code == 0, text
    counts = json.loads(text)
    assert {
        k: counts[k] for k in ("changes", "transitions", "approvals", "reminders", "outbox")
    } == {
        "changes": 2,
        "transitions": 4,
        "approvals": 1,
        "reminders": 1,
        "outbox": 2,
    }
    shared = DynamoLedger(parse_ledger_url(url))
    for record in local.list():
        assert shared.get(record.id) == record
        assert shared.history(record.id) == local.history(record.id)
    assert shared.approvals("prod", DIGEST) == local.approvals("prod", DIGEST)
    assert shared.reminders() == local.reminders()
    assert shared.resolve("OPS-3").id == first.id
    # new records continue the ids; the delivered entry stays delivered
    assert propose(shared, digest="c" * 64).id == 3
    monkeypatch.setenv("SRE_LEDGER_URL", url)
    remote = Outbox.for_repository(tmp_path)
    assert [i.id for i in remote.pending()] == [queued]
    assert remote.enqueue("comment", "OPS-3", {"body": "done"}, now=NOW) == sent
    code, text = sre("ledger", "migrate", "--to", url, "--project-dir", str(tmp_path))
    assert code == 1 and "not empty" in text


def test_changes_show_lists_evidence_from_the_shared_ledger(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_moto(monkeypatch)
    url = new_table_url()
    monkeypatch.setenv("SRE_LEDGER_URL", url)
    shared = Ledger.for_repository(tmp_path)
    assert isinstance(shared, DynamoLedger)
    record = shared.add_evidence(
        propose(shared).id, [f"s3://bucket/prod/{DIGEST}/gate-report.json"], now=NOW
    )
    code, text = sre("changes", "show", str(record.id), "--project-dir", str(tmp_path))
    assert code == 0, text
    assert "evidence" in text and f"s3://bucket/prod/{DIGEST}/gate-report.json" in text
    code, text = sre("changes", "show", "1", "-f", "json", "--project-dir", str(tmp_path))
    assert json.loads(text)["evidence"] == [f"s3://bucket/prod/{DIGEST}/gate-report.json"]
    assert not (tmp_path / ".sre").exists()  # nothing local was written
