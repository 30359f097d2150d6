"""Our rules are Sloth's rules: compared with what the real ``sloth generate`` printed
for the same specs (Sloth's own integration-test fixtures, tests/data/slo/sloth/)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from change_mgmt.slo.load import load_slo_file
from change_mgmt.slo.rules import RuleGroup, file_rule_groups, render_rule_file
from change_mgmt.slo.windows import AlertWindows, load_windows_file, windows_for
from tests.conftest import REPO_ROOT

SLOTH = REPO_ROOT / "tests" / "data" / "slo" / "sloth"
VERSION = "v0.0.0-test"


def sloth_output(name: str) -> list[RuleGroup]:
    """A recorded output with its Go-template placeholders filled as Sloth's tests fill them."""
    text = (SLOTH / name).read_text()
    text = text.replace('{{"{{', "{{").replace('}}"}}', "}}").replace("{{ .version }}", VERSION)
    document = yaml.safe_load(text)
    groups: list[RuleGroup] = (
        document["spec"]["groups"] if "spec" in document else document["groups"]
    )
    return groups


def without_runbooks(groups: list[RuleGroup]) -> tuple[list[RuleGroup], list[str]]:
    """The groups minus our one addition, each alert's runbook_url (returned apart)."""
    stripped, urls = copy.deepcopy(groups), []
    for group in stripped:
        for rule in group["rules"]:
            if "alert" in rule:
                urls.append(rule["annotations"].pop("runbook_url"))
    return stripped, urls


def _windows(which: str) -> AlertWindows:
    return (
        load_windows_file(SLOTH / "windows" / "7d.yaml")
        if which == "custom"
        else windows_for(which)
    )


@pytest.mark.parametrize(
    ("spec", "windows", "recorded"),
    [
        ("in-base.yaml", "30d", "out-base.yaml.tpl"),
        ("in-base-k8s.yaml", "30d", "out-base-k8s.yaml.tpl"),
        ("in-base.yaml", "28d", "out-base-28d.yaml.tpl"),
        ("in-base.yaml", "custom", "out-base-custom-windows-7d.yaml.tpl"),
    ],
)
def test_rules_equal_sloths_recorded_output(spec: str, windows: str, recorded: str) -> None:
    groups = file_rule_groups(load_slo_file(SLOTH / spec), _windows(windows), version=VERSION)
    rendered: list[RuleGroup] = yaml.safe_load(render_rule_file(groups))["groups"]
    ours, runbooks = without_runbooks(rendered)
    assert ours == sloth_output(recorded)
    assert runbooks == ["docs/runbooks/slo-page.md", "docs/runbooks/slo-ticket.md"]


def test_the_team_windows_equal_sloths_7d_example() -> None:
    """Our shipped 7d windows give the very rules Sloth gives with its 7d windows file."""
    spec = load_slo_file(SLOTH / "in-base.yaml")
    ours = file_rule_groups(spec, windows_for("7d"), version=VERSION)
    theirs = file_rule_groups(spec, _windows("custom"), version=VERSION)
    assert ours == theirs


def test_a_changed_expression_would_be_noticed() -> None:
    """The comparison is exact: one threshold off and the groups differ."""
    groups = file_rule_groups(
        load_slo_file(SLOTH / "in-base.yaml"), windows_for("30d"), version=VERSION
    )
    ours, _ = without_runbooks(groups)
    rule: dict[str, Any] = ours[2]["rules"][0]
    rule["expr"] = rule["expr"].replace("14.4 *", "14.5 *")
    assert ours != sloth_output("out-base.yaml.tpl")
