"""The CrossGuard adapter, driven as the engine would: hand-built validation args.

``PolicyPack`` is never constructed here (it starts a gRPC server and blocks); the
policies it would serve are built by the same function and called directly.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from pulumi_policy import (
    EnforcementLevel,
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.policy import _NotApplicableError
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, unknown_checking_proxy

import policies.rules
from policies.config import DEFAULT_CONFIG
from policies.model import UNKNOWN, Rule
from policies.pack import ADVISORY_SUFFIX, build_policies, load_pack, plain
from policies.rules.registry import ALL_RULES
from policies.waivers import Waiver
from tests.policies.conftest import NOW, urn
from tests.policies.test_evaluate import RULES

PACK_DIR = Path(__file__).resolve().parents[2] / "policies"


def options(protect: bool = False) -> PolicyResourceOptions:
    return PolicyResourceOptions(
        protect=protect,
        ignore_changes=[],
        delete_before_replace=None,
        aliases=[],
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
        additional_secret_outputs=[],
        parent=None,
    )


def args(stack: str, type_token: str, name: str, props: dict[str, Any]) -> ResourceValidationArgs:
    return ResourceValidationArgs(
        type_token,
        unknown_checking_proxy(props),
        urn(stack, type_token, name),
        name,
        options(),
        None,
    )


def run(policy: Any, validation_args: Any) -> tuple[list[tuple[str, str | None]], str | None]:
    """(violations reported, the not-applicable reason or None)."""
    reported: list[tuple[str, str | None]] = []
    try:
        policy.validate(validation_args, lambda message, urn=None: reported.append((message, urn)))
    except _NotApplicableError as exc:
        return reported, str(exc.reason) if hasattr(exc, "reason") else str(exc)
    return reported, None


def by_name(built: list[Any]) -> dict[str, Any]:
    return {policy.name: policy for policy in built}


def test_every_rule_is_a_mandatory_and_an_advisory_policy() -> None:
    built = by_name(build_policies(DEFAULT_CONFIG, rules=RULES, clock=lambda: NOW))
    assert set(built) == {
        "bucket-named",
        "bucket-named-advisory",
        "one-bucket",
        "one-bucket-advisory",
    }
    assert built["bucket-named"].enforcement_level == EnforcementLevel.MANDATORY
    assert built["bucket-named-advisory"].enforcement_level == EnforcementLevel.ADVISORY
    assert isinstance(built["bucket-named"], ResourceValidationPolicy)
    assert isinstance(built["one-bucket"], StackValidationPolicy)
    assert built["bucket-named"].remediation_steps == "Set `bucket`."
    assert built["bucket-named"].severity.value == "high"


def test_a_production_violation_is_reported_by_the_mandatory_policy_only() -> None:
    built = by_name(build_policies(DEFAULT_CONFIG, rules=RULES, clock=lambda: NOW))
    bad = args("prod", "aws:s3/bucket:Bucket", "b", {})
    assert run(built["bucket-named"], bad) == ([("b has no bucket name", None)], None)
    reported, reason = run(built["bucket-named-advisory"], bad)
    assert reported == [] and "mandatory in the production tier" in str(reason)


def test_in_development_the_advisory_policy_reports() -> None:
    built = by_name(build_policies(DEFAULT_CONFIG, rules=RULES, clock=lambda: NOW))
    bad = args("dev-dana", "aws:s3/bucket:Bucket", "b", {})
    assert run(built["bucket-named-advisory"], bad)[0] == [("b has no bucket name", None)]
    assert run(built["bucket-named"], bad)[0] == []


def test_a_rule_that_does_not_concern_the_resource_says_not_applicable() -> None:
    built = by_name(build_policies(DEFAULT_CONFIG, rules=RULES, clock=lambda: NOW))
    reported, reason = run(built["bucket-named"], args("prod", "aws:sqs/queue:Queue", "q", {}))
    assert reported == [] and reason is not None


def test_waivers_apply_in_the_pack_and_an_expired_one_is_named() -> None:
    active = Waiver(
        rule="bucket-named", resource="b", reason="legacy", owner="sre", expires=date(2026, 12, 31)
    )
    built = by_name(build_policies(DEFAULT_CONFIG, [active], rules=RULES, clock=lambda: NOW))
    assert run(built["bucket-named"], args("prod", "aws:s3/bucket:Bucket", "b", {}))[0] == []
    lapsed = active.model_copy(update={"expires": date(2026, 11, 1)})
    built = by_name(build_policies(DEFAULT_CONFIG, [lapsed], rules=RULES, clock=lambda: NOW))
    ((message, _),) = run(built["bucket-named"], args("prod", "aws:s3/bucket:Bucket", "b", {}))[0]
    assert message == "b has no bucket name (waiver expired 2026-11-01: legacy)"


def test_unknown_props_reach_the_rules_as_unknown() -> None:
    proxied = unknown_checking_proxy(
        {"bucket": UNKNOWN_STRING_VALUE, "tags": {"a": [1, UNKNOWN_STRING_VALUE]}}
    )
    assert plain(proxied) == {"bucket": UNKNOWN, "tags": {"a": [1, UNKNOWN]}}


def test_stack_policies_see_every_resource_and_name_the_offender() -> None:
    built = by_name(build_policies(DEFAULT_CONFIG, rules=RULES, clock=lambda: NOW))

    def stack_resource(name: str) -> PolicyResource:
        type_token = "aws:s3/bucket:Bucket"
        return PolicyResource(
            type_token,
            {"bucket": name},
            urn("prod", type_token, name),
            name,
            options(),
            None,
            None,
            [],
            {},
        )

    stack_args = StackValidationArgs([stack_resource("a"), stack_resource("b")])
    reported, _ = run(built["one-bucket"], stack_args)
    assert reported == [("b is one bucket too many", urn("prod", "aws:s3/bucket:Bucket", "b"))]


def test_the_shipped_pack_serves_every_rule_twice() -> None:
    names = {policy.name for policy in load_pack(PACK_DIR, clock=lambda: NOW)}
    expected = {rule.id for rule in ALL_RULES} | {rule.id + ADVISORY_SUFFIX for rule in ALL_RULES}
    assert names == expected and len(names) == 2 * len(ALL_RULES)


def test_every_rule_defined_in_a_rules_module_is_in_the_pack() -> None:
    defined: set[str] = set()
    for module_info in pkgutil.iter_modules(policies.rules.__path__):
        module = importlib.import_module(f"policies.rules.{module_info.name}")
        defined |= {value.id for value in vars(module).values() if isinstance(value, Rule)}
    assert defined == {rule.id for rule in ALL_RULES}
    assert len(ALL_RULES) == len(defined), "two rules share an id"


def test_the_pack_entry_point_only_constructs_the_pack() -> None:
    tree = ast.parse((PACK_DIR / "__main__.py").read_text())
    calls = [
        node.func.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    ]
    assert calls.count("PolicyPack") == 1
    assert (PACK_DIR / "PulumiPolicy.yaml").is_file() and (PACK_DIR / "requirements.txt").is_file()


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda rule: rule.id)
def test_every_rule_is_documented_where_its_findings_link(rule: Rule) -> None:
    page, anchor = rule.docs.split("#")
    assert page == "docs/policy-pack.md"
    assert f'<a id="{anchor}"></a>`{rule.id}`' in (PACK_DIR.parent / page).read_text()
    assert rule.description and rule.remediation and rule.severity
