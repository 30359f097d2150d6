"""Every generated rule file passes ``promtool check rules``; every alert links a runbook
that exists; the Kubernetes spec in slos/ is valid against Sloth's CRD."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from change_mgmt.slo.load import load_catalog, spec_files
from change_mgmt.slo.model import SloFile
from change_mgmt.slo.rules import file_rule_groups, render_rule_file
from change_mgmt.slo.runbooks import RunbookLinks, runbook_problems
from change_mgmt.slo.windows import windows_for
from tests.change_mgmt.slo.promtool import run_promtool
from tests.components.crd_schema import crd_problems
from tests.conftest import REPO_ROOT

SLOTH = REPO_ROOT / "tests" / "data" / "slo" / "sloth"
SPECS = spec_files([REPO_ROOT / "slos", SLOTH / "in-base.yaml", SLOTH / "in-base-k8s.yaml"])
CATALOG = load_catalog(SPECS, relative_to=REPO_ROOT)
SLO_CRD = "sloth.slok.dev_prometheusservicelevels.yaml"


@pytest.mark.parametrize("period", ["7d", "28d", "30d"])
@pytest.mark.parametrize("slo_file", CATALOG.files, ids=lambda f: f.path)
def test_generated_rules_pass_promtool_check(
    slo_file: SloFile, period: str, tmp_path: Path
) -> None:
    (tmp_path / "rules.yaml").write_text(
        render_rule_file(file_rule_groups(slo_file, windows_for(period)), source=slo_file.path)
    )
    result = run_promtool("check", "rules", "rules.yaml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_check_can_fail(tmp_path: Path) -> None:
    (tmp_path / "rules.yaml").write_text(
        "groups:\n- name: x\n  rules:\n  - record: a\n    expr: sum(\n"
    )
    assert run_promtool("check", "rules", "rules.yaml", cwd=tmp_path).returncode != 0


@pytest.mark.parametrize("base", [None, "https://github.com/acme/sre-platform/blob/main"])
def test_every_alert_links_a_runbook_that_exists(base: str | None) -> None:
    links = RunbookLinks(base)
    groups = [g for f in CATALOG.files for g in file_rule_groups(f, windows_for(), runbooks=links)]
    alerts = [r for g in groups for r in g["rules"] if "alert" in r]
    assert alerts, "the specs define alerts"
    assert runbook_problems(groups, REPO_ROOT, links) == []
    prefix = f"{base}/" if base else ""
    assert {a["annotations"]["runbook_url"] for a in alerts} == {
        f"{prefix}docs/runbooks/slo-page.md",
        f"{prefix}docs/runbooks/slo-ticket.md",
    }


def test_a_link_to_a_missing_runbook_is_reported(tmp_path: Path) -> None:
    (tmp_path / "docs" / "runbooks").mkdir(parents=True)
    (tmp_path / "docs" / "runbooks" / "slo-page.md").write_text("# page\n")
    groups = file_rule_groups(CATALOG.files[0], windows_for())
    assert runbook_problems(groups, tmp_path) == [
        "sloth-slo-alerts-mattermost-api-requests-availability: alert "
        "MattermostAPIErrorBudgetBurn: runbook docs/runbooks/slo-ticket.md does not exist"
    ]
    groups[-1]["rules"][0]["annotations"]["runbook_url"] = "https://elsewhere.example/x.md"
    assert "is not a runbook under docs/runbooks/" in runbook_problems(groups, tmp_path)[0]


def test_the_kubernetes_spec_is_valid_against_sloths_crd() -> None:
    for path in (REPO_ROOT / "slos").glob("*.yaml"):
        resource = yaml.safe_load(path.read_text())
        if resource.get("kind") == "PrometheusServiceLevel":
            assert crd_problems(resource, SLO_CRD) == []
            broken = {**resource, "spec": {**resource["spec"], "slos": [{"name": "x"}]}}
            assert crd_problems(broken, SLO_CRD) != []
