"""SLOs as code in Sloth's formats: specs → one model → Sloth's Prometheus rules.

``load`` reads the ``prometheus/v1`` spec and the ``PrometheusServiceLevel`` resource,
``windows`` the ``AlertWindows`` (7 d, 28 d and 30 d shipped), ``rules`` generates and
renders the rule groups, ``runbooks`` keeps every alert's ``runbook_url`` in the repository.
"""

from __future__ import annotations

from change_mgmt.slo.errors import SloError
from change_mgmt.slo.load import SLO_DIRECTORY, SloCatalog, load_catalog, load_slo_file
from change_mgmt.slo.model import Alert, EventsSli, RawSli, Slo, SloFile
from change_mgmt.slo.rules import (
    BUDGET_REMAINING_METRIC,
    file_rule_groups,
    render_rule_file,
    slo_rule_groups,
)
from change_mgmt.slo.runbooks import RunbookLinks, runbook_problems
from change_mgmt.slo.windows import AlertWindows, load_windows_file, windows_for

__all__ = [
    "BUDGET_REMAINING_METRIC",
    "SLO_DIRECTORY",
    "Alert",
    "AlertWindows",
    "EventsSli",
    "RawSli",
    "RunbookLinks",
    "Slo",
    "SloCatalog",
    "SloError",
    "SloFile",
    "file_rule_groups",
    "load_catalog",
    "load_slo_file",
    "load_windows_file",
    "render_rule_file",
    "runbook_problems",
    "slo_rule_groups",
    "windows_for",
]
