"""The SLO runbooks: every relative link leads somewhere, and the PromQL they tell the
on-call engineer to run names series the generated rules really record."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from change_mgmt.slo.load import load_slo_file
from change_mgmt.slo.rules import file_rule_groups
from change_mgmt.slo.runbooks import RUNBOOK_DIRECTORY, SLO_RUNBOOKS
from change_mgmt.slo.windows import windows_for
from tests.conftest import REPO_ROOT
from tests.test_docs import anchors, relative_links

RUNBOOKS = [REPO_ROOT / RUNBOOK_DIRECTORY / name for name in SLO_RUNBOOKS.values()]
_SERIES = re.compile(r"\b(slo:[a-z_:]+[0-9a-z]*)\{")
_THRESHOLD = re.compile(r"> ([0-9.]+) \* 0\.005")


@pytest.mark.parametrize("page", RUNBOOKS, ids=lambda p: p.name)
def test_relative_links_lead_to_files_and_anchors(page: Path) -> None:
    for target in relative_links(page):
        file_part, _, fragment = target.partition("#")
        linked = (page.parent / file_part).resolve() if file_part else page
        assert linked.exists(), target
        if fragment:
            assert fragment in anchors(linked), target


@pytest.mark.parametrize("page", RUNBOOKS, ids=lambda p: p.name)
def test_the_promql_names_generated_series_and_thresholds(page: Path) -> None:
    groups = file_rule_groups(
        load_slo_file(REPO_ROOT / "slos" / "mattermost-api.yaml"), windows_for()
    )
    recorded = {rule["record"] for group in groups for rule in group["rules"] if "record" in rule}
    text = page.read_text()
    named = set(_SERIES.findall(text))
    assert named and named <= recorded, named - recorded
    alerts = "".join(r["expr"] for g in groups for r in g["rules"] if "alert" in r)
    generated = {round(float(f), 9) for f in re.findall(r"\(([0-9.]+) \* 0\.005\)", alerts)}
    written = {round(float(f), 9) for f in _THRESHOLD.findall(text)}
    assert written and written <= generated, written - generated
