"""The offline harness with small hand-made rules: enforcement per tier, waivers, order."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from policies.config import PolicyConfig
from policies.evaluate import evaluate
from policies.model import (
    NOT_APPLICABLE,
    Outcome,
    Resource,
    RuleContext,
    Violation,
    resource_rule,
    stack_rule,
    violations,
)
from policies.waivers import Waiver
from tests.policies.conftest import NOW, resource


@resource_rule("bucket-named", "Buckets have a bucket name.", "high", "Set `bucket`.")
def bucket_named(res: Resource, ctx: RuleContext) -> Outcome:
    if res.type != "aws:s3/bucket:Bucket":
        return NOT_APPLICABLE
    return [] if res.get("bucket") else violations([f"{res.name} has no bucket name"])


@stack_rule("one-bucket", "A stack has at most one bucket.", "low", "Merge the buckets.")
def one_bucket(resources: Sequence[Resource], ctx: RuleContext) -> Outcome:
    buckets = [r for r in resources if r.type == "aws:s3/bucket:Bucket"]
    return [Violation(f"{b.name} is one bucket too many", b.urn) for b in buckets[1:]]


RULES = (bucket_named, one_bucket)
A = resource("aws:s3/bucket:Bucket", "a", {"bucket": "a"})
B = resource("aws:s3/bucket:Bucket", "b")
QUEUE = resource("aws:sqs/queue:Queue", "q")


def test_findings_name_rule_resource_message_and_remediation() -> None:
    report = evaluate([A, B, QUEUE], "production", stack="prod", rules=RULES, now=NOW)
    assert [(f.rule.id, f.resource_name, f.message) for f in report.findings] == [
        ("bucket-named", "b", "b has no bucket name"),
        ("one-bucket", "b", "b is one bucket too many"),
    ]
    first = report.findings[0].as_dict()
    assert first["remediation"] == "Set `bucket`." and first["blocking"] is True
    assert first["resource"] == {"urn": B.urn, "type": "aws:s3/bucket:Bucket", "name": "b"}
    assert not report.passed and report.rules_run == 2


def test_a_compliant_stack_passes() -> None:
    report = evaluate([A, QUEUE], "production", stack="prod", rules=RULES, now=NOW)
    assert report.findings == () and report.passed


def test_the_tier_decides_enforcement() -> None:
    report = evaluate([A, B], stack="dev-dana", rules=RULES, now=NOW)
    assert report.tier == "development"
    assert {f.enforcement for f in report.findings} == {"advisory"}
    assert report.passed  # advisory findings are reported, never blocking


def test_a_disabled_rule_does_not_run() -> None:
    config = PolicyConfig.model_validate(
        {"enforcement": {"rules": {"one-bucket": {"production": "disabled"}}}}
    )
    report = evaluate([A, B], "production", config, rules=RULES, now=NOW)
    assert [f.rule.id for f in report.findings] == ["bucket-named"] and report.rules_run == 1


def waiver(expires: date, resource_pattern: str = "b") -> Waiver:
    return Waiver(
        rule="bucket-named",
        resource=resource_pattern,
        reason="legacy bucket, named by the import",
        owner="sre@example.com",
        expires=expires,
    )


def test_a_waived_finding_is_reported_but_does_not_block() -> None:
    report = evaluate(
        [A, B], "production", rules=(bucket_named,), waivers=[waiver(date(2026, 12, 31))], now=NOW
    )
    (finding,) = report.findings
    assert finding.status == "waived" and not finding.blocking and report.passed
    assert finding.as_dict()["waiver"]["owner"] == "sre@example.com"


def test_an_expired_waiver_no_longer_applies_and_is_listed() -> None:
    lapsed = waiver(date(2026, 11, 1))
    report = evaluate([A, B], "production", rules=(bucket_named,), waivers=[lapsed], now=NOW)
    (finding,) = report.findings
    assert finding.blocking and finding.expired_waiver == lapsed
    assert report.expired_waivers == (lapsed,) and not report.passed


def test_blocking_findings_come_first() -> None:
    config = PolicyConfig.model_validate(
        {"enforcement": {"rules": {"bucket-named": {"production": "advisory"}}}}
    )
    report = evaluate([A, B], "production", config, rules=RULES, now=NOW)
    assert [f.rule.id for f in report.findings] == ["one-bucket", "bucket-named"]


def test_the_report_says_which_rules_concerned_the_stack() -> None:
    assert evaluate([QUEUE], "production", rules=RULES, now=NOW).applicable == {"one-bucket"}
    assert evaluate([A, QUEUE], "production", rules=RULES, now=NOW).applicable == {
        "bucket-named",
        "one-bucket",
    }
