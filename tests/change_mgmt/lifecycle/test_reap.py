"""``sre env reap`` as a library, against the stand-in pulumi backend: what is destroyed,
what never is, failures, locks, clock skew."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from change_mgmt.environments.locks import LockHeld, exclusive, lock_path
from change_mgmt.environments.reap import GRACE, ReapRefused, judge, plan, reap
from change_mgmt.environments.stacks import ListedStack
from change_mgmt.ledger.records import ChangeState
from change_mgmt.ledger.store import Ledger
from tests.change_mgmt.lifecycle.helpers import hours, request_text
from tests.fakes.pulumi_cli import update_stack

pytestmark = pytest.mark.slow  # each test runs the stand-in pulumi many times


def _stacks(*names: str, resources: int = 3, **extra) -> dict:
    return {name: {"resources": resources, "config": {}, **extra} for name in names}


def _reap(root, parallel: int = 4, now: datetime | None = None):
    return reap(
        root, now=now or datetime.now(UTC), clock=lambda: datetime.now(UTC), parallel=parallel
    )


def _outcomes(report) -> dict[str, str]:
    return {r.judged.stack.name: r.outcome for r in report.results}


@pytest.fixture
def mixed(checkout, backend):
    """Expired, active, deleted and broken requests, and stacks that are not env-*."""
    repo = checkout(
        old=request_text("old", hours(-3)),
        live=request_text("live", hours(30)),
        broken=request_text("broken", hours(-3)).replace("team: backend", "team: [backend"),
    )
    fake = backend(
        _stacks("env-old", "env-live", "env-broken", "env-gone", "prod", "dev", "envy-old")
    )
    return repo, fake


def test_the_dry_run_lists_exactly_the_expired_and_deleted(mixed) -> None:
    repo, fake = mixed
    report = plan(repo.root, now=datetime.now(UTC))
    assert _outcomes(report) == {
        "env-broken": "invalid",
        "env-gone": "would-destroy",
        "env-live": "kept",
        "env-old": "would-destroy",
    }
    assert report.ignored == ["dev", "envy-old", "prod"]
    assert not report.ok  # the broken request is reported
    assert "request invalid, not reaped" in report.results[0].judged.reason
    assert fake.called("destroy") == [] and fake.called("config") == []


def test_the_real_run_destroys_exactly_those_and_removes_their_stacks(mixed) -> None:
    repo, fake = mixed
    report = _reap(repo.root)
    assert _outcomes(report)["env-old"] == "destroyed"
    assert _outcomes(report)["env-gone"] == "destroyed"
    assert sorted(fake.stacks()) == ["dev", "env-broken", "env-live", "envy-old", "prod"]
    destroyed = [c["args"][c["args"].index("--stack") + 1] for c in fake.called("destroy")]
    assert sorted(destroyed) == ["env-gone", "env-old"]
    for stack in ("prod", "dev", "envy-old", "env-live", "env-broken"):
        assert fake.stacks()[stack]["resources"] == 3
    ledger = Ledger.for_repository(repo.root)
    records = {r.stack: r for r in ledger.list()}
    assert set(records) == {"env-old", "env-gone"}
    assert {r.state for r in records.values()} == {ChangeState.applied}
    assert records["env-old"].summary == {"delete": 3}
    assert all(r.deleted == 3 for r in report.results if r.outcome == "destroyed")


def test_clock_skew_an_environment_is_kept_within_the_grace_margin(checkout) -> None:
    repo = checkout(edge=request_text("edge", datetime(2026, 12, 1, 9, tzinfo=UTC)))
    stack = ListedStack("env-edge", 3, None, False)
    expiry = datetime(2026, 12, 1, 9, tzinfo=UTC)

    def verdict(at: datetime) -> str:
        return judge(repo.root, stack, now=at, grace=GRACE).verdict

    assert verdict(expiry - timedelta(seconds=1)) == "active"
    assert verdict(expiry) == "grace"
    assert verdict(expiry + GRACE - timedelta(seconds=1)) == "grace"
    assert verdict(expiry + GRACE) == "grace"  # exactly at the margin: still kept
    assert verdict(expiry + GRACE + timedelta(seconds=1)) == "expired"


def test_a_request_deleted_in_the_same_push_that_adds_another(checkout, backend) -> None:
    repo = checkout(first=request_text("first", hours(20)))
    fake = backend(_stacks("env-first"))
    repo.delete("first", commit=False)
    repo.write("second", request_text("second", hours(20)))  # one commit: delete + add
    report = _reap(repo.root)
    assert _outcomes(report) == {"env-first": "destroyed"}  # second has no stack yet
    assert "env-first" not in fake.stacks()


def test_a_renamed_request_reaps_the_old_name_only(checkout, backend) -> None:
    repo = checkout(alpha=request_text("alpha", hours(20)))
    fake = backend(_stacks("env-alpha", "env-beta"))
    (repo.requests / "alpha.yaml").rename(repo.requests / "beta.yaml")
    (repo.requests / "beta.yaml").write_text(request_text("beta", hours(20)))
    repo.commit("rename alpha to beta")
    report = _reap(repo.root)
    assert _outcomes(report) == {"env-alpha": "destroyed", "env-beta": "kept"}
    assert sorted(fake.stacks()) == ["env-beta"]


def test_a_look_alike_file_or_an_odd_stack_name_is_never_read_as_deleted(checkout, backend) -> None:
    repo = checkout()
    (repo.requests / "demo.yml").write_text(request_text("demo", hours(-5)))
    fake = backend(_stacks("env-demo", "env-Bad_Name"))
    report = _reap(repo.root)
    assert _outcomes(report) == {"env-Bad_Name": "invalid", "env-demo": "invalid"}
    assert fake.called("destroy") == []


def test_no_requests_folder_means_nothing_is_reaped(checkout, backend) -> None:
    repo = checkout()
    fake = backend(_stacks("env-a"))
    repo.requests.rmdir()
    with pytest.raises(ReapRefused, match="nothing reaped"):
        _reap(repo.root)
    assert fake.stacks()["env-a"]["resources"] == 3


def test_a_destroy_that_fails_halfway_is_reported_kept_and_retried(checkout, backend) -> None:
    repo = checkout()
    fake = backend(
        {
            **_stacks("env-a", "env-c"),
            **_stacks("env-b", resources=4, destroy_fail="error: deleting bucket: AccessDenied"),
        }
    )
    report = _reap(repo.root, parallel=2)
    assert _outcomes(report) == {"env-a": "destroyed", "env-b": "failed", "env-c": "destroyed"}
    assert not report.ok
    failed = next(r for r in report.results if r.outcome == "failed")
    assert "AccessDenied" in (failed.error or "")
    assert fake.stacks()["env-b"]["resources"] == 2  # half gone, the stack kept
    ledger = Ledger.for_repository(repo.root)
    assert ledger.get(failed.change_id).state is ChangeState.failed
    update_stack(fake.bin_dir, "env-b", destroy_fail=None)
    again = _reap(repo.root)
    assert _outcomes(again) == {"env-b": "destroyed"}
    assert "env-b" not in fake.stacks()
    assert fake.state()["stacks"] == {}
    per_stack = [d["stack"] for d in fake.state()["destroys"]]
    assert per_stack.count("env-a") == 1 and per_stack.count("env-c") == 1  # never twice


def test_a_stack_pulumi_will_not_remove_is_reported(checkout, backend) -> None:
    repo = checkout()
    backend(_stacks("env-a"), rm_fail="error: backend unavailable")
    report = _reap(repo.root)
    (result,) = report.results
    assert result.outcome == "not-removed" and not report.ok
    assert "backend unavailable" in (result.error or "")


def test_destroys_run_at_most_parallel_at_once(checkout, backend) -> None:
    repo = checkout()
    names = [f"env-s{i}" for i in range(6)]
    fake = backend(_stacks(*names, destroy_seconds=0.4))
    started = time.monotonic()
    report = _reap(repo.root, parallel=3)
    elapsed = time.monotonic() - started
    assert {r.outcome for r in report.results} == {"destroyed"}
    spans = [(d["start"], d["end"]) for d in fake.state()["destroys"]]
    most = max(sum(1 for s, e in spans if s <= start < e) for start, _ in spans)
    assert 2 <= most <= 3
    print(f"6 destroys of 0.4 s, --parallel 3: {elapsed:.2f} s, at most {most} at once")


def test_two_reapers_at_once_one_wins_and_nothing_is_destroyed_twice(checkout, backend) -> None:
    repo = checkout()
    fake = backend(_stacks("env-a", "env-b", destroy_seconds=0.5))
    results: list[object] = []

    def run() -> None:
        try:
            results.append(_reap(repo.root))
        except LockHeld as exc:
            results.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    losers = [r for r in results if isinstance(r, LockHeld)]
    assert len(losers) == 1 and "another sre env reap is already running" in str(losers[0])
    assert sorted(d["stack"] for d in fake.state()["destroys"]) == ["env-a", "env-b"]


def test_a_killed_reaper_leaves_no_stale_lock_and_its_change_is_closed(
    checkout, backend, tmp_path
) -> None:
    repo = checkout()
    fake = backend(_stacks("env-a", destroy_seconds=30))
    script = (
        "import sys; from datetime import UTC, datetime; from pathlib import Path\n"
        "from change_mgmt.environments.reap import reap\n"
        "reap(Path(sys.argv[1]), now=datetime.now(UTC), clock=lambda: datetime.now(UTC),"
        " parallel=1)\n"
    )
    reaper = subprocess.Popen(
        [sys.executable, "-c", script, str(repo.root)],
        env={**os.environ, "PYTHONPATH": os.getcwd()},
        start_new_session=True,
    )
    ledger = Ledger.for_repository(repo.root)
    deadline = time.monotonic() + 20
    while not ledger.list(states=[ChangeState.applying]) and time.monotonic() < deadline:
        time.sleep(0.1)
    (stuck,) = ledger.list(states=[ChangeState.applying])
    os.killpg(reaper.pid, signal.SIGKILL)  # the reaper and its pulumi child
    reaper.wait()
    update_stack(fake.bin_dir, "env-a", destroy_seconds=0, locked=False)  # like `pulumi cancel`
    report = _reap(repo.root)
    assert _outcomes(report) == {"env-a": "destroyed"}
    moves = [t.to_state for t in ledger.history(stuck.id)]  # the killed attempt was closed,
    assert moves == [  # then retried as the same change
        ChangeState.proposed,
        ChangeState.applying,
        ChangeState.failed,
        ChangeState.applying,
        ChangeState.applied,
    ]


def test_a_stack_another_operation_holds_is_left_for_the_next_run(checkout, backend) -> None:
    repo = checkout()
    fake = backend(_stacks("env-a", "env-b"))
    Ledger.for_repository(repo.root)
    with exclusive(lock_path(repo.root, "env-a"), "sre env up", now=datetime.now(UTC)):
        report = _reap(repo.root)
    assert _outcomes(report) == {"env-a": "busy", "env-b": "destroyed"}
    assert "env-a" in fake.stacks()
