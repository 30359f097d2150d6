"""The Prometheus error-budget adapter against a fake Prometheus over real loopback HTTP."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from change_mgmt.risk.error_budget import (
    BudgetReading,
    ErrorBudgetSource,
    PrometheusErrorBudget,
    budget_query,
)
from change_mgmt.slo import load_slo_file, slo_rule_groups, windows_for
from tests.conftest import REPO_ROOT
from tests.fakes.prometheus import Answer, FakePrometheus

TIMEOUT = 0.3


Budget = Callable[..., PrometheusErrorBudget]


@pytest.fixture(scope="module")
def shared_client() -> Iterator[httpx.Client]:
    """One client for the module: making one loads the CA bundle, slow on a busy machine."""
    with httpx.Client() as client:
        yield client


@pytest.fixture
def budget(fake_prometheus: FakePrometheus, shared_client: httpx.Client) -> Budget:
    """Sources for the fake with a short timeout and the shared client."""

    def make(**kwargs: Any) -> PrometheusErrorBudget:
        kwargs.setdefault("timeout", TIMEOUT)
        kwargs.setdefault("client", shared_client)
        return PrometheusErrorBudget(fake_prometheus.url, **kwargs)

    return make


def free_port() -> int:
    """A loopback port with nothing listening (bound, noted, closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# --- known readings ---------------------------------------------------------------------


def test_one_sample_is_the_remaining_budget(
    fake_prometheus: FakePrometheus, budget: Budget
) -> None:
    fake_prometheus.answers["api"] = Answer.value(0.75)
    reading = budget().remaining("api")
    assert reading == BudgetReading("api", 0.75, None, reading.query)
    assert reading.known
    assert not reading.exhausted


@pytest.mark.parametrize("value", ["0", "-0.4"])
def test_zero_or_negative_budget_is_exhausted(
    fake_prometheus: FakePrometheus, value: str, budget: Budget
) -> None:
    fake_prometheus.answers["api"] = Answer.vector(value)
    reading = budget().remaining("api")
    assert reading.remaining == float(value)
    assert reading.known
    assert reading.exhausted


def test_several_series_give_the_worst_one(fake_prometheus: FakePrometheus, budget: Budget) -> None:
    fake_prometheus.answers["api"] = Answer.vector("0.9", "0.12", "0.5")
    reading = budget().remaining("api")
    assert reading.remaining == 0.12
    assert reading.problem is None


def test_a_scalar_result_is_read_too(fake_prometheus: FakePrometheus, budget: Budget) -> None:
    fake_prometheus.answers["api"] = Answer.scalar("0.3")
    assert budget().remaining("api").remaining == 0.3


def test_answers_are_per_service(fake_prometheus: FakePrometheus, budget: Budget) -> None:
    fake_prometheus.answers.update(api=Answer.value(0.8), push=Answer.value(-1))
    source: ErrorBudgetSource = budget()
    assert source.remaining("api").remaining == 0.8
    assert source.remaining("push").exhausted


# --- what is sent -----------------------------------------------------------------------


def test_the_query_sent_is_the_slos_budget_series(
    fake_prometheus: FakePrometheus, budget: Budget
) -> None:
    fake_prometheus.answers["mattermost-api-requests-availability"] = Answer.value(1)
    reading = budget().remaining("mattermost-api-requests-availability")
    expected = (
        'slo:period_error_budget_remaining:ratio{sloth_id="mattermost-api-requests-availability"}'
    )
    assert fake_prometheus.queries == [expected]
    assert reading.query == expected == budget_query("mattermost-api-requests-availability")
    assert reading.slo == reading.service == "mattermost-api-requests-availability"
    assert fake_prometheus.requests[0].path == "/api/v1/query"
    assert fake_prometheus.requests[0].time is None, "no time: Prometheus answers for its now"


def test_the_query_reads_the_series_the_slo_rules_record() -> None:
    (slo,) = load_slo_file(REPO_ROOT / "slos" / "mattermost-api.yaml").slos
    recorded = [
        rule
        for group in slo_rule_groups(slo, windows_for())
        for rule in group["rules"]
        if rule.get("record") == "slo:period_error_budget_remaining:ratio"
    ]
    assert [r["labels"]["sloth_id"] for r in recorded] == [slo.id]
    assert budget_query(slo.id).startswith(recorded[0]["record"] + "{")


@pytest.mark.parametrize(
    "at",
    [
        datetime(2026, 11, 25, 10, 30, tzinfo=UTC),
        datetime(2026, 11, 25, 11, 30, tzinfo=timezone(timedelta(hours=1))),
    ],
)
def test_a_moment_is_sent_as_the_evaluation_time(
    fake_prometheus: FakePrometheus, budget: Budget, at: datetime
) -> None:
    fake_prometheus.answers["api-x"] = Answer.value(0.5)
    assert budget(at=at).remaining("api-x").remaining == 0.5
    assert fake_prometheus.requests[0].time == "1795602600.000"  # 2026-11-25T10:30:00Z


def test_a_path_prefix_is_kept(
    fake_prometheus: FakePrometheus, shared_client: httpx.Client
) -> None:
    fake_prometheus.answers["chat.api-v2"] = Answer.value(0.5)
    url = fake_prometheus.url + "/prometheus/"
    source = PrometheusErrorBudget(url, timeout=TIMEOUT, client=shared_client)
    assert source.remaining("chat.api-v2").remaining == 0.5
    assert fake_prometheus.requests[0].path == "/prometheus/api/v1/query"


@pytest.mark.parametrize(
    "service",
    ['api"} or vector(1) or up{x="', "api service", "", "api\n", "api}", "a\\b", "ápi", "a:b"],
)
def test_an_unsafe_slo_id_is_refused_without_a_request(
    fake_prometheus: FakePrometheus, service: str, budget: Budget
) -> None:
    reading = budget().remaining(service)
    assert not reading.known
    assert reading.problem is not None
    assert "refused SLO id" in reading.problem
    assert reading.query == ""
    assert fake_prometheus.requests == []


def test_headers_are_sent_and_never_echoed(fake_prometheus: FakePrometheus, budget: Budget) -> None:
    token = "glsa_s3cr3t-token-value"
    # A misbehaving proxy that echoes the credential back in its error text.
    fake_prometheus.answers["api"] = Answer.error(401, "unauthorized", f"bad token Bearer {token}")
    source = budget(headers={"Authorization": f"Bearer {token}"})
    reading = source.remaining("api")
    assert fake_prometheus.requests[0].headers["Authorization"] == f"Bearer {token}"
    assert reading.problem is not None
    assert "HTTP 401" in reading.problem
    assert token not in reading.problem
    assert "[redacted]" in reading.problem


def test_url_credentials_never_appear_in_problems(shared_client: httpx.Client) -> None:
    source = PrometheusErrorBudget(
        f"http://bob:hunter2hunter2@127.0.0.1:{free_port()}",
        timeout=TIMEOUT,
        client=shared_client,
    )
    problem = source.remaining("api").problem
    assert problem is not None
    assert "hunter2" not in problem
    assert "bob" not in problem


# --- unknown readings -------------------------------------------------------------------


def test_an_empty_vector_is_no_data(fake_prometheus: FakePrometheus, budget: Budget) -> None:
    fake_prometheus.answers["api"] = Answer.empty()
    reading = budget().remaining("api")
    assert reading.remaining is None
    assert reading.problem == (
        "no data for SLO api: no slo:period_error_budget_remaining:ratio series with this "
        "sloth_id (are its rules deployed?)"
    )
    assert not reading.exhausted


def test_an_slo_prometheus_has_never_seen_is_no_data_and_says_when(
    fake_prometheus: FakePrometheus, budget: Budget
) -> None:
    at = datetime(2026, 11, 25, 10, 30, tzinfo=UTC)
    problem = budget(at=at).remaining("ghost").problem
    assert problem is not None
    assert problem.startswith("no data for SLO ghost at 2026-11-25T10:30:00+00:00: ")


@pytest.mark.parametrize("value", ["NaN", "+Inf", "-Inf"])
def test_non_finite_values_are_unknown(
    fake_prometheus: FakePrometheus, value: str, budget: Budget
) -> None:
    fake_prometheus.answers["api"] = Answer.vector(value)
    reading = budget().remaining("api")
    assert reading.remaining is None
    assert reading.problem is not None
    assert value in reading.problem


def test_one_nan_series_among_several_makes_the_reading_unknown(
    fake_prometheus: FakePrometheus, budget: Budget
) -> None:
    fake_prometheus.answers["api"] = Answer.vector("0.9", "NaN")
    assert not budget().remaining("api").known


def test_nan_says_why_it_may_happen(fake_prometheus: FakePrometheus, budget: Budget) -> None:
    fake_prometheus.answers["api"] = Answer.nan()
    problem = budget().remaining("api").problem
    assert problem == "remaining budget of SLO api is NaN (no requests in the window?)"


def test_an_error_envelope_with_422_gives_status_and_error(
    fake_prometheus: FakePrometheus, budget: Budget
) -> None:
    fake_prometheus.answers["api"] = Answer.error(
        422, "execution", "query processing would load too many samples into memory"
    )
    reading = budget().remaining("api")
    assert not reading.known
    assert reading.problem == (
        f"Prometheus at {fake_prometheus.url} answered HTTP 422: "
        "execution: query processing would load too many samples into memory"
    )


def test_an_error_envelope_with_a_success_status_is_still_an_error(
    fake_prometheus: FakePrometheus, budget: Budget
) -> None:
    fake_prometheus.answers["api"] = Answer.error(200, "bad_data", "parse error")
    reading = budget().remaining("api")
    assert reading.problem == "Prometheus query failed with bad_data: parse error"


def test_503_with_the_json_envelope(fake_prometheus: FakePrometheus, budget: Budget) -> None:
    fake_prometheus.answers["api"] = Answer.error(503, "timeout", "query timed out in expression")
    problem = budget().remaining("api").problem
    assert problem == (
        f"Prometheus at {fake_prometheus.url} answered HTTP 503: timeout: query timed out in expression"
    )


def test_503_in_plain_text(fake_prometheus: FakePrometheus, budget: Budget) -> None:
    fake_prometheus.answers["api"] = Answer.unavailable()
    problem = budget().remaining("api").problem
    assert problem == f"Prometheus at {fake_prometheus.url} answered HTTP 503"


def test_a_body_that_is_not_json_is_malformed(
    fake_prometheus: FakePrometheus, budget: Budget
) -> None:
    fake_prometheus.answers["api"] = Answer.not_json()
    problem = budget().remaining("api").problem
    assert (
        problem == f"malformed response from Prometheus at {fake_prometheus.url}: body is not JSON"
    )


@pytest.mark.parametrize(
    "payload",
    [
        {"status": "success", "data": {"resultType": "vector", "result": [{"metric": {}}]}},
        {
            "status": "success",
            "data": {"resultType": "vector", "result": [{"metric": {}, "value": [1, 0.5]}]},
        },
        {"status": "success", "data": {"resultType": "table", "result": []}},
        {"status": "ok"},
        [1, 2, 3],
    ],
)
def test_json_of_the_wrong_shape_is_malformed(
    fake_prometheus: FakePrometheus, payload: object, budget: Budget
) -> None:
    fake_prometheus.answers["api"] = Answer.envelope(payload)  # type: ignore[arg-type]
    problem = budget().remaining("api").problem
    assert problem is not None
    assert problem.startswith("malformed response")


def test_a_sample_value_that_is_not_a_number_is_malformed(
    fake_prometheus: FakePrometheus, budget: Budget
) -> None:
    fake_prometheus.answers["api"] = Answer.vector("lots")
    problem = budget().remaining("api").problem
    assert problem == "malformed response: sample value 'lots' is not a number"


def test_success_without_data_is_malformed(fake_prometheus: FakePrometheus, budget: Budget) -> None:
    fake_prometheus.answers["api"] = Answer.envelope({"status": "success"})
    assert budget().remaining("api").problem == ("malformed response: status success without data")


def test_a_matrix_result_is_not_a_budget(fake_prometheus: FakePrometheus, budget: Budget) -> None:
    data = {"resultType": "matrix", "result": [{"metric": {}, "values": [[1, "0.5"]]}]}
    fake_prometheus.answers["api"] = Answer.envelope({"status": "success", "data": data})
    problem = budget().remaining("api").problem
    assert problem == "query returned a matrix, expected a vector or scalar"


def test_nothing_listening_is_unreachable(shared_client: httpx.Client) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    source = PrometheusErrorBudget(url, timeout=TIMEOUT, client=shared_client)
    reading = source.remaining("api")
    assert reading.remaining is None
    assert reading.problem is not None
    assert reading.problem.startswith(f"Prometheus at {url} unreachable: ")


def test_a_slow_answer_times_out_as_unreachable(
    fake_prometheus: FakePrometheus, budget: Budget
) -> None:
    fake_prometheus.answers["api"] = Answer.slow(2.0)  # would answer a value, but too late
    reading = budget(timeout=0.2).remaining("api")
    assert (
        reading.problem == f"Prometheus at {fake_prometheus.url} unreachable: timed out after 0.2 s"
    )


def test_the_timeout_applies_even_to_a_lenient_injected_client(
    fake_prometheus: FakePrometheus, budget: Budget
) -> None:
    fake_prometheus.answers["api"] = Answer.slow(2.0)
    with httpx.Client(timeout=60) as client:
        reading = budget(timeout=0.2, client=client).remaining("api")
    assert reading.problem is not None
    assert "timed out" in reading.problem


def test_an_injected_client_is_used_and_left_open(
    fake_prometheus: FakePrometheus, budget: Budget
) -> None:
    fake_prometheus.answers["api"] = Answer.value(0.6)
    with httpx.Client(headers={"X-Scope-OrgID": "sre"}) as client:
        source = budget(client=client)
        assert source.remaining("api").remaining == 0.6
        assert source.remaining("api").remaining == 0.6
        assert not client.is_closed
    assert [r.headers["X-Scope-OrgID"] for r in fake_prometheus.requests] == ["sre", "sre"]


def test_without_a_client_it_makes_one_and_closes_it(fake_prometheus: FakePrometheus) -> None:
    fake_prometheus.answers["api"] = Answer.value(0.6)
    with PrometheusErrorBudget(fake_prometheus.url) as source:
        assert source.remaining("api").remaining == 0.6
        assert source.remaining("api").remaining == 0.6
    assert source.remaining("api").remaining == 0.6  # still usable after close: a new client
    source.close()
    assert len(fake_prometheus.requests) == 3


# --- construction and the reading itself --------------------------------------------------


@pytest.mark.parametrize(
    ("base_url", "at", "timeout", "message"),
    [
        ("ftp://prom", None, 1.0, "base_url"),
        ("prometheus:9090", None, 1.0, "base_url"),
        ("http://prom:9090", datetime(2026, 11, 25, 10, 30), 1.0, "time zone"),
        ("http://prom:9090", None, 0.0, "timeout"),
    ],
)
def test_bad_configuration_fails_at_construction(
    base_url: str, at: datetime | None, timeout: float, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        PrometheusErrorBudget(base_url, at=at, timeout=timeout)


@pytest.mark.parametrize(
    ("remaining", "problem"), [(None, None), (0.5, "and a problem"), (float("nan"), None)]
)
def test_a_reading_is_either_known_or_says_why_not(
    remaining: float | None, problem: str | None
) -> None:
    with pytest.raises(ValueError, match="remaining"):
        BudgetReading("api", remaining, problem, "q")
