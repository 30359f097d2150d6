"""Timeouts, retries and the never-blindly-retried create, against faults of the fake Jira."""

from __future__ import annotations

import logging
import socket
from email.utils import formatdate

import pytest
from pydantic import SecretStr

from change_mgmt.tickets import (
    NO_RETRY,
    DataCenterAuth,
    JiraClient,
    JiraCreateUncertain,
    JiraError,
    JiraUnavailable,
    RetryPolicy,
    retry_after_seconds,
)
from tests.change_mgmt.tickets.conftest import CHANGE, TIMEOUT, FakeTime, MakeClient
from tests.fakes.jira import DEFAULT_API_TOKEN, DEFAULT_PAT, FakeJira, Fault

CREATE = "/rest/api/2/issue"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# --- Retry-After and backoff --------------------------------------------------------------


def test_429_is_retried_after_the_retry_after_seconds(
    jira: FakeJira, client: JiraClient, fake_time: FakeTime
) -> None:
    jira.inject(Fault.rate_limited("7", path="/field"))
    assert client.field_id("Change risk") == "customfield_10042"
    assert fake_time.sleeps == [7.0]
    assert len(jira.requests_to("GET", "/rest/api/2/field")) == 2


def test_retry_after_as_an_http_date(
    jira: FakeJira, client: JiraClient, fake_time: FakeTime
) -> None:
    jira.inject(Fault.rate_limited(formatdate(fake_time.now + 5, usegmt=True)))
    client.fields()
    assert fake_time.sleeps == [pytest.approx(5.0)]


def test_retry_after_is_capped(
    jira: FakeJira, make_client: MakeClient, fake_time: FakeTime
) -> None:
    jira.inject(Fault.rate_limited("3600"))
    make_client(jira, retry=RetryPolicy(max_delay=12, max_total=100)).fields()
    assert fake_time.sleeps == [12.0]


def test_503_without_retry_after_backs_off_exponentially(
    jira: FakeJira, make_client: MakeClient, fake_time: FakeTime
) -> None:
    jira.inject(Fault.unavailable(times=3))
    jitters = iter([1.0, 0.0, 0.5])
    client = make_client(
        jira, retry=RetryPolicy(attempts=4, base_delay=1.0), jitter=lambda: next(jitters)
    )
    client.fields()
    # base · 2^(n-1), scaled by 0.5 + jitter/2
    assert fake_time.sleeps == [1.0, 1.0, 3.0]
    assert len(jira.requests) == 4


@pytest.mark.parametrize("status", [502, 504])
def test_gateway_errors_are_retried_for_reads(
    jira: FakeJira, client: JiraClient, fake_time: FakeTime, status: int
) -> None:
    jira.inject(Fault.error(status))
    client.fields()
    assert len(fake_time.sleeps) == 1


def test_gives_up_after_the_attempts(
    jira: FakeJira, make_client: MakeClient, fake_time: FakeTime
) -> None:
    jira.inject(Fault.unavailable("2", times=10))
    client = make_client(jira, retry=RetryPolicy(attempts=3))
    with pytest.raises(JiraUnavailable) as caught:
        client.get_issue("OPS-1")
    assert caught.value.status == 503
    assert fake_time.sleeps == [2.0, 2.0]
    assert len(jira.requests) == 3
    assert "HTTP 503" in str(caught.value) and "3 time(s)" in str(caught.value)
    assert "Retry-After: 2" in str(caught.value)


def test_gives_up_when_waiting_would_pass_the_total_bound(
    jira: FakeJira, make_client: MakeClient, fake_time: FakeTime
) -> None:
    jira.inject(Fault.rate_limited("20", times=10))
    client = make_client(jira, retry=RetryPolicy(attempts=10, max_delay=30, max_total=30))
    with pytest.raises(JiraUnavailable, match="HTTP 429") as caught:
        client.fields()
    assert fake_time.sleeps == [20.0]  # a second wait would end at 40 s > 30 s
    assert len(jira.requests) == 2
    assert caught.value.messages == ("Rate limit exceeded.",)


def test_no_retry_policy(jira: FakeJira, make_client: MakeClient, fake_time: FakeTime) -> None:
    jira.inject(Fault.rate_limited("1"))
    with pytest.raises(JiraUnavailable):
        make_client(jira, retry=NO_RETRY).fields()
    assert fake_time.sleeps == []


def test_retries_are_logged_without_secrets(
    jira: FakeJira, client: JiraClient, caplog: pytest.LogCaptureFixture
) -> None:
    jira.inject(Fault.rate_limited("1"))
    with caplog.at_level(logging.DEBUG):
        client.fields()
    assert "answered HTTP 429; retry 1 of 3 in 1.00 s" in caplog.text
    assert "Basic " not in caplog.text and "Bearer " not in caplog.text
    assert DEFAULT_API_TOKEN not in caplog.text and DEFAULT_PAT not in caplog.text


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("120", 120.0),
        ("0", 0.0),
        (" 2.5 ", 2.5),
        ("Fri, 27 Nov 2026 09:00:30 GMT", 30.0),
        ("Fri, 27 Nov 2026 08:00:00 GMT", 0.0),  # in the past: go now
        (None, None),
        ("", None),
        ("-3", None),
        ("soon", None),
        ("Fri, 27 Nov 2026 09:00:30 -0000", None),  # no zone: unreadable
    ],
)
def test_retry_after_values(header: str | None, expected: float | None) -> None:
    assert retry_after_seconds(header, 1_795_770_000.0) == expected


def test_retry_policy_is_validated() -> None:
    with pytest.raises(ValueError, match="attempts"):
        RetryPolicy(attempts=0)
    with pytest.raises(ValueError, match="max_total"):
        RetryPolicy(max_total=-1)


# --- create is never retried blindly ------------------------------------------------------


def test_create_whose_answer_is_lost_is_uncertain(
    jira: FakeJira, client: JiraClient, fake_time: FakeTime
) -> None:
    jira.inject(Fault.lost_response())
    with pytest.raises(JiraCreateUncertain, match="search for it") as caught:
        client.create_issue({**CHANGE, "summary": "lost", "labels": ["sre-change-d1"]})
    assert caught.value.status is None
    assert len(jira.requests_to("POST", CREATE)) == 1
    assert fake_time.sleeps == []
    # the issue does exist: the caller finds it by its label before creating again
    assert [i.summary for i in jira.issues.values()] == ["lost"]
    found = list(client.search('project = OPS AND labels = "sre-change-d1"'))
    assert [i.fields.summary for i in found] == ["lost"]


def test_slow_create_is_uncertain(jira: FakeJira, client: JiraClient) -> None:
    jira.inject(Fault.slow(TIMEOUT * 4, path=f"{CREATE}$"))
    with pytest.raises(JiraCreateUncertain, match=f"timed out after {TIMEOUT:g} s"):
        client.create_issue({**CHANGE, "summary": "slow"})
    assert len(jira.requests_to("POST", CREATE)) == 1


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_create_answered_5xx_is_uncertain_and_not_retried(
    jira: FakeJira, client: JiraClient, fake_time: FakeTime, status: int
) -> None:
    jira.inject(Fault.error(status, ["Post function failed"], path=f"{CREATE}$"))
    with pytest.raises(JiraCreateUncertain) as caught:
        client.create_issue({**CHANGE, "summary": "x"})
    assert caught.value.status == status
    assert caught.value.messages == ("Post function failed",)
    assert len(jira.requests_to("POST", CREATE)) == 1
    assert fake_time.sleeps == []


def test_create_rate_limited_is_retried(
    jira: FakeJira, client: JiraClient, fake_time: FakeTime
) -> None:
    """A 429 says the request was refused unprocessed: sending it again is not blind."""
    jira.inject(Fault.rate_limited("4", path=f"{CREATE}$"))
    ref = client.create_issue({**CHANGE, "summary": "x"})
    assert ref.key == "OPS-1"
    assert fake_time.sleeps == [4.0]
    assert len(jira.requests_to("POST", CREATE)) == 2
    assert len(jira.issues) == 1


def test_create_to_an_unreachable_site_is_certainly_not_created() -> None:
    auth = DataCenterAuth(token=SecretStr(DEFAULT_PAT))
    client = JiraClient(
        f"http://127.0.0.1:{free_port()}", auth, timeout=TIMEOUT, sleep=lambda _: None
    )
    with pytest.raises(JiraUnavailable, match="unreachable") as caught:
        client.create_issue({**CHANGE, "summary": "x"})
    assert not isinstance(caught.value, JiraCreateUncertain)
    client.close()


# --- other writes and reads ---------------------------------------------------------------


def test_slow_read_times_out(jira: FakeJira, client: JiraClient) -> None:
    jira.inject(Fault.slow(TIMEOUT * 4))
    with pytest.raises(JiraUnavailable, match=f"timed out after {TIMEOUT:g} s") as caught:
        client.get_issue("OPS-1")
    assert caught.value.status is None


def test_comment_is_not_retried_after_a_gateway_error(
    jira: FakeJira, client: JiraClient, fake_time: FakeTime
) -> None:
    key = client.create_issue({**CHANGE, "summary": "x"}).key
    jira.inject(Fault.error(502, method="POST", path="/comment$"))
    with pytest.raises(JiraUnavailable, match="may have been applied") as caught:
        client.add_comment(key, "hello")
    assert caught.value.status == 502
    assert fake_time.sleeps == []
    assert len(jira.requests_to("POST", r".*/comment")) == 1


def test_comment_is_retried_after_503(
    jira: FakeJira, client: JiraClient, fake_time: FakeTime
) -> None:
    key = client.create_issue({**CHANGE, "summary": "x"}).key
    jira.inject(Fault.unavailable("1", method="POST", path="/comment$"))
    client.add_comment(key, "hello")
    assert fake_time.sleeps == [1.0]
    assert [c.body for c in jira.issue(key).comments] == ["hello"]


def test_lost_answer_of_a_comment_is_unavailable_not_uncertain_create(
    jira: FakeJira, client: JiraClient
) -> None:
    key = client.create_issue({**CHANGE, "summary": "x"}).key
    jira.inject(Fault.lost_response(method="POST", path="/comment$"))
    with pytest.raises(JiraUnavailable, match="may have been applied"):
        client.add_comment(key, "hello")
    assert len(jira.issue(key).comments) == 1


def test_the_bound_holds_for_search_pages(
    cloud_jira: FakeJira, make_client: MakeClient, fake_time: FakeTime
) -> None:
    cloud_jira.max_page_size = 1
    for n in range(3):
        cloud_jira.add_issue(f"c{n}")
    cloud_jira.inject(Fault.unavailable("1", path="/search/jql", times=2))
    found = list(make_client(cloud_jira).search("project = OPS", page_size=1))
    assert len(found) == 3
    assert fake_time.sleeps == [1.0, 1.0]


def test_error_is_a_jira_error(jira: FakeJira, client: JiraClient) -> None:
    """Every failure above is a JiraError, so one except clause fails closed."""
    jira.inject(Fault.unavailable(times=10))
    with pytest.raises(JiraError):
        client.fields()
