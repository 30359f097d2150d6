"""Randomised fault runs of the whole ticket lifecycle, and an outbox replayer killed mid-run.

Each seed builds a fake Jira (Cloud or Data Center), injects a random mix of faults (429
with ``Retry-After``, 503, answers slower than the client timeout, a lost create answer,
search lag) and drives 1–3 changes through the gate (``ticket_for``, re-run like a user
would while it fails) and then through the outbox (approved → applying → applied or
failed, replayed until nothing is left). Then: one kept ticket per change, duplicates
marked, the right final status, every workflow transition applied exactly once, and no
secret in any request body or exception text.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from change_mgmt.ledger.store import Ledger
from change_mgmt.preview import ChangeSet, parse_preview_json
from change_mgmt.risk.assess import AssessmentContext, RiskAssessment, assess
from change_mgmt.risk.policy import default_policy
from change_mgmt.tickets.config import JiraConfig
from change_mgmt.tickets.content import TicketContext, change_label
from change_mgmt.tickets.errors import TicketError
from change_mgmt.tickets.jira import JiraClient, RetryPolicy
from change_mgmt.tickets.outbox import Outbox
from change_mgmt.tickets.source import DUPLICATE_LABEL, PREVIEW_MARKER, JiraTickets
from tests.change_mgmt.preview.builders import preview_json
from tests.change_mgmt.tickets.conftest import FakeTime, auth_for
from tests.change_mgmt.tickets.test_content import (
    NOW,
    STEPS_SG_AND_BUCKET,
    make_context,
    proposed_context,
)
from tests.fakes.jira import (
    DEFAULT_API_TOKEN,
    DEFAULT_EMAIL,
    DEFAULT_PAT,
    FakeJira,
    Fault,
)

CLIENT_TIMEOUT = 0.08
SLOW = 0.2
GATE_RUNS = 30
REPLAY_ROUNDS = 30
STACKS = ("prod", "staging", "dev")
TRANSITION_IDS = {"Approve": "11", "Start": "21", "Complete": "31", "Fail": "32"}
FINAL = {"applied": ("Done", ["11", "21", "31"]), "failed": ("Failed", ["11", "21", "32"])}
SECRETS = (
    DEFAULT_API_TOKEN,
    DEFAULT_PAT,
    base64.b64encode(f"{DEFAULT_EMAIL}:{DEFAULT_API_TOKEN}".encode()).decode(),
)
REPO_ROOT = Path(__file__).resolve().parents[3]
TRANSITIONS_PATH = "/rest/api/2/issue/{key}/transitions"


@dataclass
class Handled:
    """Requests the fake really processed (faults with a status never reach a route)."""

    seen: list[tuple[str, str, int, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def transitions(self, key: str) -> list[str]:
        path = TRANSITIONS_PATH.format(key=key)
        return [
            str(body["transition"]["id"])
            for method, p, status, body in self.seen
            if method == "POST" and p == path and status == 204
        ]

    def refused_transitions(self) -> list[tuple[str, int]]:
        return [
            (p, status)
            for method, p, status, _ in self.seen
            if method == "POST" and p.endswith("/transitions") and status >= 400
        ]


def watch(fake: FakeJira) -> Handled:
    """Record (method, path, status, body) of every request a route handled."""
    handled = Handled()
    original = fake.handle

    def handle(method: str, path: str, query: dict[str, list[str]], body: Any) -> Any:
        try:
            reply = original(method, path, query, body)
        except Exception as exc:
            status = int(getattr(exc, "status", 500))
            with handled.lock:
                handled.seen.append((method, path, status, body))
            raise
        with handled.lock:
            handled.seen.append((method, path, reply.status, body))
        return reply

    fake.handle = handle  # type: ignore[method-assign]
    return handled


def random_faults(rng: random.Random, fake: FakeJira) -> list[str]:
    """Inject 0–6 random faults (each finite) and maybe search lag; a description.

    Long lag with unrecorded creates can leave an orphan ticket for a while; later gate
    runs reconcile it (see :func:`test_an_orphan_of_two_uncertain_creates_is_caught_by_a_later_run`).
    """
    methods = (None, "GET", "POST", "PUT")
    paths = (None, "search", "/transitions$", "/comment", r"/issue/[^/]+$", r"/issue$", "/field")
    lag = rng.choice((0, 0, rng.randint(1, 8)))
    fake.search_lag_requests = lag
    described = [f"search lag {lag}"] if lag else []
    for _ in range(rng.randint(0, 6)):
        kind = rng.choice(("429", "503", "slow", "lost"))
        method, path = rng.choice(methods), rng.choice(paths)
        if kind == "429":
            after = str(rng.choice((0, 1, 2, 5)))
            times = rng.randint(1, 5)
            fake.inject(Fault.rate_limited(after, times=times, method=method, path=path))
        elif kind == "503":
            times = rng.randint(1, 6)
            fake.inject(Fault.unavailable(times=times, method=method, path=path))
        elif kind == "slow":
            times = 1
            fake.inject(Fault.slow(SLOW, times=times, method=method, path=path))
        else:
            times = rng.randint(1, 2)
            method, path = "POST", "/issue (lost answer)"
            fake.inject(Fault.lost_response(times=times))
        described.append(f"{kind}x{times} {method or '*'} {path or '*'}")
    return described


def _texts(exc: BaseException) -> Iterator[str]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield str(current)
        yield repr(current)
        current = current.__cause__ or current.__context__


@functools.cache
def _assessed(stack: str) -> tuple[ChangeSet, RiskAssessment]:
    """The changeset and risk of a stack's change (loading the policy is slow: once)."""
    changeset = parse_preview_json(preview_json(*STEPS_SG_AND_BUCKET), stack=stack)
    return changeset, assess(changeset, default_policy(), AssessmentContext(now=NOW))


def context(ledger: Ledger, stack: str, pr_url: str | None) -> TicketContext:
    """Like ``make_context`` in test_content, with the assessment cached."""
    changeset, assessment = _assessed(stack)
    return proposed_context(ledger, changeset, assessment, pr_url=pr_url)


def fault_run(seed: int, tmp_path: Path, http: httpx.Client) -> None:
    rng = random.Random(seed)
    flavor = "cloud" if seed % 2 == 0 else "data-center"
    fake_time = FakeTime()
    texts: list[str] = []
    with FakeJira(flavor) as fake:
        handled = watch(fake)
        faults = random_faults(rng, fake)
        where = f"seed {seed} ({flavor}; faults {faults})"
        ledger = Ledger(tmp_path / "ledger.sqlite3")
        client = JiraClient(
            fake.url,
            auth_for(fake),
            timeout=CLIENT_TIMEOUT,
            client=http,
            sleep=fake_time.sleep,
            clock=fake_time.clock,
            jitter=lambda: 1.0,
            retry=RetryPolicy(),
        )
        config = JiraConfig(url=fake.url, auth=auth_for(fake), project="OPS")
        tickets = JiraTickets(client, config, ledger, sleep=fake_time.sleep, now=lambda: NOW)
        pr = "https://github.com/acme/infra/pull/7" if rng.random() < 0.5 else None
        contexts = [context(ledger, stack, pr) for stack in STACKS[: rng.randint(1, 3)]]

        # the gate: re-run while it fails closed
        keys: dict[str, str] = {}
        for ctx in rng.sample(contexts, len(contexts)):
            for _ in range(GATE_RUNS):
                try:
                    keys[ctx.record.id] = tickets.ticket_for(ctx.record, ctx).key
                    break
                except TicketError as exc:
                    texts.extend(_texts(exc))
            else:
                pytest.fail(f"{where}: no ticket for {ctx.stack} after {GATE_RUNS} gate runs")

        # after the gate: state updates through the outbox, replayed at once and later
        outbox = Outbox(tmp_path / "outbox.sqlite3")
        finals = {ctx.record.id: rng.choice(("applied", "failed")) for ctx in contexts}
        comments: dict[str, list[str]] = {key: [] for key in keys.values()}
        moment = NOW
        steps = [
            (ctx, state)
            for state_index in range(3)
            for ctx in contexts
            for state in [("approved", "applying", finals[ctx.record.id])[state_index]]
        ]
        for ctx, state in steps:
            key = keys[ctx.record.id]
            moment += timedelta(seconds=1)
            payload = {"state": state, "change_id": ctx.record.id, "at": moment.isoformat()}
            outbox.enqueue("transition", key, payload, now=moment)
            if rng.random() < 0.3:
                body = f"{state} by CI run {seed}-{ctx.stack}"
                comments[key].append(body)
                outbox.enqueue("comment", key, {"body": body}, now=moment)
            result = outbox.replay(tickets.apply_outbox_item, now=moment)
            texts.extend(message for _, message in result.errors)
        for _ in range(REPLAY_ROUNDS):
            if not outbox.pending():
                break
            moment += timedelta(minutes=1)
            result = outbox.replay(tickets.apply_outbox_item, now=moment)
            texts.extend(message for _, message in result.errors)
        left = [(i.kind, i.ticket_key, i.last_error) for i in outbox.pending()]
        assert left == [], f"{where}: outbox not delivered: {left}"

        # later gate runs (by the ledger's link) reconcile orphans once search shows them;
        # at least two each (a run after convergence must change nothing), then until one
        # ticket per change carries its label, at most LATER_RUNS
        for ctx in contexts:
            label = change_label(ctx.stack, ctx.digest)
            for run in range(LATER_RUNS):
                with contextlib.suppress(TicketError):
                    tickets.ticket_for(ctx.record, ctx)
                labelled = [i for i in fake.issues.values() if label in i.labels]
                if run >= 1 and len(labelled) == 1:
                    break

        # one kept ticket per change, duplicates marked and stripped of the change label
        labels = {change_label(ctx.stack, ctx.digest) for ctx in contexts}
        for ctx in contexts:
            label = change_label(ctx.stack, ctx.digest)
            kept = [i for i in fake.issues.values() if label in i.labels]
            assert [i.key for i in kept] == [keys[ctx.record.id]], f"{where}: {label}"
            assert DUPLICATE_LABEL not in kept[0].labels, where
            assert ledger.get(ctx.record.id).ticket_key == kept[0].key, where
            status, path = FINAL[finals[ctx.record.id]]
            assert kept[0].status == status, where
            assert handled.transitions(kept[0].key) == path, f"{where}: {kept[0].key}"
            previews = [c for c in kept[0].comments if PREVIEW_MARKER in c.body]
            assert len(previews) == 1, where
            for body in comments[kept[0].key]:
                assert sum(body in c.body for c in kept[0].comments) == 1, f"{where}: {body}"
        for issue in fake.issues.values():
            if issue.key in keys.values():
                continue
            assert DUPLICATE_LABEL in issue.labels, f"{where}: stray ticket {issue.key}"
            assert not labels & set(issue.labels), f"{where}: {issue.key} {issue.labels}"
            assert handled.transitions(issue.key) == [], where
        assert handled.refused_transitions() == [], where

        # no secret in any request body, query or path, nor in any error text
        for recorded in fake.requests:
            sent = recorded.body.decode(errors="replace") + recorded.path + str(recorded.query)
            for secret in SECRETS:
                assert secret not in sent, f"{where}: secret sent in {recorded.method}"
        for text in texts:
            for secret in SECRETS:
                assert secret not in text, f"{where}: secret in an error text"


# The issue asks for at least 200 seeds in CI. Each costs about 0.2 s of real HTTP against
# the fake (spread over the xdist workers); set SRE_FAULT_SEEDS=1200 for a long soak.
LATER_RUNS = 10
FAULT_SEEDS = int(os.environ.get("SRE_FAULT_SEEDS", "200"))


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(FAULT_SEEDS))
def test_fault_run(seed: int, tmp_path: Path, shared_client: httpx.Client) -> None:
    fault_run(seed, tmp_path, shared_client)


def test_an_orphan_of_two_uncertain_creates_is_caught_by_a_later_run(
    cloud_jira: FakeJira, tmp_path: Path, fake_time: FakeTime, shared_client: httpx.Client
) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    ctx = make_context(tmp_path, ledger=ledger)
    client = JiraClient(
        cloud_jira.url,
        auth_for(cloud_jira),
        client=shared_client,
        sleep=fake_time.sleep,
        clock=fake_time.clock,
    )
    config = JiraConfig(url=cloud_jira.url, auth=auth_for(cloud_jira), project="OPS")
    tickets = JiraTickets(client, config, ledger, sleep=fake_time.sleep, now=lambda: NOW)
    cloud_jira.inject(Fault.lost_response(times=2))
    cloud_jira.search_lag_requests = 7
    with pytest.raises(TicketError, match="may have happened"):
        tickets.ticket_for(ctx.record, ctx)  # OPS-1 created, hidden for 2 more searches
    key = tickets.ticket_for(ctx.record, ctx).key  # misses OPS-1, creates OPS-2, finds OPS-1
    label = change_label(ctx.stack, ctx.digest)
    # OPS-2 may still be hidden from search here; the next run (by the ledger's link)
    # searches the label again and marks whatever else carries it a duplicate.
    for _ in range(8):
        assert tickets.ticket_for(ctx.record, ctx).key == key
    assert [i.key for i in cloud_jira.issues.values() if label in i.labels] == [key]
    others = [i for i in cloud_jira.issues.values() if i.key != key]
    assert others and all("sre-duplicate" in i.values["labels"] for i in others)


# --- a replayer killed mid-run ---------------------------------------------------------------

CHILD = """
import os, sys, time
from datetime import datetime
from pathlib import Path
from pydantic import SecretStr
from change_mgmt.ledger.store import Ledger
from change_mgmt.preview import parse_preview_json
from change_mgmt.preview import ChangeSet
from change_mgmt.risk.assess import AssessmentContext, RiskAssessment, assess
from change_mgmt.risk.policy import default_policy
from change_mgmt.tickets.auth import CloudAuth
from change_mgmt.tickets.config import JiraConfig
from change_mgmt.tickets.jira import JiraClient
from change_mgmt.tickets.outbox import Outbox
from change_mgmt.tickets.source import JiraTickets

outbox_path, signal_path, url, mode, now_text, *keys = sys.argv[1:]
now = datetime.fromisoformat(now_text)
box = Outbox(Path(outbox_path), claim_seconds=0.5)
for key in keys:
    for state in ("approved", "applying", "applied"):
        box.enqueue("transition", key, {"state": state, "at": now_text}, now=now)
auth = CloudAuth(email=os.environ["FAKE_JIRA_EMAIL"], api_token=SecretStr(os.environ["FAKE_JIRA_TOKEN"]))
client = JiraClient(url, auth, timeout=10)
ledger = Ledger(Path(outbox_path).with_name("child-ledger.sqlite3"))
tickets = JiraTickets(client, JiraConfig(url=url, auth=auth, project="OPS"), ledger)

def apply(item):
    if mode == "after-apply":
        tickets.apply_outbox_item(item)
    Path(signal_path).write_text(str(item.id))
    if mode == "exit":
        os._exit(3)
    time.sleep(600)

box.replay(apply, now=now)
"""


@pytest.mark.parametrize("mode", ["before-apply", "after-apply", "exit"])
def test_replay_after_the_replayer_was_killed(
    mode: str, cloud_jira: FakeJira, tmp_path: Path, fake_time: FakeTime
) -> None:
    handled = watch(cloud_jira)
    keys = [cloud_jira.add_issue(f"change {n}", labels=["sre-gate"]).key for n in range(2)]
    outbox_path, signal_path = tmp_path / "outbox.sqlite3", tmp_path / "claimed"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
        "FAKE_JIRA_EMAIL": DEFAULT_EMAIL,
        "FAKE_JIRA_TOKEN": DEFAULT_API_TOKEN,
    }
    args = [str(outbox_path), str(signal_path), cloud_jira.url, mode, NOW.isoformat(), *keys]
    child = subprocess.Popen([sys.executable, "-c", CHILD, *args], cwd=REPO_ROOT, env=env)
    try:
        deadline = time.monotonic() + 30
        while not signal_path.exists() and child.poll() is None:
            assert time.monotonic() < deadline, "the child never claimed an item"
            time.sleep(0.01)
        if child.poll() is None:
            child.send_signal(signal.SIGKILL)
    finally:
        if child.poll() is None:
            child.kill()
        child.wait(10)
    assert child.returncode in (-signal.SIGKILL, 3), child.returncode
    claimed = int(signal_path.read_text())

    outbox = Outbox(outbox_path, claim_seconds=0.5)
    pending = outbox.pending()
    assert len(pending) == 6 and pending[0].id == claimed  # nothing was marked done
    config = JiraConfig(url=cloud_jira.url, auth=auth_for(cloud_jira), project="OPS")
    client = JiraClient(
        cloud_jira.url,
        auth_for(cloud_jira),
        timeout=5,
        sleep=fake_time.sleep,
        clock=fake_time.clock,
    )
    with client:
        tickets = JiraTickets(client, config, Ledger(tmp_path / "ledger.sqlite3"))
        # while the dead replayer's claim lasts, its ticket waits; the other one goes on
        result = outbox.replay(tickets.apply_outbox_item, now=NOW)
        assert (result.done, result.failed, result.remaining) == (3, 0, 3)
        assert [i.ticket_key for i in outbox.pending()] == [keys[0]] * 3
        # past the claim: everything is delivered
        result = outbox.replay(tickets.apply_outbox_item, now=NOW + timedelta(seconds=1))
        assert (result.done, result.failed, result.remaining) == (3, 0, 0)
        assert outbox.replay(tickets.apply_outbox_item, now=NOW + timedelta(seconds=2)).done == 0
    for key in keys:
        assert cloud_jira.issue(key).status == "Done"
        assert handled.transitions(key) == ["11", "21", "31"]  # each exactly once
    assert handled.refused_transitions() == []
    assert all(outbox.get(i.id).done_at is not None for i in pending)
