"""DORA metrics computed from real ledger records on a fixed clock (``now`` is always given)."""

from __future__ import annotations

import json
import random
import statistics
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from change_mgmt.ledger import TRANSITIONS, ChangeRecord, ChangeState, Ledger, Transition
from change_mgmt.report import (
    DORA_2023,
    BandThresholds,
    DoraReport,
    LeadTimeSource,
    ProposalTimeOnly,
    compute_dora,
)
from change_mgmt.report.dora import band_at_least, band_at_most, band_below, percentile
from tests.change_mgmt.report.helpers import DAY, Changes, S
from tests.conftest import NOW


def t(day: int, hour: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


SINCE = t(1)
UNTIL = t(21)  # 20 days; NOW (27 November) is six days later


class FakeLeadTimes:
    """First-commit times by commit; remembers what it was asked."""

    description = "fake: first commits from a table"

    def __init__(self, times: dict[str, datetime]) -> None:
        self.times = times
        self.asked: list[str] = []

    def first_commit_at(self, commit: str) -> datetime | None:
        self.asked.append(commit)
        return self.times.get(commit)


@pytest.fixture
def changes(tmp_path: Path) -> Changes:
    return Changes(Ledger(tmp_path / "ledger.sqlite3"))


def dora(
    changes: Changes,
    lead_times: LeadTimeSource | None = None,
    *,
    since: datetime = SINCE,
    until: datetime = UNTIL,
    now: datetime = NOW,
    stack: str | None = None,
    thresholds: BandThresholds = DORA_2023,
) -> DoraReport:
    records, history = changes.snapshot()
    return compute_dora(
        records,
        history,
        lead_times or ProposalTimeOnly(),
        since=since,
        until=until,
        now=now,
        stack=stack,
        thresholds=thresholds,
    )


def frequency_scenario(changes: Changes) -> None:
    changes.deploy("prod-a", t(1))  # exactly at since: inside
    changes.deploy("prod-a", t(2, 9))
    changes.deploy("prod-b", t(2, 15))  # same day
    changes.deploy("prod-a", t(10, 12))
    changes.deploy("prod-b", t(21))  # exactly at until: outside (exclusive)
    changes.deploy("prod-a", t(31, 23, month=10))  # before the window
    changes.deploy("prod-b", t(5), outcome=S.failed)  # not a deployment
    changes.add("prod-a", t(6))  # proposed only


def test_deployment_frequency_counts_changes_entering_applied_in_the_window(
    changes: Changes,
) -> None:
    frequency_scenario(changes)
    frequency = dora(changes).deployment_frequency
    assert frequency.deployments == 4
    assert frequency.per_day == pytest.approx(4 / 20)
    assert frequency.per_week == pytest.approx(4 / 20 * 7)
    assert frequency.deploy_days == 3  # 1, 2 and 10 November
    assert frequency.by_stack == (("prod-a", 3), ("prod-b", 1))
    assert frequency.band == "high"  # 1.4 a week: between once a day and once a week


def test_the_stack_option_keeps_one_stack(changes: Changes) -> None:
    frequency_scenario(changes)
    report = dora(changes, stack="prod-b")
    assert report.stack == "prod-b" and report.records == 3
    assert report.deployment_frequency.deployments == 1
    assert report.deployment_frequency.by_stack == (("prod-b", 1),)
    assert report.change_failure_rate.attempted == 2  # the deployment and the failure


def test_a_window_reaching_past_now_is_measured_up_to_now(changes: Changes) -> None:
    changes.deploy("prod-a", NOW - DAY)
    report = dora(changes, since=NOW - 7 * DAY, until=NOW + 7 * DAY)
    assert report.days == pytest.approx(7)
    assert report.deployment_frequency.per_day == pytest.approx(1 / 7)
    assert any("window ends after now" in note for note in report.notes)
    future = dora(changes, since=NOW + DAY, until=NOW + 8 * DAY)
    assert future.days == 0
    assert future.deployment_frequency.per_day is None
    assert future.deployment_frequency.band is None


def test_lead_time_runs_from_the_first_commit_or_else_the_proposal(changes: Changes) -> None:
    changes.deploy("prod-a", t(2, 12), commit="aaa1")  # 12 h after its first commit
    changes.deploy("prod-a", t(5), commit="aaa2")  # 48 h
    changes.deploy("prod-a", t(6, 6), proposed=t(6), commit="unknown")  # 6 h from proposal
    changes.deploy("prod-b", t(8), proposed=t(7))  # no commit: 24 h from proposal
    changes.deploy("prod-b", t(9, 1), commit="skew")  # first commit after the apply: 0 h
    changes.deploy("prod-b", t(25), commit="aaa1")  # outside the window: not asked
    source = FakeLeadTimes({"aaa1": t(2), "aaa2": t(3), "skew": t(9, 2)})
    lead = dora(changes, source).lead_time
    assert lead.changes == 5
    assert lead.median_hours == pytest.approx(12)
    assert lead.mean_hours == pytest.approx((12 + 48 + 6 + 24 + 0) / 5)
    assert lead.p90_hours == pytest.approx(24 + 0.6 * 24)  # sorted 0 6 12 24 48, rank 3.6
    assert (lead.from_git, lead.without_commit, lead.commit_not_resolved) == (3, 1, 1)
    assert lead.from_proposal == 2
    assert lead.band == "elite" and lead.source == source.description
    assert sorted(source.asked) == ["aaa1", "aaa2", "skew", "unknown"]
    notes = dora(changes, source).notes
    assert any(note.startswith("2 of 5 lead time(s) start at the proposal time") for note in notes)


def test_change_failure_rate_counts_each_attempted_change_once(changes: Changes) -> None:
    ok = changes.deploy("prod-a", t(2))
    failed = changes.deploy("prod-a", t(3), outcome=S.failed)
    retried = changes.add(
        "prod-b", t(4), [(S.applying, t(4)), (S.failed, t(4, 1)), (S.applying, t(4, 2))]
    )
    changes.ledger.transition(retried, S.applied, now=t(4, 3))
    rolled_back = changes.deploy("prod-b", t(5))
    changes.ledger.transition(rolled_back, S.rolled_back, now=t(6))
    old = changes.deploy("prod-c", t(30, month=10))  # applied before the window ...
    changes.ledger.transition(old, S.rolled_back, now=t(7))  # ... rolled back inside it
    failed_then_rolled_back = changes.deploy("prod-c", t(8), outcome=S.failed)
    changes.ledger.transition(failed_then_rolled_back, S.rolled_back, now=t(8, 1))
    late_rollback = changes.deploy("prod-a", t(20))
    changes.ledger.transition(late_rollback, S.rolled_back, now=t(23))  # after until
    changes.add("prod-a", t(9))  # never attempted
    changes.deploy("prod-a", t(22))  # attempted after the window

    rate = dora(changes).change_failure_rate
    assert rate.attempted == 6
    assert rate.failed_change_ids == (
        failed,
        retried,
        rolled_back,
        failed_then_rolled_back,
        late_rollback,
    )
    assert ok not in rate.failed_change_ids and old not in rate.failed_change_ids
    assert rate.failed == 5 and rate.rate == pytest.approx(5 / 6)
    assert rate.band == "low"


def test_time_to_restore_waits_for_the_next_applied_change_to_the_same_stack(
    changes: Changes,
) -> None:
    a = changes.deploy("prod-a", t(3), outcome=S.failed)
    changes.deploy("prod-b", t(3, 1))  # another stack: does not restore prod-a
    fix_a = changes.deploy("prod-a", t(3, 2))  # 2 h
    b = changes.add("prod-b", t(4), [(S.applying, t(4)), (S.failed, t(4)), (S.applying, t(4, 1))])
    changes.ledger.transition(b, S.applied, now=t(4, 3))  # the retry restores: 3 h
    c = changes.deploy("prod-c", t(5))
    changes.ledger.transition(c, S.rolled_back, now=t(5, 1))
    changes.deploy("prod-c", t(5, 5))  # 4 h after the rollback
    d = changes.deploy("prod-d", t(6), outcome=S.failed)
    changes.ledger.transition(d, S.rolled_back, now=t(6, 1))  # the same failure
    changes.deploy("prod-d", t(6, 10))  # 10 h after the failure
    e = changes.deploy("prod-e", t(20), outcome=S.failed)
    changes.deploy("prod-e", t(22))  # after until, before now: 48 h
    f = changes.deploy("prod-f", t(15), outcome=S.failed)  # never restored
    h = changes.deploy("prod-h", t(16), outcome=S.failed)
    changes.deploy("prod-h", NOW + DAY)  # after now: not known yet
    changes.deploy("prod-g", t(30, month=10), outcome=S.failed)  # before the window
    changes.deploy("prod-g", t(2))

    restore = dora(changes).time_to_restore
    assert [(x.change_id, x.state, x.hours) for x in restore.failures] == [
        (a, S.failed, 2),
        (b, S.failed, 3),
        (c, S.rolled_back, 4),
        (d, S.failed, 10),
        (f, S.failed, 12 * 24),
        (h, S.failed, 11 * 24),
        (e, S.failed, 48),
    ]
    assert restore.failures[0].restored_by == fix_a
    assert restore.failures[1].restored_by == b
    assert [x.change_id for x in restore.unresolved] == [f, h]
    assert all(x.restored_at is None and x.restored_by is None for x in restore.unresolved)
    assert restore.median_hours == pytest.approx(4)
    assert restore.max_hours == pytest.approx(48)
    assert restore.band == "high"


def test_emergency_changes_and_overdue_reviews(changes: Changes) -> None:
    overdue = changes.add("prod-a", t(2), change_type="emergency", review_due_at=t(4))
    old = changes.add(
        "prod-a", t(20, month=10), change_type="emergency", review_due_at=t(22, month=10)
    )
    reviewed = changes.add("prod-a", t(3), change_type="emergency", review_due_at=t(5))
    changes.ledger.record_review(reviewed, reviewer="lead@example.com", notes="ok", now=t(4))
    changes.add("prod-a", t(26), change_type="emergency", review_due_at=NOW + 2 * DAY)
    changes.add("prod-a", t(2), change_type="normal")
    emergency = dora(changes).emergency
    assert emergency.change_ids == (overdue, reviewed)
    assert emergency.overdue_review_ids == (overdue, old)
    assert emergency.as_dict()["reviews_overdue"] == 2


def test_an_emergency_regated_as_normal_is_counted_and_its_review_can_be_done(
    changes: Changes,
) -> None:
    change_id = changes.add("prod-a", t(2), change_type="emergency", review_due_at=t(4))
    changes.ledger.propose(
        "prod-a",
        changes.ledger.get(change_id).digest,
        risk_level="low",
        risk_score=3,
        change_type="normal",
        author="author@example.com",
        commit=None,
        summary={"update": 1},
        now=t(3),
    )
    emergency = dora(changes).emergency
    assert (emergency.change_ids, emergency.overdue_review_ids) == ((change_id,), (change_id,))
    changes.ledger.record_review(change_id, reviewer="lead@example.com", notes="ok", now=t(5))
    assert dora(changes).emergency.overdue_review_ids == ()


def test_a_what_if_emergency_is_not_an_emergency_change(changes: Changes) -> None:
    changes.ledger.propose(
        "prod-a",
        "e" * 64,
        risk_level="high",
        risk_score=60,
        change_type="emergency",
        author="author@example.com",
        commit=None,
        summary={"update": 1},
        emergency_reason="what if the disk fills",
        review_due_at=t(4),
        what_if=True,
        now=t(2),
    )
    emergency = dora(changes).emergency
    assert (emergency.change_ids, emergency.overdue_review_ids) == ((), ())


def test_without_deployments_the_rates_are_undefined_not_zero_divisions(
    changes: Changes,
) -> None:
    changes.add("prod-a", t(2))
    changes.add("prod-a", t(3), [(S.applying, t(3, 1))])
    report = dora(changes)
    assert report.deployment_frequency.deployments == 0
    assert report.deployment_frequency.per_day == 0 and report.deployment_frequency.band == "low"
    assert report.lead_time.median_hours is None and report.lead_time.band is None
    assert report.change_failure_rate.rate is None and report.change_failure_rate.band is None
    assert report.time_to_restore.median_hours is None and report.time_to_restore.band is None
    document = report.as_dict()
    json.dumps(document, allow_nan=False)
    assert document["lead_time"]["p90_hours"] is None
    assert document["change_failure_rate"]["rate"] is None
    assert document["time_to_restore"]["max_hours"] is None


def test_no_records_at_all_gives_zeros_and_a_note() -> None:
    report = compute_dora(
        [], {}, ProposalTimeOnly(), since=SINCE, until=UNTIL, now=NOW, notes=("from caller",)
    )
    assert report.records == 0 and report.deployment_frequency.deployments == 0
    assert report.change_failure_rate.attempted == 0
    assert report.notes == ("from caller", "no change records: every count is 0")


def test_a_failure_with_no_later_fix_is_unresolved_and_has_no_median(changes: Changes) -> None:
    failed = changes.deploy("prod-a", t(10), outcome=S.failed)
    restore = dora(changes).time_to_restore
    assert restore.median_hours is None and restore.max_hours is None and restore.band is None
    (open_failure,) = restore.unresolved
    assert open_failure.change_id == failed and open_failure.hours == pytest.approx(17 * 24)
    assert restore.as_dict()["events"][0]["restored_at"] is None


def test_state_times_stand_in_for_missing_history(changes: Changes) -> None:
    changes.deploy("prod-a", t(2))
    failed = changes.deploy("prod-a", t(3), outcome=S.failed)
    changes.ledger.transition(failed, S.rolled_back, now=t(3, 1))
    rolled_back = changes.deploy("prod-a", t(4))
    changes.ledger.transition(rolled_back, S.rolled_back, now=t(4, 2))
    changes.deploy("prod-a", t(5))
    records, history = changes.snapshot()
    source = ProposalTimeOnly()
    with_history = compute_dora(records, history, source, since=SINCE, until=UNTIL, now=NOW)
    without = compute_dora(records, {}, source, since=SINCE, until=UNTIL, now=NOW)
    assert without.as_dict() == with_history.as_dict()
    assert [f.state for f in without.time_to_restore.failures] == [S.failed, S.rolled_back]


@pytest.mark.parametrize(
    ("value", "band"),
    [
        (2.0, "elite"),
        (1.0, "elite"),
        (0.99, "high"),
        (1 / 7, "high"),
        (0.1, "medium"),
        (1 / 30, "medium"),
        (0.03, "low"),
        (0.0, "low"),
    ],
)
def test_deployment_frequency_bands(value: float, band: str) -> None:
    assert band_at_least(value, DORA_2023.deploys_per_day) == band


@pytest.mark.parametrize(
    ("hours", "band"),
    [
        (0.5, "elite"),
        (23.9, "elite"),
        (24, "high"),
        (167.9, "high"),
        (168, "medium"),
        (719, "medium"),
        (720, "low"),
        (5000, "low"),
    ],
)
def test_lead_time_bands(hours: float, band: str) -> None:
    assert band_below(hours, DORA_2023.lead_time_hours) == band


@pytest.mark.parametrize(
    ("rate", "band"),
    [
        (0.0, "elite"),
        (0.05, "elite"),
        (0.06, "high"),
        (0.10, "high"),
        (0.15, "medium"),
        (0.16, "low"),
        (1.0, "low"),
    ],
)
def test_change_failure_rate_bands(rate: float, band: str) -> None:
    assert band_at_most(rate, DORA_2023.change_failure_rate) == band


@pytest.mark.parametrize(
    ("hours", "band"),
    [(0.5, "elite"), (1, "high"), (23, "high"), (24, "medium"), (167, "medium"), (168, "low")],
)
def test_time_to_restore_bands(hours: float, band: str) -> None:
    assert band_below(hours, DORA_2023.restore_hours) == band


def test_thresholds_are_configurable_and_reported(changes: Changes) -> None:
    changes.deploy("prod-a", t(2), proposed=t(1))  # 24 h lead time: high by DORA 2023
    strict = BandThresholds(
        source="team goals",
        deploys_per_day=(10, 5, 1),
        lead_time_hours=(1, 2, 3),
        change_failure_rate=(0, 0, 0),
        restore_hours=(0.1, 0.2, 0.3),
    )
    assert dora(changes).lead_time.band == "high"
    report = dora(changes, thresholds=strict)
    assert report.lead_time.band == "low" and report.deployment_frequency.band == "low"
    assert report.as_dict()["thresholds"] == {
        "source": "team goals",
        "deployments_per_day_at_least": {"elite": 10, "high": 5, "medium": 1},
        "lead_time_hours_below": {"elite": 1, "high": 2, "medium": 3},
        "change_failure_rate_at_most": {"elite": 0, "high": 0, "medium": 0},
        "time_to_restore_hours_below": {"elite": 0.1, "high": 0.2, "medium": 0.3},
    }


def test_the_json_document_has_stable_keys(changes: Changes) -> None:
    frequency_scenario(changes)
    document = dora(changes).as_dict()
    assert list(document) == [
        "schema",
        "generated_at",
        "window",
        "stack",
        "records",
        "deployment_frequency",
        "lead_time",
        "change_failure_rate",
        "time_to_restore",
        "emergency_changes",
        "thresholds",
        "notes",
        "source",
    ]
    assert document["schema"] == "sre-platform/dora-report/v1"
    assert document["generated_at"] == "2026-11-27T00:00:00Z"
    assert document["window"] == {
        "since": "2026-11-01T00:00:00Z",
        "until": "2026-11-21T00:00:00Z",
        "days": 20.0,
    }
    assert list(document["deployment_frequency"]) == [
        "deployments",
        "per_day",
        "per_week",
        "deploy_days",
        "by_stack",
        "band",
        "definition",
    ]
    assert list(document["lead_time"]) == [
        "changes",
        "median_hours",
        "p90_hours",
        "mean_hours",
        "from_git",
        "from_proposal",
        "fallbacks",
        "source",
        "band",
        "definition",
    ]
    assert list(document["change_failure_rate"]) == [
        "attempted",
        "failed",
        "rate",
        "failed_change_ids",
        "band",
        "definition",
    ]
    assert list(document["time_to_restore"]) == [
        "failures",
        "restored",
        "unresolved",
        "median_hours",
        "max_hours",
        "band",
        "definition",
        "events",
    ]
    assert list(document["time_to_restore"]["events"][0]) == [
        "change_id",
        "stack",
        "state",
        "failed_at",
        "restored_at",
        "restored_by",
        "hours",
    ]
    assert list(document["emergency_changes"]) == [
        "changes",
        "change_ids",
        "reviews_overdue",
        "overdue_change_ids",
        "definition",
    ]
    assert document["deployment_frequency"]["per_day"] == 0.2
    assert document["deployment_frequency"]["by_stack"] == {"prod-a": 3, "prod-b": 1}


@pytest.mark.parametrize(
    ("since", "until", "now", "message"),
    [
        (datetime(2026, 11, 1), UNTIL, NOW, "since must be timezone-aware"),
        (SINCE, UNTIL, datetime(2026, 11, 27), "now must be timezone-aware"),
        (UNTIL, UNTIL, NOW, "the window is empty"),
        (UNTIL, SINCE, NOW, "the window is empty"),
    ],
)
def test_bad_windows_are_refused(
    since: datetime, until: datetime, now: datetime, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        compute_dora([], {}, ProposalTimeOnly(), since=since, until=until, now=now)


@pytest.mark.parametrize("count", [1, 2, 5, 10, 11])
def test_percentile_interpolates_like_statistics_inclusive(count: int) -> None:
    values = [float(v * v % 17) for v in range(count)]
    assert percentile(values, 0.5) == pytest.approx(statistics.median(values))
    if count > 1:
        deciles = statistics.quantiles(values, n=10, method="inclusive")
        assert percentile(values, 0.9) == pytest.approx(deciles[8])
    assert percentile(values, 1.0) == max(values) and percentile(values, 0.0) == min(values)


# -- properties over random histories ----------------------------------------------------

START = t(15, month=10)
LATER = datetime(2027, 1, 1, tzinfo=UTC)
_ORDER = list(ChangeState)


@st.composite
def histories(draw: st.DrawFn) -> tuple[list[ChangeRecord], dict[int, list[Transition]]]:
    records: list[ChangeRecord] = []
    history: dict[int, list[Transition]] = {}
    for change_id in range(1, draw(st.integers(0, 8)) + 1):
        at = START + timedelta(minutes=draw(st.integers(0, 60 * 24 * 40)))
        moves = [Transition(change_id=change_id, from_state=None, to_state=S.proposed, at=at)]
        state = S.proposed
        for _ in range(draw(st.integers(0, 6))):
            allowed = sorted(TRANSITIONS[state], key=_ORDER.index)
            if not allowed:
                break
            target = draw(st.sampled_from(allowed))
            at += timedelta(minutes=draw(st.integers(1, 3000)))
            moves.append(Transition(change_id=change_id, from_state=state, to_state=target, at=at))
            state = target
        records.append(
            ChangeRecord(
                id=change_id,
                stack=draw(st.sampled_from(["prod-a", "prod-b"])),
                digest=f"{change_id:064x}",
                risk_level="low",
                risk_score=1,
                change_type=draw(st.sampled_from(["standard", "emergency"])),
                author=None,
                commit=draw(st.sampled_from([None, "known", "unknown"])),
                emergency_reason=None,
                ticket_key=None,
                summary={},
                state=state,
                state_times={m.to_state: m.at for m in moves},
                created_at=moves[0].at,
                updated_at=at,
            )
        )
        history[change_id] = moves
    return records, history


@settings(max_examples=100, deadline=None)
@given(histories())
def test_invariants_hold_for_any_history(
    data: tuple[list[ChangeRecord], dict[int, list[Transition]]],
) -> None:
    records, history = data
    source = FakeLeadTimes({"known": START})
    report = compute_dora(records, history, source, since=SINCE, until=UNTIL, now=LATER)
    frequency, lead = report.deployment_frequency, report.lead_time
    rate, restore = report.change_failure_rate, report.time_to_restore
    assert frequency.deployments == lead.changes == sum(n for _, n in frequency.by_stack)
    assert frequency.deploy_days <= frequency.deployments
    assert lead.from_git + lead.from_proposal == lead.changes
    if lead.changes:
        assert lead.median_hours is not None and lead.p90_hours is not None
        assert 0 <= lead.median_hours <= lead.p90_hours + 1e-9
    assert 0 <= rate.failed <= rate.attempted
    assert (rate.rate is None) == (rate.attempted == 0)
    assert rate.rate is None or 0 <= rate.rate <= 1
    assert len(restore.restored) + len(restore.unresolved) == len(restore.failures)
    for failure in restore.restored:
        assert failure.restored_at is not None and failure.failed_at < failure.restored_at
    if restore.median_hours is not None:
        assert restore.max_hours is not None and restore.median_hours <= restore.max_hours
    json.dumps(report.as_dict(), allow_nan=False)
    shuffled = {k: random.Random(k).sample(v, len(v)) for k, v in history.items()}
    again = compute_dora(records, shuffled, source, since=SINCE, until=UNTIL, now=LATER)
    assert again.as_dict() == report.as_dict()
