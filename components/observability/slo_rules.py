"""``SloRules``: SLO rule groups as ``PrometheusRule`` objects the Prometheus operator loads.

The groups arrive as plain data (Prometheus rule groups, exactly what ``sre slo rules``
prints under ``groups:``): components know nothing of change management, so the stack
generates them with ``change_mgmt.slo`` (``stacks/slo_rules.py``) and this component only
declares them. One ``PrometheusRule`` per rule file, so each object matches one SLO spec
file and the operator turns it into one rule file of its own.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.observability.cluster_monitoring import RULE_SELECTOR_LABELS

TYPE_TOKEN = "sre:observability:SloRules"
API_VERSION = "monitoring.coreos.com/v1"
KIND = "PrometheusRule"
DEFAULT_NAMESPACE = "prometheus"
SOURCE_ANNOTATION = "sre-platform/slo-spec"
"""The spec file a ``PrometheusRule`` was generated from (edit that, never the object)."""

_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_LABEL_NAME = re.compile(r"^([a-z0-9.-]{1,253}/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")


class SloRulesError(ValueError):
    """An argument of ``SloRules`` is invalid: names the input, the value, what is allowed."""

    def __init__(self, field: str, value: object, allowed: str) -> None:
        self.field = field
        self.value = value
        self.allowed = allowed
        super().__init__(f"invalid {field} {value!r}: {allowed}")


@dataclass(frozen=True)
class SloRuleFile:
    """The rule groups of one SLO spec file, and the name of the object that holds them."""

    name: str
    """Kubernetes name of the ``PrometheusRule`` (a DNS subdomain, e.g. the file's stem)."""
    groups: Sequence[Mapping[str, Any]]
    """Prometheus rule groups: each ``{name, rules: [...]}``, as ``sre slo rules`` prints."""
    source: str = ""
    """The spec file, repository-relative (annotated on the object)."""


@dataclass(frozen=True)
class SloRulesArgs:
    rule_files: Sequence[SloRuleFile]
    namespace: str = DEFAULT_NAMESPACE
    labels: Mapping[str, str] = field(default_factory=lambda: dict(RULE_SELECTOR_LABELS))
    """Labels of every object: the Prometheus ``ruleSelector`` must match them (by default
    ClusterMonitoring's, so the cluster's own Prometheus loads the rules)."""

    def __post_init__(self) -> None:
        if not _DNS_LABEL.match(self.namespace) or len(self.namespace) > 63:
            raise SloRulesError("namespace", self.namespace, "a DNS label (lowercase, digits, -)")
        if not self.labels:
            raise SloRulesError(
                "labels", dict(self.labels), "give the labels the Prometheus ruleSelector matches"
            )
        for key, value in self.labels.items():
            if not _LABEL_NAME.match(key) or not _LABEL_VALUE.match(value):
                raise SloRulesError(f"labels[{key!r}]", value, "a Kubernetes label name and value")
        seen: set[str] = set()
        for index, rule_file in enumerate(self.rule_files):
            _check_rule_file(f"rule_files[{index}]", rule_file, seen)


def _check_rule_file(where: str, rule_file: SloRuleFile, seen: set[str]) -> None:
    name = rule_file.name
    if len(name) > 253 or not _DNS_SUBDOMAIN.match(name):
        raise SloRulesError(f"{where}.name", name, "a DNS subdomain (lowercase, digits, - and .)")
    if name in seen:
        raise SloRulesError(f"{where}.name", name, "each rule file needs its own name")
    seen.add(name)
    if not rule_file.groups:
        raise SloRulesError(f"{where}.groups", [], "at least one rule group")
    group_names: set[str] = set()
    for index, group in enumerate(rule_file.groups):
        group_name = group.get("name")
        if not isinstance(group_name, str) or not group_name or group_name in group_names:
            raise SloRulesError(
                f"{where}.groups[{index}].name", group_name, "a name unique within the file"
            )
        group_names.add(group_name)
        rules = group.get("rules")
        if not isinstance(rules, Sequence) or not rules:
            raise SloRulesError(f"{where}.groups[{index}].rules", rules, "a non-empty list")
        for number, rule in enumerate(rules):
            if not isinstance(rule, Mapping) or ("record" in rule) == ("alert" in rule):
                raise SloRulesError(
                    f"{where}.groups[{index}].rules[{number}]",
                    rule,
                    "a rule with exactly one of record or alert",
                )
            if not rule.get("expr"):
                raise SloRulesError(
                    f"{where}.groups[{index}].rules[{number}].expr", rule.get("expr"), "PromQL"
                )


class SloRules(pulumi.ComponentResource):
    """One ``monitoring.coreos.com/v1`` ``PrometheusRule`` per rule file, in the
    monitoring namespace, labelled for the operator's rule selector.

    The kubernetes provider comes from ``opts`` (``provider=`` or ``providers=``) and
    reaches every child through ``parent=self``. Output: ``rule_names``, the objects'
    Kubernetes names.
    """

    rule_names: pulumi.Output[list[str]]

    def __init__(
        self, name: str, args: SloRulesArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        for rule_file in args.rule_files:
            metadata = k8s.meta.v1.ObjectMetaArgs(
                name=rule_file.name,
                namespace=args.namespace,
                labels=dict(args.labels),
                annotations={SOURCE_ANNOTATION: rule_file.source} if rule_file.source else None,
            )
            k8s.apiextensions.CustomResource(
                f"{name}-{rule_file.name}",
                api_version=API_VERSION,
                kind=KIND,
                metadata=metadata,
                spec={"groups": [_plain(group) for group in rule_file.groups]},
                opts=pulumi.ResourceOptions(parent=self),
            )
        self.rule_names = pulumi.Output.from_input([f.name for f in args.rule_files])
        self.register_outputs({"rule_names": self.rule_names})


def _plain(value: Any) -> Any:
    """Mappings and sequences as plain dicts and lists (what the engine serialises)."""
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [_plain(item) for item in value]
    return value
