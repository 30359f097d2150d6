"""The one SLO model both spec formats load into, and the files it came from.

Everything downstream (rule generation, ``sre slo list``, the gate's error-budget check)
reads only this, never a spec document, so the two formats cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

SpecFormat = Literal["prometheus/v1", "sloth.slok.dev/v1"]
Severity = Literal["page", "ticket"]


@dataclass(frozen=True)
class EventsSli:
    """Error ratio = errors / total, each query with ``{{.window}}``."""

    error_query: str
    total_query: str


@dataclass(frozen=True)
class RawSli:
    """A query that already yields the error ratio (0-1), with ``{{.window}}``."""

    error_ratio_query: str


@dataclass(frozen=True)
class Alert:
    """An enabled alert of an SLO: its name and the labels and annotations it carries
    (the alerting block's merged with the page or ticket block's, as Sloth merges them)."""

    name: str
    labels: Mapping[str, str]
    annotations: Mapping[str, str]


@dataclass(frozen=True)
class Slo:
    service: str
    name: str
    objective: float
    """Percent, in (0, 100]."""
    sli: EventsSli | RawSli
    labels: Mapping[str, str] = field(default_factory=dict)
    """The spec's labels merged with the SLO's; every generated rule carries them."""
    description: str = ""
    page_alert: Alert | None = None
    ticket_alert: Alert | None = None

    @property
    def id(self) -> str:
        """Sloth's ``sloth_id``: ``<service>-<slo>``."""
        return f"{self.service}-{self.name}"

    def alert(self, severity: Severity) -> Alert | None:
        return self.page_alert if severity == "page" else self.ticket_alert


@dataclass(frozen=True)
class SloFile:
    """The SLOs of one spec file, with the line each is named on."""

    path: str
    spec_format: SpecFormat
    slos: tuple[Slo, ...]
    names: Mapping[str, tuple[int, int, str]] = field(default_factory=dict)
    """SLO id → line, column and field (``slos[0].name``) of its name."""

    def where(self, slo_id: str) -> str:
        """``path:line`` of the SLO's name."""
        return f"{self.path}:{self.names[slo_id][0]}"
