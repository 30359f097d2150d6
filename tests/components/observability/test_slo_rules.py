"""``SloRules`` under Pulumi mocks: one ``PrometheusRule`` per SLO spec file, holding
exactly what ``sre slo rules`` prints, valid against the Prometheus operator's CRD."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml
from typer.testing import CliRunner

from change_mgmt.cli.app import app
from components.observability.cluster_monitoring import RULE_SELECTOR_LABELS
from components.observability.slo_rules import (
    SOURCE_ANNOTATION,
    TYPE_TOKEN,
    SloRuleFile,
    SloRules,
    SloRulesArgs,
    SloRulesError,
)
from stacks.mock_engine import MockRun, run_under_mocks
from stacks.slo_rules import SloSpecError, slo_rules_args
from tests.components.crd_schema import crd_problems
from tests.conftest import REPO_ROOT

RULE_TYPE = "kubernetes:monitoring.coreos.com/v1:PrometheusRule"
RULE_CRD = "monitoring.coreos.com_prometheusrules.yaml"
SPEC = REPO_ROOT / "slos" / "mattermost-api.yaml"

PUSH_SPEC = """\
version: "prometheus/v1"
service: "push-proxy"
slos:
  - name: "requests-latency"
    objective: 99
    sli:
      raw:
        error_ratio_query: 1 - avg_over_time(push_ok_ratio[{{.window}}])
    alerting:
      page_alert: {disable: true}
      ticket_alert: {disable: true}
"""


def run(args: SloRulesArgs, name: str = "slo-rules") -> MockRun:
    def program() -> None:
        SloRules(name, args)

    return run_under_mocks(program, project="sre-platform", stack="prod")


def printed_groups(spec: Path) -> list[dict[str, Any]]:
    """What ``sre slo rules SPEC`` prints, as data."""
    result = CliRunner().invoke(app, ["slo", "rules", str(spec)])
    assert result.exit_code == 0, result.output
    groups: list[dict[str, Any]] = yaml.safe_load(result.stdout)["groups"]
    return groups


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project whose slos/ holds the repository's specs (the same SLO in both formats)
    and a second service's spec."""
    shutil.copytree(REPO_ROOT / "slos", tmp_path / "slos")
    (tmp_path / "slos" / "push-proxy.yaml").write_text(PUSH_SPEC)
    return tmp_path


def test_the_repository_slos_become_one_rule_per_spec_file() -> None:
    declared = run(slo_rules_args(REPO_ROOT))
    (rule,) = declared.of_type(RULE_TYPE)
    assert rule.inputs["spec"]["groups"] == printed_groups(SPEC)
    assert rule.inputs["metadata"]["annotations"] == {SOURCE_ANNOTATION: "slos/mattermost-api.yaml"}


def test_every_spec_file_is_one_rule_and_an_slo_written_twice_is_deployed_once(
    project: Path,
) -> None:
    declared = run(slo_rules_args(project))
    rules = {r.inputs["metadata"]["name"]: r for r in declared.of_type(RULE_TYPE)}
    # mattermost-api.k8s.yaml says what mattermost-api.yaml says: it brings nothing new.
    assert sorted(rules) == ["mattermost-api", "push-proxy"]
    assert rules["mattermost-api"].inputs["spec"]["groups"] == printed_groups(SPEC)
    push = project / "slos" / "push-proxy.yaml"
    assert rules["push-proxy"].inputs["spec"]["groups"] == printed_groups(push)
    recorded = [
        rule["record"]
        for r in rules.values()
        for group in r.inputs["spec"]["groups"]
        for rule in group["rules"]
        if "record" in rule and rule["record"] == "slo:period_error_budget_remaining:ratio"
    ]
    assert len(recorded) == 2, "one budget series per SLO, never two rules for one series"


def test_labels_namespace_names_and_parent(project: Path) -> None:
    labels = {"release": "monitoring", "team": "sre"}
    declared = run(slo_rules_args(project, labels=labels, namespace="monitoring"), name="prod-slos")
    component = declared.one(TYPE_TOKEN, "prod-slos")
    rules = declared.of_type(RULE_TYPE)
    assert sorted(r.name for r in rules) == ["prod-slos-mattermost-api", "prod-slos-push-proxy"]
    for rule in rules:
        assert rule.parent == component.urn
        assert rule.inputs["apiVersion"] == "monitoring.coreos.com/v1"
        assert rule.inputs["kind"] == "PrometheusRule"
        assert rule.inputs["metadata"]["namespace"] == "monitoring"
        assert rule.inputs["metadata"]["labels"] == labels
    assert [r.type for r in declared.resources] == [TYPE_TOKEN, RULE_TYPE, RULE_TYPE]


def test_the_defaults_are_the_prometheus_namespace_and_the_rule_selector_labels() -> None:
    (rule,) = run(slo_rules_args(REPO_ROOT)).of_type(RULE_TYPE)
    assert rule.inputs["metadata"]["namespace"] == "prometheus"
    assert rule.inputs["metadata"]["labels"] == dict(RULE_SELECTOR_LABELS)


def test_the_provider_reaches_every_rule_through_the_parent(project: Path) -> None:
    def program() -> None:
        import pulumi_kubernetes as k8s

        provider = k8s.Provider("cluster-a", context="cluster-a")
        SloRules("slos", slo_rules_args(project), pulumi.ResourceOptions(provider=provider))

    declared = run_under_mocks(program, project="sre-platform", stack="prod")
    rules = declared.of_type(RULE_TYPE)
    assert rules
    assert all("pulumi:providers:kubernetes::cluster-a::" in r.provider for r in rules)


def test_every_rule_validates_against_the_operators_crd(project: Path) -> None:
    rules = run(slo_rules_args(project)).of_type(RULE_TYPE)
    assert rules
    for rule in rules:
        assert crd_problems(rule.inputs, RULE_CRD) == []


def test_crd_validation_refuses_a_misspelt_rule_field() -> None:
    (rule,) = run(slo_rules_args(REPO_ROOT)).of_type(RULE_TYPE)
    broken = copy.deepcopy(rule.inputs)
    broken["spec"]["groups"][0]["rules"][0]["recrod"] = broken["spec"]["groups"][0]["rules"][0].pop(
        "record"
    )
    broken["spec"]["groups"][0]["interval"] = 60
    assert crd_problems(broken, RULE_CRD) == [
        "spec.groups.0.interval: 60 is not of type 'string'",
        "spec.groups.0.rules.0: Additional properties are not allowed ('recrod' was unexpected)",
    ]


def test_the_stack_sees_the_alert_windows_of_the_period_it_asks_for() -> None:
    week = slo_rules_args(REPO_ROOT).rule_files[0].groups[0]["rules"]
    month = slo_rules_args(REPO_ROOT, period="30d").rule_files[0].groups[0]["rules"]
    assert week[-1]["labels"]["sloth_window"] == "1w"
    assert month[-1]["labels"]["sloth_window"] == "30d"


def test_a_bad_spec_stops_the_stack_with_file_line_and_field(project: Path) -> None:
    (project / "slos" / "push-proxy.yaml").write_text(
        PUSH_SPEC.replace("objective: 99", "objective: 120")
    )
    with pytest.raises(SloSpecError) as caught:
        slo_rules_args(project)
    assert "slos/push-proxy.yaml:5:" in str(caught.value)
    assert "slos[0].objective" in str(caught.value)


GROUP = {"name": "g", "rules": [{"record": "a:b", "expr": "vector(1)"}]}


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (lambda: SloRulesArgs([SloRuleFile("Bad_Name", [GROUP])]), "rule_files[0].name"),
        (
            lambda: SloRulesArgs([SloRuleFile("a", [GROUP]), SloRuleFile("a", [GROUP])]),
            "rule_files[1].name",
        ),
        (lambda: SloRulesArgs([SloRuleFile("a", [])]), "rule_files[0].groups"),
        (lambda: SloRulesArgs([SloRuleFile("a", [GROUP, GROUP])]), "rule_files[0].groups[1].name"),
        (
            lambda: SloRulesArgs([SloRuleFile("a", [{"name": "g", "rules": [{"expr": "1"}]}])]),
            "rule_files[0].groups[0].rules[0]",
        ),
        (
            lambda: SloRulesArgs([SloRuleFile("a", [{"name": "g", "rules": [{"record": "x"}]}])]),
            "rule_files[0].groups[0].rules[0].expr",
        ),
        (lambda: SloRulesArgs([], namespace="Prometheus"), "namespace"),
        (lambda: SloRulesArgs([], labels={}), "labels"),
        (lambda: SloRulesArgs([], labels={"release": "not a value"}), "labels['release']"),
    ],
)
def test_bad_args_name_the_input(args: Any, field: str) -> None:
    with pytest.raises(SloRulesError) as caught:
        args()
    assert caught.value.field == field
    assert str(caught.value).startswith(f"invalid {field} ")
