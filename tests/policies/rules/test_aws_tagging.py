"""aws-required-tags, and the generated list of taggable AWS types."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from policies import aws_taggable
from policies.config import DEFAULT_CONFIG, PolicyConfig, TaggingSettings
from policies.model import NOT_APPLICABLE, UNKNOWN, Resource, RuleContext
from policies.rules.aws_tagging import RULES, required_tags

NOW = datetime(2026, 11, 27, tzinfo=UTC)
PROD = RuleContext(stack="prod-us-east-1", tier="production", config=DEFAULT_CONFIG, now=NOW)
TEST = RuleContext(stack="env-demo", tier="test", config=DEFAULT_CONFIG, now=NOW)
BUCKET = "aws:s3/bucket:Bucket"
BASE_TAGS = {"owner": "jane", "team": "chat", "environment": "prod", "managed-by": "sre-platform"}


def res(type_: str, name: str, inputs: dict[str, Any]) -> Resource:
    return Resource(
        type=type_, name=name, urn=f"urn:pulumi:prod::sre-platform::{type_}::{name}", inputs=inputs
    )


def messages(outcome: Any) -> list[str]:
    assert outcome is not NOT_APPLICABLE
    return [v.message for v in outcome]


def test_module_lists_its_rule() -> None:
    assert [r.id for r in RULES] == ["aws-required-tags"]
    assert RULES[0].severity == "medium"
    assert "`tags`" in RULES[0].remediation


def test_fully_tagged_bucket_passes() -> None:
    assert messages(required_tags.check(res(BUCKET, "audit", {"tags": BASE_TAGS}), PROD)) == []


def test_missing_tags_are_named() -> None:
    tags = {"owner": "jane", "environment": "prod"}
    [message] = messages(required_tags.check(res(BUCKET, "audit", {"tags": tags}), PROD))
    assert "team, managed-by" in message
    assert "'audit'" in message
    assert "`tags`" in message


def test_no_tags_input_at_all_misses_everything() -> None:
    [message] = messages(required_tags.check(res("aws:kms/key:Key", "data", {}), PROD))
    assert "owner, team, environment, managed-by" in message


def test_empty_tag_value_counts_as_missing() -> None:
    tags = {**BASE_TAGS, "owner": ""}
    [message] = messages(required_tags.check(res(BUCKET, "audit", {"tags": tags}), PROD))
    assert "owner" in message


def test_tags_all_does_not_count() -> None:
    outcome = required_tags.check(res(BUCKET, "audit", {"tagsAll": BASE_TAGS}), PROD)
    assert len(messages(outcome)) == 1


@pytest.mark.parametrize(
    "type_",
    [
        "aws:s3/bucketPolicy:BucketPolicy",  # takes no tags
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        "aws:devopsguru/resourceCollection:ResourceCollection",  # `tags` is a filter there
        "kubernetes:core/v1:Namespace",
        "sre:environments:TestEnvironment",
        "aws-native:s3:Bucket",
    ],
)
def test_not_applicable_to_untaggable_or_foreign_types(type_: str) -> None:
    assert required_tags.check(res(type_, "x", {}), PROD) is NOT_APPLICABLE


def test_unknown_tag_values_count_as_present() -> None:
    tags = {**BASE_TAGS, "owner": UNKNOWN}
    assert messages(required_tags.check(res(BUCKET, "audit", {"tags": tags}), PROD)) == []


def test_unknown_tags_map_is_not_judged() -> None:
    assert messages(required_tags.check(res(BUCKET, "audit", {"tags": UNKNOWN}), TEST)) == []


def test_autoscaling_group_list_tags_are_read() -> None:
    asg = "aws:autoscaling/group:Group"
    tags = [{"key": k, "value": v, "propagateAtLaunch": True} for k, v in BASE_TAGS.items()]
    assert messages(required_tags.check(res(asg, "nodes", {"tags": tags}), PROD)) == []
    [message] = messages(required_tags.check(res(asg, "nodes", {"tags": tags[:2]}), PROD))
    assert "environment, managed-by" in message


def test_test_tier_requires_expires_at_but_production_does_not() -> None:
    bucket = res(BUCKET, "files", {"tags": BASE_TAGS})
    assert messages(required_tags.check(bucket, PROD)) == []
    [message] = messages(required_tags.check(bucket, TEST))
    assert "expires-at" in message


@pytest.mark.parametrize(
    "value",
    [
        "2026-11-30T12:00:00Z",  # as utc_timestamp writes it
        "2026-12-11T00:00:00+00:00",  # exactly 14 days from now
        "2026-12-01T09:00:00+02:00",  # any timezone-aware time
        "2026-11-01T00:00:00Z",  # already past: reaped elsewhere, not this rule's concern
        UNKNOWN,
    ],
)
def test_valid_expiry(value: Any) -> None:
    bucket = res(BUCKET, "files", {"tags": {**BASE_TAGS, "expires-at": value}})
    assert messages(required_tags.check(bucket, TEST)) == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-12-11T00:00:01Z", "more than 14 days"),
        ("2027-06-01T00:00:00Z", "latest allowed: 2026-12-11T00:00:00Z"),
        ("2026-11-30T12:00:00", "no timezone"),
        ("next tuesday", "not an ISO-8601"),
        ("30/11/2026", "not an ISO-8601"),
    ],
)
def test_invalid_expiry(value: str, expected: str) -> None:
    bucket = res(BUCKET, "files", {"tags": {**BASE_TAGS, "expires-at": value}})
    [message] = messages(required_tags.check(bucket, TEST))
    assert expected in message
    assert repr(value) in message


def test_max_lifetime_comes_from_config() -> None:
    config = PolicyConfig(tagging=TaggingSettings(max_lifetime_days=2))
    ctx = RuleContext(stack="env-demo", tier="test", config=config, now=NOW)
    ok = res(BUCKET, "f", {"tags": {**BASE_TAGS, "expires-at": "2026-11-29T00:00:00Z"}})
    late = res(BUCKET, "f", {"tags": {**BASE_TAGS, "expires-at": "2026-11-29T00:00:01Z"}})
    assert messages(required_tags.check(ok, ctx)) == []
    assert "more than 2 days" in messages(required_tags.check(late, ctx))[0]


def test_required_tags_come_from_config() -> None:
    config = PolicyConfig(tagging=TaggingSettings(required=("cost-center",)))
    ctx = RuleContext(stack="prod", tier="production", config=config, now=NOW)
    [message] = messages(required_tags.check(res(BUCKET, "b", {"tags": BASE_TAGS}), ctx))
    assert "cost-center" in message
    assert "owner" not in message


def test_taggable_types_file_is_sorted_and_has_the_common_types() -> None:
    text = aws_taggable.data_path().read_text(encoding="utf-8")
    tokens = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert tokens == sorted(set(tokens))
    assert f"pulumi-aws {aws_taggable.sdk_version()}" in text.splitlines()[0]
    types = aws_taggable.taggable_types()
    assert frozenset(tokens) == types
    for token in (
        BUCKET,
        "aws:s3/bucketV2:BucketV2",
        "aws:rds/instance:Instance",
        "aws:ec2/securityGroup:SecurityGroup",
        "aws:autoscaling/group:Group",
        "aws:dynamodb/tableReplica:TableReplica",  # its Args class is TableReplicaInitArgs
    ):
        assert token in types
    for token in (
        "aws:s3/bucketPolicy:BucketPolicy",
        "aws:devopsguru/resourceCollection:ResourceCollection",
        "aws:index/provider:Provider",
    ):
        assert token not in types


def test_scanner_on_a_small_module() -> None:
    source = """
@pulumi.input_type
class ThingArgs:
    def __init__(__self__, *, tags=None):
        pass

    @_builtins.property
    @pulumi.getter
    def tags(self) -> pulumi.Input[Optional[Mapping[str, pulumi.Input[_builtins.str]]]]:
        return pulumi.get(self, "tags")


@pulumi.input_type
class _ThingState:
    pass


@pulumi.type_token("aws:demo/thing:Thing")
class Thing(pulumi.CustomResource):
    pass


@pulumi.input_type
class OtherArgs:
    name: str


@pulumi.input_type
class _OtherState:
    @_builtins.property
    def tags(self) -> pulumi.Input[Optional[Mapping[str, pulumi.Input[_builtins.str]]]]:
        return pulumi.get(self, "tags")


@pulumi.type_token("aws:demo/other:Other")
class Other(pulumi.CustomResource):
    def tags(self) -> pulumi.Output[Optional[Mapping[str, _builtins.str]]]:
        pass
"""
    assert aws_taggable.taggable_in_module(source) == {"aws:demo/thing:Thing"}


@pytest.mark.slow
def test_taggable_types_file_is_current() -> None:
    """Fails after a pulumi-aws upgrade until `python3 -m policies.aws_taggable` is run."""
    current = aws_taggable.data_path().read_text(encoding="utf-8")
    assert current == aws_taggable.generate(), "run: python3 -m policies.aws_taggable"
