"""Fixtures for the Jira client: fake Jira sites on loopback, a fake clock, clients."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from change_mgmt.tickets.auth import CloudAuth, DataCenterAuth
from change_mgmt.tickets.jira import JiraClient, RetryPolicy
from tests.fakes.jira import DEFAULT_API_TOKEN, DEFAULT_EMAIL, DEFAULT_PAT, FakeJira

TIMEOUT = 0.3
"""Short enough that slow-answer tests stay fast, long enough for a busy CI machine."""

CHANGE = {"project": {"key": "OPS"}, "issuetype": {"name": "Change"}}


@dataclass
class FakeTime:
    """An injected clock and sleep: sleeping advances the clock, nothing really waits."""

    now: float = 1_795_770_000.0  # 2026-11-27T09:00:00Z
    sleeps: list[float] = field(default_factory=list)

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def auth_for(fake: FakeJira) -> CloudAuth | DataCenterAuth:
    """The right credentials for the fake's flavour."""
    if fake.flavor == "cloud":
        return CloudAuth(email=DEFAULT_EMAIL, api_token=SecretStr(DEFAULT_API_TOKEN))
    return DataCenterAuth(token=SecretStr(DEFAULT_PAT))


@pytest.fixture(scope="session")
def shared_client() -> Iterator[httpx.Client]:
    """One httpx client for all tests: making one loads the CA bundle, slow on busy machines."""
    with httpx.Client() as client:
        yield client


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture(params=["cloud", "data-center"])
def jira(request: pytest.FixtureRequest) -> Iterator[FakeJira]:
    """A fake Jira site, once as Cloud and once as Data Center."""
    with FakeJira(request.param) as fake:
        yield fake


@pytest.fixture
def cloud_jira() -> Iterator[FakeJira]:
    with FakeJira.cloud() as fake:
        yield fake


@pytest.fixture
def dc_jira() -> Iterator[FakeJira]:
    with FakeJira.data_center() as fake:
        yield fake


MakeClient = Callable[..., JiraClient]


@pytest.fixture
def make_client(fake_time: FakeTime, shared_client: httpx.Client) -> MakeClient:
    """Clients for a fake: right auth unless given, short timeout, fake time, no jitter."""

    def make(fake: FakeJira, **kwargs: Any) -> JiraClient:
        kwargs.setdefault("timeout", TIMEOUT)
        kwargs.setdefault("client", shared_client)
        kwargs.setdefault("sleep", fake_time.sleep)
        kwargs.setdefault("clock", fake_time.clock)
        kwargs.setdefault("jitter", lambda: 1.0)
        kwargs.setdefault("retry", RetryPolicy())
        return JiraClient(fake.url, kwargs.pop("auth", None) or auth_for(fake), **kwargs)

    return make


@pytest.fixture
def client(jira: FakeJira, make_client: MakeClient) -> JiraClient:
    return make_client(jira)
