"""Prometheus rules for SLOs, the same series, labels and expressions Sloth generates.

Ported from Sloth's core plugins (``internal/plugin/slo/core/{sli_rules,metadata_rules,
alert_rules}_v1``, slok/sloth commit 0e395d81513f): SLI error ratios for every alert
window plus the period (the period one averaged from the shortest window, as Sloth's
optimised rule does), the metadata series its Grafana dashboards read, and one
multi-window multi-burn-rate alert per enabled severity. Tests compare the output with
Sloth's own recorded output for the same specs.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import yaml

from change_mgmt.slo.fields import RUNBOOK_ANNOTATION, WINDOW_VARIABLE
from change_mgmt.slo.formats import duration_hours, format_duration, go_f, go_g
from change_mgmt.slo.model import EventsSli, Severity, Slo, SloFile, SpecFormat
from change_mgmt.slo.runbooks import RELATIVE_LINKS, RunbookLinks
from change_mgmt.slo.windows import AlertWindows, BurnWindow

Rule = dict[str, Any]
RuleGroup = dict[str, Any]

SLI_ERROR_METRIC = "slo:sli_error:ratio_rate"
OBJECTIVE_METRIC = "slo:objective:ratio"
ERROR_BUDGET_METRIC = "slo:error_budget:ratio"
TIME_PERIOD_METRIC = "slo:time_period:days"
CURRENT_BURN_RATE_METRIC = "slo:current_burn_rate:ratio"
PERIOD_BURN_RATE_METRIC = "slo:period_burn_rate:ratio"
BUDGET_REMAINING_METRIC = "slo:period_error_budget_remaining:ratio"
INFO_METRIC = "sloth_slo_info"
WINDOW_LABEL = "sloth_window"
SEVERITY_LABEL = "sloth_severity"
GENERATOR_VERSION = "sre-platform"
"""``sloth_version`` of ``sloth_slo_info``: these rules are ours, not a Sloth release's."""
_MODES: Mapping[SpecFormat, str] = {
    "prometheus/v1": "cli-gen-prom",
    "sloth.slok.dev/v1": "cli-gen-k8s",
}
"""``sloth_mode``: what ``sloth generate`` writes for each input format."""


def sli_error_metric(window: int) -> str:
    """``slo:sli_error:ratio_rate5m``: the error ratio recorded over ``window`` (ms)."""
    return f"{SLI_ERROR_METRIC}{format_duration(window)}"


def id_labels(slo: Slo) -> dict[str, str]:
    return {"sloth_id": slo.id, "sloth_service": slo.service, "sloth_slo": slo.name}


def id_filter(slo: Slo) -> str:
    """``{sloth_id="…", sloth_service="…", sloth_slo="…"}`` as Prometheus prints a label
    set (names sorted; the values are validated names, so quoting cannot differ)."""
    labels = id_labels(slo)
    return "{" + ", ".join(f"{k}={json.dumps(labels[k])}" for k in sorted(labels)) + "}"


def _sorted(labels: Mapping[str, str]) -> dict[str, str]:
    return dict(sorted(labels.items()))


def _with_window(query: str, window: int) -> str:
    return WINDOW_VARIABLE.sub(format_duration(window), query)


def sli_recording_rules(slo: Slo, windows: AlertWindows) -> list[Rule]:
    rules = []
    for window in [*windows.alert_windows(), windows.period]:
        if window == windows.period:
            short = sli_error_metric(windows.page_quick.short_window)
            span, where = format_duration(window), id_filter(slo)
            expr = (
                f"sum_over_time({short}{where}[{span}])\n/ ignoring ({WINDOW_LABEL})\n"
                f"count_over_time({short}{where}[{span}])\n"
            )
        elif isinstance(slo.sli, EventsSli):
            expr = f"({slo.sli.error_query})\n/\n({slo.sli.total_query})\n"
        else:
            expr = f"({slo.sli.error_ratio_query})"
        labels = {**id_labels(slo), WINDOW_LABEL: format_duration(window), **slo.labels}
        rules.append(
            {
                "record": sli_error_metric(window),
                "expr": _with_window(expr, window),
                "labels": _sorted(labels),
            }
        )
    return rules


def _burn_rate(slo: Slo, window: int) -> str:
    where = id_filter(slo)
    return (
        f"{sli_error_metric(window)}{where}\n"
        "/ on(sloth_id, sloth_slo, sloth_service) group_left\n"
        f"{ERROR_BUDGET_METRIC}{where}\n"
    )


def metadata_rules(
    slo: Slo, windows: AlertWindows, spec_format: SpecFormat, version: str = GENERATOR_VERSION
) -> list[Rule]:
    labels = _sorted({**id_labels(slo), **slo.labels})
    ratio = go_g(slo.objective / 100)
    info = {
        **labels,
        "sloth_version": version,
        "sloth_mode": _MODES[spec_format],
        "sloth_spec": spec_format,
        "sloth_objective": go_f(slo.objective),
    }
    series = [
        (OBJECTIVE_METRIC, f"vector({ratio})", labels),
        (ERROR_BUDGET_METRIC, f"vector(1-{ratio})", labels),
        (TIME_PERIOD_METRIC, f"vector({go_g(duration_hours(windows.period) / 24)})", labels),
        (CURRENT_BURN_RATE_METRIC, _burn_rate(slo, windows.page_quick.short_window), labels),
        (PERIOD_BURN_RATE_METRIC, _burn_rate(slo, windows.period), labels),
        (BUDGET_REMAINING_METRIC, f"1 - {PERIOD_BURN_RATE_METRIC}{id_filter(slo)}", labels),
        (INFO_METRIC, "vector(1)", _sorted(info)),
    ]
    return [{"record": name, "expr": expr, "labels": dict(lbls)} for name, expr, lbls in series]


def _burning(slo: Slo, window: BurnWindow, budget: str) -> str:
    where = id_filter(slo)
    threshold = f"({go_g(window.burn_factor)} * {budget})"
    short, long = (
        f"    max({sli_error_metric(span)}{where} > {threshold}) without ({WINDOW_LABEL})"
        for span in (window.short_window, window.long_window)
    )
    return f"{short}\n    and\n{long}"


def alert_expression(slo: Slo, windows: AlertWindows, severity: Severity) -> str:
    """Fires while both windows of the quick pair, or both of the slow pair, burn faster
    than their burn factor × the error budget."""
    budget = go_g((100 - slo.objective) / 100)
    quick, slow = windows.pair(severity)
    return f"(\n{_burning(slo, quick, budget)}\n)\nor\n(\n{_burning(slo, slow, budget)}\n)\n"


def alert_rules(slo: Slo, windows: AlertWindows, runbooks: RunbookLinks) -> list[Rule]:
    rules = []
    severity: Severity
    for severity in ("page", "ticket"):
        alert = slo.alert(severity)
        if alert is None:
            continue
        who = "{{$labels.sloth_service}} {{$labels.sloth_slo}}"
        annotations = {
            "title": f"({severity}) {who} SLO error budget burn rate is too fast.",
            "summary": f"{who} SLO error budget burn rate is over expected.",
            **alert.annotations,
            RUNBOOK_ANNOTATION: runbooks.url(severity),
        }
        rules.append(
            {
                "alert": alert.name,
                "expr": alert_expression(slo, windows, severity),
                "labels": _sorted({SEVERITY_LABEL: severity, **alert.labels}),
                "annotations": _sorted(annotations),
            }
        )
    return rules


def slo_rule_groups(
    slo: Slo,
    windows: AlertWindows,
    *,
    spec_format: SpecFormat = "prometheus/v1",
    runbooks: RunbookLinks = RELATIVE_LINKS,
    version: str = GENERATOR_VERSION,
) -> list[RuleGroup]:
    """The SLI, metadata and alert groups of one SLO, named as Sloth names them; a group
    with no rules (both alerts disabled) is left out, as Sloth leaves it out."""
    groups = [
        (f"sloth-slo-sli-recordings-{slo.id}", sli_recording_rules(slo, windows)),
        (f"sloth-slo-meta-recordings-{slo.id}", metadata_rules(slo, windows, spec_format, version)),
        (f"sloth-slo-alerts-{slo.id}", alert_rules(slo, windows, runbooks)),
    ]
    return [{"name": name, "rules": rules} for name, rules in groups if rules]


def file_rule_groups(
    slo_file: SloFile,
    windows: AlertWindows,
    *,
    runbooks: RunbookLinks = RELATIVE_LINKS,
    version: str = GENERATOR_VERSION,
) -> list[RuleGroup]:
    """Every group of every SLO in one spec file, in the file's order."""
    return [
        group
        for slo in slo_file.slos
        for group in slo_rule_groups(
            slo, windows, spec_format=slo_file.spec_format, runbooks=runbooks, version=version
        )
    ]


class _RuleFileDumper(yaml.SafeDumper):
    """Multi-line expressions as ``|`` blocks, as in every hand-written rule file."""


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_RuleFileDumper.add_representer(str, _text)


def render_rule_file(groups: Iterable[RuleGroup], *, source: str | None = None) -> str:
    """A Prometheus rule file (``groups:``) as YAML, for ``promtool`` and Prometheus."""
    origin = f" from {source}" if source else ""
    header = (
        f"# Generated by sre-platform{origin} (Sloth-compatible SLO rules).\n"
        "# DO NOT EDIT: change the SLO spec and generate again.\n\n"
    )
    body = yaml.dump(
        {"groups": list(groups)},
        Dumper=_RuleFileDumper,
        sort_keys=False,
        allow_unicode=True,
        width=1000,
    )
    return header + body
