"""Multi-window, multi-burn-rate alert windows in Sloth's ``AlertWindows`` terms.

For an SLO period, page and ticket alerts each have a quick and a slow window pair: the
alert fires when the error ratio over both the long and the short window exceeds
``burn factor × error budget``, where burn factor = errorBudgetPercent/100 × period ÷
longWindow (the rate that spends that share of the budget within the long window). The
short window makes an alert stop soon after the burning stops.

Shipped: Sloth's own 30 d and 28 d windows and the team's 7 d windows; a windows file
(``kind: AlertWindows``) replaces them, as Sloth's ``--slo-period-windows-path`` does.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from change_mgmt.documents import DocumentError, load_yaml_mapping, validation_problems
from change_mgmt.slo.errors import SloError
from change_mgmt.slo.fields import Duration, Percent
from change_mgmt.slo.formats import duration_hours, format_duration, parse_duration
from change_mgmt.slo.model import Severity

DEFAULT_PERIOD = "7d"
"""The platform's SLO period (the team runs Sloth with ``--default-slo-period=7d``)."""
BUILT_IN = ("team-7d.yaml", "google-28d.yaml", "google-30d.yaml")


class _Document(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WindowSpec(_Document):
    errorBudgetPercent: Percent
    shortWindow: Duration
    longWindow: Duration

    @model_validator(mode="after")
    def _short_is_shorter(self) -> Self:
        if self.shortWindow >= self.longWindow:
            raise ValueError("shortWindow must be shorter than longWindow")
        return self


class QuickSlowSpec(_Document):
    quick: WindowSpec
    slow: WindowSpec


class AlertWindowsSpec(_Document):
    sloPeriod: Duration
    page: QuickSlowSpec
    ticket: QuickSlowSpec

    @model_validator(mode="after")
    def _windows_fit_the_period(self) -> Self:
        for pair in (self.page, self.ticket):
            for window in (pair.quick, pair.slow):
                if window.longWindow >= self.sloPeriod:
                    long = format_duration(window.longWindow)
                    raise ValueError(f"longWindow {long} must be shorter than sloPeriod")
        return self


class AlertWindowsDocument(_Document):
    """Sloth's ``sloth.slok.dev/v1`` ``AlertWindows`` file."""

    apiVersion: Literal["sloth.slok.dev/v1"]
    kind: Literal["AlertWindows"]
    spec: AlertWindowsSpec


@dataclass(frozen=True)
class BurnWindow:
    """One window pair of one alert severity, and the burn factor it alerts on."""

    severity: Severity
    speed: Literal["quick", "slow"]
    error_budget_percent: float
    short_window: int
    """Milliseconds."""
    long_window: int
    burn_factor: float


@dataclass(frozen=True)
class AlertWindows:
    period: int
    """The SLO period in milliseconds."""
    page_quick: BurnWindow
    page_slow: BurnWindow
    ticket_quick: BurnWindow
    ticket_slow: BurnWindow
    source: str

    def __iter__(self) -> Iterator[BurnWindow]:
        return iter((self.page_quick, self.page_slow, self.ticket_quick, self.ticket_slow))

    def pair(self, severity: Severity) -> tuple[BurnWindow, BurnWindow]:
        if severity == "page":
            return self.page_quick, self.page_slow
        return self.ticket_quick, self.ticket_slow

    def alert_windows(self) -> list[int]:
        """Every distinct window the alerts read, shortest first (Sloth's order)."""
        return sorted({w for pair in self for w in (pair.short_window, pair.long_window)})


def burn_factor(error_budget_percent: float, period: int, long_window: int) -> float:
    """errorBudgetPercent/100 × period ÷ longWindow, in Sloth's order of operations (its
    float rounding shows in the expressions: 20 % of 7 d over 1 d is 1.4000000000000001)."""
    return error_budget_percent * duration_hours(period) / 100 / duration_hours(long_window)


def _windows(document: AlertWindowsDocument, source: str) -> AlertWindows:
    spec = document.spec

    def window(severity: Severity, speed: Literal["quick", "slow"], w: WindowSpec) -> BurnWindow:
        factor = burn_factor(w.errorBudgetPercent, spec.sloPeriod, w.longWindow)
        return BurnWindow(
            severity, speed, w.errorBudgetPercent, w.shortWindow, w.longWindow, factor
        )

    return AlertWindows(
        period=spec.sloPeriod,
        page_quick=window("page", "quick", spec.page.quick),
        page_slow=window("page", "slow", spec.page.slow),
        ticket_quick=window("ticket", "quick", spec.ticket.quick),
        ticket_slow=window("ticket", "slow", spec.ticket.slow),
        source=source,
    )


def load_windows_file(path: Path, *, display_path: str | None = None) -> AlertWindows:
    document = load_yaml_mapping(path, display_path=display_path)
    try:
        parsed = AlertWindowsDocument.model_validate(document.data)
    except ValidationError as exc:
        raise DocumentError(validation_problems(exc, document, AlertWindowsDocument)) from None
    return _windows(parsed, document.path)


def built_in_windows() -> dict[int, AlertWindows]:
    """The shipped windows by SLO period (milliseconds)."""
    found = {}
    for name in BUILT_IN:
        with resources.as_file(resources.files("change_mgmt.slo") / "windows" / name) as path:
            windows = load_windows_file(path, display_path=f"change_mgmt/slo/windows/{name}")
        found[windows.period] = windows
    return found


def windows_for(period: str | None = None, windows_file: Path | None = None) -> AlertWindows:
    """The alert windows for ``period`` (default 7d): from ``windows_file`` when given
    (its ``sloPeriod`` is the period), else the shipped ones."""
    wanted = _period(period) if period is not None else None
    if windows_file is not None:
        windows = load_windows_file(windows_file)
        if wanted is not None and wanted != windows.period:
            raise SloError(
                f"{windows.source} holds windows for a {format_duration(windows.period)} "
                f"period, not {period}"
            )
        return windows
    catalog = built_in_windows()
    chosen = wanted if wanted is not None else parse_duration(DEFAULT_PERIOD)
    if chosen not in catalog:
        known = ", ".join(format_duration(p) for p in sorted(catalog))
        raise SloError(
            f"no alert windows for a {period} SLO period (shipped: {known}); "
            "give a windows file (kind: AlertWindows)"
        )
    return catalog[chosen]


def _period(text: str) -> int:
    try:
        period = parse_duration(text)
    except ValueError as exc:
        raise SloError(f"SLO period: {exc}") from None
    if period <= 0:
        raise SloError("the SLO period must be longer than 0")
    return period
