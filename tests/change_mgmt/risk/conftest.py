"""Fixtures for the risk adapters: a fake Prometheus on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.prometheus import FakePrometheus


@pytest.fixture
def fake_prometheus() -> Iterator[FakePrometheus]:
    with FakePrometheus() as fake:
        yield fake
