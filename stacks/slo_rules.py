"""The SLO rules a platform stack deploys: ``slos/`` through ``change_mgmt.slo`` into
``SloRulesArgs`` (the component takes plain rule groups; it may not import change_mgmt).

``slos/`` holds some SLOs twice, in both of Sloth's formats (the loader proves the two
say the same thing). Each SLO is deployed once: files are taken ``prometheus/v1`` first
(the ``sloth generate`` input), then in path order, and an SLO an earlier file already
brought is left out, so Prometheus never records one series from two rules. A file left
with nothing new gets no ``PrometheusRule``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pulumi

from change_mgmt.documents import DocumentError
from change_mgmt.slo import (
    SLO_DIRECTORY,
    RunbookLinks,
    SloError,
    SloFile,
    file_rule_groups,
    load_catalog,
    windows_for,
)
from components.observability.cluster_monitoring import RULE_SELECTOR_LABELS
from components.observability.slo_rules import (
    DEFAULT_NAMESPACE,
    SloRuleFile,
    SloRulesArgs,
)


class SloSpecError(pulumi.RunError):
    """The SLO specs cannot be turned into rules (shown without a traceback)."""


def _deployment_order(files: tuple[SloFile, ...]) -> list[SloFile]:
    return sorted(files, key=lambda f: (f.spec_format != "prometheus/v1", f.path))


def _unique_slos(slo_file: SloFile, deployed: set[str]) -> SloFile:
    new = tuple(slo for slo in slo_file.slos if slo.id not in deployed)
    deployed.update(slo.id for slo in new)
    return SloFile(slo_file.path, slo_file.spec_format, new, slo_file.names)


def slo_rules_args(
    project_dir: Path,
    *,
    period: str | None = None,
    runbooks: RunbookLinks | None = None,
    labels: Mapping[str, str] = RULE_SELECTOR_LABELS,
    namespace: str = DEFAULT_NAMESPACE,
) -> SloRulesArgs:
    """The rule groups of every SLO under ``project_dir/slos``, one rule file per spec
    file, named after the file (``slos/mattermost-api.yaml`` → ``mattermost-api``)."""
    try:
        catalog = load_catalog([project_dir / SLO_DIRECTORY], relative_to=project_dir)
        windows = windows_for(period)
    except (DocumentError, SloError) as exc:
        raise SloSpecError(f"invalid SLO specs:\n{exc}") from None
    deployed: set[str] = set()
    rule_files = []
    for slo_file in _deployment_order(catalog.files):
        unique = _unique_slos(slo_file, deployed)
        if not unique.slos:
            continue
        groups = file_rule_groups(unique, windows, runbooks=runbooks or RunbookLinks())
        name = Path(slo_file.path).stem.lower()
        rule_files.append(SloRuleFile(name=name, groups=tuple(groups), source=slo_file.path))
    return SloRulesArgs(rule_files=tuple(rule_files), labels=dict(labels), namespace=namespace)
