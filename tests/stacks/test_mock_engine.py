"""The mock engine every component and stack test stands on."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws
import pulumi_random as random
import pytest

from stacks.mock_engine import SecretValue, run_under_mocks


class _Pair(pulumi.ComponentResource):
    def __init__(self, name: str) -> None:
        super().__init__("test:index:Pair", name)
        aws.s3.Bucket(f"{name}-a", opts=pulumi.ResourceOptions(parent=self, protect=True))
        self.register_outputs({})


def test_records_type_name_parent_inputs_and_options() -> None:
    def program() -> None:
        _Pair("p")
        password = random.RandomPassword("pw", length=16)
        aws.s3.Bucket("b", tags={"team": pulumi.Config().require("team")})
        pulumi.export("secret", pulumi.Output.secret(password.result))
        pulumi.export("plain", "x")

    run = run_under_mocks(program, project="proj", stack="dev", config={"proj:team": "sre"})
    pair = run.one("test:index:Pair")
    child = run.one("aws:s3/bucket:Bucket", "p-a")
    assert child.parent == pair.urn
    assert child.protect is True
    assert child.urn == "urn:pulumi:dev::proj::test:index:Pair$aws:s3/bucket:Bucket::p-a"
    assert run.one("aws:s3/bucket:Bucket", "b").inputs == {"tags": {"team": "sre"}}
    assert run.children_of(pair.urn) == [child]
    assert isinstance(run.exports["secret"], SecretValue)
    assert "mock-password" not in repr(run.exports["secret"])
    assert run.exports["plain"] == "x"


def test_each_run_is_isolated() -> None:
    def program() -> None:
        aws.s3.Bucket(pulumi.get_stack(), tags={"v": pulumi.Config().get("v") or "unset"})

    first = run_under_mocks(program, project="proj", stack="one", config={"proj:v": "1"})
    second = run_under_mocks(program, project="proj", stack="two")
    assert [(r.name, r.inputs["tags"]["v"]) for r in first.resources] == [("one", "1")]
    assert [(r.name, r.inputs["tags"]["v"]) for r in second.resources] == [("two", "unset")]
    assert first.resources[0].parent.endswith("::proj-one")
    assert second.resources[0].parent.endswith("::proj-two")


def test_program_errors_propagate() -> None:
    def program() -> None:
        raise pulumi.RunError("bad config")

    with pytest.raises(pulumi.RunError, match="bad config"):
        run_under_mocks(program, project="proj", stack="dev")


def test_one_fails_loudly_when_ambiguous() -> None:
    def two_buckets() -> None:
        aws.s3.Bucket("x")
        aws.s3.Bucket("y")

    run = run_under_mocks(two_buckets, project="p", stack="s")
    with pytest.raises(LookupError, match="expected one"):
        run.one("aws:s3/bucket:Bucket")


def test_records_explicit_depends_on_besides_input_dependencies() -> None:
    def program() -> None:
        first = aws.s3.Bucket("first")
        aws.s3.Bucket("second", opts=pulumi.ResourceOptions(depends_on=[first]))

    run = run_under_mocks(program, project="proj", stack="dev")
    first, second = (
        run.one("aws:s3/bucket:Bucket", "first"),
        run.one("aws:s3/bucket:Bucket", "second"),
    )
    assert first.urn in second.dependencies
    assert second.property_dependencies == {}  # no input of it comes from first
    assert first.dependencies == ()
