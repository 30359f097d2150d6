"""Sloth's two SLO spec formats as documents: the ``prometheus/v1`` spec and the
Kubernetes ``sloth.slok.dev/v1`` ``PrometheusServiceLevel`` resource.

The formats are one schema spelt twice: ``error_query`` in one, ``errorQuery`` in the
other. Each Kubernetes model is its ``prometheus/v1`` model with camelCase aliases, so
the rules are written once. Field names follow Sloth's Go types
(``pkg/prometheus/api/v1``) and its CRD; unknown fields are errors, where Sloth would
silently drop them.
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, StrictBool, model_validator
from pydantic.alias_generators import to_camel

from change_mgmt.slo.fields import (
    Annotations,
    Labels,
    Objective,
    Refused,
    SafeName,
    Text,
    WindowQuery,
)

PROMETHEUS_V1 = "prometheus/v1"
KUBERNETES_API_VERSION = "sloth.slok.dev/v1"
KUBERNETES_KIND = "PrometheusServiceLevel"


class _Document(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Camel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, alias_generator=to_camel)


class AlertSpec(_Document):
    """One of the two alerts (page or ticket) of an SLO."""

    disable: StrictBool = False
    labels: Labels = Field(default_factory=dict)
    annotations: Annotations = Field(default_factory=dict)


class AlertingSpec(_Document):
    name: Text = ""
    labels: Labels = Field(default_factory=dict)
    annotations: Annotations = Field(default_factory=dict)
    page_alert: AlertSpec = AlertSpec()
    ticket_alert: AlertSpec = AlertSpec()

    @model_validator(mode="after")
    def _named_when_alerting(self) -> Self:
        if not self.name and not (self.page_alert.disable and self.ticket_alert.disable):
            raise ValueError("name is required unless both the page and ticket alerts are disabled")
        return self


class EventsSli(_Document):
    error_query: WindowQuery
    total_query: WindowQuery

    @model_validator(mode="after")
    def _different(self) -> Self:
        if self.error_query == self.total_query:
            raise ValueError("the error and total queries are the same query")
        return self


class RawSli(_Document):
    error_ratio_query: WindowQuery


class SliSpec(_Document):
    events: EventsSli | None = None
    raw: RawSli | None = None
    plugin: Refused = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if (self.events is None) == (self.raw is None):
            raise ValueError("give exactly one SLI: events (error_query, total_query) or raw")
        return self


class SloSpec(_Document):
    name: SafeName
    objective: Objective
    description: Text = ""
    labels: Labels = Field(default_factory=dict)
    sli: SliSpec
    alerting: AlertingSpec
    plugins: Refused = None


class _ServiceSlos(_Document):
    service: SafeName
    labels: Labels = Field(default_factory=dict)
    slos: tuple[SloSpec, ...]
    slo_plugins: Refused = None

    @model_validator(mode="after")
    def _some_slo(self) -> Self:
        if not self.slos:
            raise ValueError("slos is empty: a spec defines at least one SLO")
        return self


class PrometheusV1Spec(_ServiceSlos):
    """A ``version: "prometheus/v1"`` spec file (``sloth generate`` input)."""

    version: Literal["prometheus/v1"]


class K8sAlertSpec(_Camel, AlertSpec):
    pass


class K8sAlertingSpec(_Camel, AlertingSpec):
    page_alert: K8sAlertSpec = K8sAlertSpec()
    ticket_alert: K8sAlertSpec = K8sAlertSpec()


class K8sEventsSli(_Camel, EventsSli):
    pass


class K8sRawSli(_Camel, RawSli):
    pass


class K8sSliSpec(_Camel, SliSpec):
    events: K8sEventsSli | None = None
    raw: K8sRawSli | None = None


class K8sSloSpec(_Camel, SloSpec):
    sli: K8sSliSpec
    alerting: K8sAlertingSpec


class K8sServiceLevelSpec(_Camel, _ServiceSlos):
    slos: tuple[K8sSloSpec, ...]


class K8sMetadata(_Document):
    name: SafeName
    namespace: SafeName | None = None
    labels: dict[str, Text] = Field(default_factory=dict)
    annotations: dict[str, Text] = Field(default_factory=dict)


class PrometheusServiceLevel(_Document):
    """A Kubernetes ``PrometheusServiceLevel`` resource (what the Sloth controller reads)."""

    api_version: Literal["sloth.slok.dev/v1"] = Field(alias="apiVersion")
    kind: Literal["PrometheusServiceLevel"]
    metadata: K8sMetadata
    spec: K8sServiceLevelSpec


SpecDocument = PrometheusV1Spec | PrometheusServiceLevel
