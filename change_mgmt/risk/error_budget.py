"""How much error budget an SLO has left, read from Prometheus's HTTP query API.

The risk scorer asks, for each SLO a stack affects, whether its service can afford a
risky change right now. The answer is the series Sloth's metadata rules record (and
ours, ``change_mgmt.slo.rules``): ``slo:period_error_budget_remaining:ratio`` of the
SLO's ``sloth_id``, so the gate reads the very budget the SLO alerts and dashboards
show. This adapter answers with a ``BudgetReading`` and never raises for the outside
world misbehaving (unreachable, HTTP errors, malformed answers, no data, NaN): such a
reading is *unknown* and says why, and the gate decides what unknown means (fail closed
in production).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Literal, Protocol, Self

import httpx
from pydantic import BaseModel, Field, ValidationError

from change_mgmt.http import new_client
from change_mgmt.slo.fields import NAME
from change_mgmt.slo.rules import BUDGET_REMAINING_METRIC


def budget_query(slo_id: str) -> str:
    """``slo:period_error_budget_remaining:ratio{sloth_id="<id>"}``: 1 is untouched, 0 or
    below spent. No traffic over the period gives NaN and a missing series an empty
    vector; both read as unknown."""
    return f'{BUDGET_REMAINING_METRIC}{{sloth_id="{slo_id}"}}'


_SECRET_HEADER = re.compile(r"auth|token|key|secret|cookie|password", re.IGNORECASE)


@dataclass(frozen=True)
class BudgetReading:
    """The error budget left for one SLO, or why it is unknown.

    ``slo`` is the SLO's id (Sloth's ``sloth_id``, ``<service>-<slo>``). ``remaining`` is
    the fraction of the budget left (1.0 untouched, 0 or below exhausted) and ``problem``
    is None exactly when ``remaining`` is known. ``query`` is the PromQL sent (empty when
    the id was refused and nothing was sent).
    """

    slo: str
    remaining: float | None
    problem: str | None
    query: str

    def __post_init__(self) -> None:
        if (self.remaining is None) == (self.problem is None):
            raise ValueError("a BudgetReading has either a remaining budget or a problem")
        if self.remaining is not None and not math.isfinite(self.remaining):
            raise ValueError(f"remaining budget must be finite, got {self.remaining}")

    @property
    def service(self) -> str:
        """The SLO id, under the name the assessment and the gate's JSON (``service``)
        read it by."""
        return self.slo

    @property
    def known(self) -> bool:
        return self.remaining is not None

    @property
    def exhausted(self) -> bool:
        return self.remaining is not None and self.remaining <= 0


class ErrorBudgetSource(Protocol):
    """What the risk scorer needs: the remaining budget of one SLO, never an exception."""

    def remaining(self, slo: str) -> BudgetReading: ...


# Prometheus's documented response envelope (not our document: extra keys such as
# ``infos`` from newer versions are allowed).
_Point = tuple[float, str]


class _Sample(BaseModel):
    metric: dict[str, str]
    value: _Point


class _Series(BaseModel):
    metric: dict[str, str]
    values: list[_Point]


class _VectorData(BaseModel):
    resultType: Literal["vector"]
    result: list[_Sample]


class _ScalarData(BaseModel):
    resultType: Literal["scalar", "string"]
    result: _Point


class _MatrixData(BaseModel):
    resultType: Literal["matrix"]
    result: list[_Series]


class _Envelope(BaseModel):
    status: Literal["success", "error"]
    data: (
        Annotated[_VectorData | _ScalarData | _MatrixData, Field(discriminator="resultType")] | None
    ) = None
    errorType: str | None = None
    error: str | None = None
    warnings: list[str] = Field(default_factory=list)

    def error_text(self) -> str:
        return f"{self.errorType or 'error'}: {self.error or '(no message)'}"


class PrometheusErrorBudget:
    """``ErrorBudgetSource`` backed by one instant query per SLO (``budget_query``).

    ``at`` evaluates every query at that moment (Prometheus's ``time`` parameter: the
    gate's what-if ``--at``, or data that lies in the past); without it Prometheus
    answers for its own now. Several series in the answer (one per cluster behind Thanos,
    say) give their minimum: the worst one decides. Close it (or use it as a context
    manager) unless you inject the client. Redirects are not followed (a login page is
    not an answer) and no header value or URL credential ever appears in a problem text.
    """

    def __init__(
        self,
        base_url: str,
        *,
        at: datetime | None = None,
        timeout: float = 5.0,
        client: httpx.Client | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        url = httpx.URL(base_url)
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError(f"base_url must be an http(s) URL, got {_display(url)!r}")
        if at is not None and at.utcoffset() is None:
            raise ValueError(f"at must carry a time zone, got {at.isoformat()}")
        if not timeout > 0:
            raise ValueError(f"timeout must be positive seconds, got {timeout}")
        self._endpoint = url.copy_with(path=url.path.rstrip("/") + "/api/v1/query", fragment=None)
        self._where = _display(url)
        self._at = at
        self._timeout = timeout
        self._client = client
        self._own_client: httpx.Client | None = None
        self._headers = dict(headers or {})
        self._secrets = _secrets(url, self._headers, client)

    def close(self) -> None:
        """Close the client this source made for itself; an injected one is the caller's."""
        if self._own_client is not None:
            self._own_client.close()
            self._own_client = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def remaining(self, slo: str) -> BudgetReading:
        if not NAME.fullmatch(slo) or len(slo) > 257:
            return BudgetReading(
                slo,
                None,
                f"refused SLO id {slo[:80]!r}: an SLO id is <service>-<slo>, letters, digits "
                "and '.', '_', '-'",
                "",
            )
        query = budget_query(slo)
        at = f"Prometheus at {self._where}"
        try:
            remaining, problem = self._ask(slo, query)
        except httpx.TimeoutException:
            remaining, problem = None, f"{at} unreachable: timed out after {self._timeout:g} s"
        except httpx.TransportError as exc:
            remaining, problem = None, f"{at} unreachable: {str(exc) or type(exc).__name__}"
        except httpx.RequestError as exc:  # e.g. a body that fails to decompress
            remaining, problem = None, f"request to {at} failed: {str(exc) or type(exc).__name__}"
        return BudgetReading(slo, remaining, problem and self._redact(problem), query)

    def _ask(self, slo: str, query: str) -> tuple[float | None, str | None]:
        params = {"query": query}
        if self._at is not None:
            params["time"] = f"{self._at.timestamp():.3f}"
        response = self._http().get(
            self._endpoint,
            params=params,
            headers=self._headers,
            timeout=self._timeout,
            follow_redirects=False,
        )
        at, status = f"Prometheus at {self._where}", response.status_code
        try:
            envelope = _Envelope.model_validate_json(response.content)
        except ValidationError as exc:
            if not response.is_success:
                return None, f"{at} answered HTTP {status}"
            return None, f"malformed response from {at}: {_why(exc)}"
        if not response.is_success:
            detail = f": {envelope.error_text()}" if envelope.error else ""
            return None, f"{at} answered HTTP {status}{detail}"
        if envelope.status == "error":
            return None, f"Prometheus query failed with {envelope.error_text()}"
        return _value(slo, envelope.data, self._at)

    def _http(self) -> httpx.Client:
        """The injected client, else one of our own, made on first use and then reused
        (making a client loads the CA bundle, which costs a noticeable fraction of a second)."""
        if self._client is not None:
            return self._client
        if self._own_client is None:
            self._own_client = new_client()
        return self._own_client

    def _redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "[redacted]")
        return text


def _value(
    slo: str, data: _VectorData | _ScalarData | _MatrixData | None, at: datetime | None
) -> tuple[float | None, str | None]:
    """The budget in a successful answer: one number, the minimum of a vector."""
    if data is None:
        return None, "malformed response: status success without data"
    if isinstance(data, _MatrixData) or data.resultType == "string":
        return None, f"query returned a {data.resultType}, expected a vector or scalar"
    points = [data.result] if isinstance(data, _ScalarData) else [s.value for s in data.result]
    if not points:
        when = f" at {at.isoformat()}" if at else ""
        return None, (
            f"no data for SLO {slo}{when}: no {BUDGET_REMAINING_METRIC} series with this "
            "sloth_id (are its rules deployed?)"
        )
    values: list[float] = []
    for _, text in points:
        try:
            number = float(text)
        except ValueError:
            return None, f"malformed response: sample value {text[:40]!r} is not a number"
        if not math.isfinite(number):
            hint = " (no requests in the window?)" if math.isnan(number) else ""
            return None, f"remaining budget of SLO {slo} is {text}{hint}"
        values.append(number)
    return min(values), None


def _why(exc: ValidationError) -> str:
    first = exc.errors(include_url=False, include_input=False)[0]
    if first["type"] == "json_invalid":
        return "body is not JSON"
    where = ".".join(str(part) for part in first["loc"]) or "body"
    return f"{where}: {first['msg']}"


def _display(url: httpx.URL) -> str:
    """The URL without credentials or query, fit for messages."""
    return str(url.copy_with(username=None, password=None, query=None, fragment=None))


def _secrets(url: httpx.URL, headers: Mapping[str, str], client: httpx.Client | None) -> list[str]:
    """Values never to echo: URL passwords and credential-like headers, whole and without
    their scheme word ("Bearer <token>"). Longest first, so no secret is half-replaced."""
    found = {url.password} if url.password else set()
    items = [*headers.items(), *(client.headers.items() if client else [])]
    for name, value in items:
        if _SECRET_HEADER.search(name):
            found.add(value)
            found.add(value.rsplit(" ", 1)[-1])
    return sorted((s for s in found if len(s) >= 8), key=len, reverse=True)
