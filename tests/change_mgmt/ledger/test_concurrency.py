"""Two real OS processes racing on one ledger file: one record per change, one winner.

Spawning a Python process costs most of a second, so one pair of processes runs every
scenario (each on its own ledger file, in step through a barrier) and the tests below
check what each scenario left behind.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from change_mgmt.ledger import ChangeState, Ledger
from tests.change_mgmt.ledger import racing, workers

ROUNDS = {"same_change": 20, "many_changes": 40, "start_applying": 20}
Results = dict[str, tuple[Any, Any]]


def race(jobs: list[tuple[str, Path, int]]) -> Results:
    """Run the scenarios in two spawned processes; scenario → (result of 0, result of 1)."""
    plan = [(scenario, str(path), rounds) for scenario, path, rounds in jobs]
    first, second = racing.race(workers.run, lambda who: (plan, who))
    return {scenario: (first[scenario], second[scenario]) for scenario, _, _ in jobs}


@pytest.fixture(scope="module")
def paths(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("race")
    # same_change: the file does not exist yet, so both processes also race to create it.
    return {scenario: base / scenario / "ledger.sqlite3" for scenario in ROUNDS}


@pytest.fixture(scope="module")
def raced(paths: dict[str, Path]) -> Results:
    ledger = Ledger(paths["start_applying"])
    for n in range(ROUNDS["start_applying"]):
        workers._propose(ledger, n, who=9)
    return race([(scenario, paths[scenario], rounds) for scenario, rounds in ROUNDS.items()])


def test_racing_proposals_of_one_change_make_one_record(
    raced: Results, paths: dict[str, Path]
) -> None:
    first, second = raced["same_change"]
    assert first == second  # both got the same id in every round
    records = Ledger(paths["same_change"]).list()
    assert len(records) == ROUNDS["same_change"] == len(set(first))
    assert {r.digest for r in records} == {workers.digest(n) for n in range(ROUNDS["same_change"])}


def test_racing_proposals_of_many_changes_make_one_record_each(
    raced: Results, paths: dict[str, Path]
) -> None:
    first, second = raced["many_changes"]
    assert first == second
    records = Ledger(paths["many_changes"]).list()
    count = ROUNDS["many_changes"]
    assert len(records) == count
    assert sorted(r.id for r in records) == sorted(first.values()) == list(range(1, count + 1))


def test_only_one_process_moves_a_change_to_applying(
    raced: Results, paths: dict[str, Path]
) -> None:
    first, second = raced["start_applying"]
    assert [a + b for a, b in zip(first, second, strict=True)] == [1] * ROUNDS["start_applying"]
    ledger = Ledger(paths["start_applying"])
    assert {r.state for r in ledger.list()} == {ChangeState.applying}
    assert all(len(ledger.history(r.id)) == 2 for r in ledger.list())
