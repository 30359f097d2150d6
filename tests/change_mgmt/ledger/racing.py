"""Run one worker function in several spawned processes that start together (a barrier)
and report ``(who, status, data)`` on a queue: the harness of the ledger's race tests."""

from __future__ import annotations

import multiprocessing
import queue
from collections.abc import Callable
from typing import Any

import pytest


def race(
    target: Callable[..., None],
    args: Callable[[int], tuple[Any, ...]],
    *,
    processes: int = 2,
    timeout: float = 60,
) -> list[Any]:
    """``target(*args(who), barrier, results)`` in ``processes`` processes; the data each
    reported, in the order of ``who``. Any worker's error or a non-zero exit fails."""
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(processes)
    results = ctx.Queue()
    started = [
        ctx.Process(target=target, args=(*args(who), barrier, results)) for who in range(processes)
    ]
    for process in started:
        process.start()
    try:
        outcomes = sorted(results.get(timeout=timeout) for _ in started)
    except queue.Empty:
        pytest.fail(f"a racing process did not report within {timeout:g} s")
    finally:
        for process in started:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
                process.join()
    errors = [detail for _, status, detail in outcomes if status != "ok"]
    assert not errors, "\n".join(errors)
    assert [process.exitcode for process in started] == [0] * processes
    return [data for _, _, data in outcomes]
