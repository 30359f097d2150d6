from __future__ import annotations

from policies.model import UNKNOWN, dig, stack_of
from tests.policies.conftest import resource


def test_dig_reads_through_mappings_and_lists() -> None:
    data = {"spec": {"containers": [{"name": "app"}]}}
    assert dig(data, "spec", "containers", 0, "name") == "app"
    assert dig(data, "spec", "containers", 1, "name") is None
    assert dig(data, "spec", "missing", "name") is None


def test_an_unknown_on_the_way_makes_the_value_unknown_not_missing() -> None:
    bucket = resource("aws:s3/bucket:Bucket", "b", {"versioning": UNKNOWN, "tags": {"a": UNKNOWN}})
    assert bucket.get("versioning", "enabled") is UNKNOWN
    assert bucket.get("tags", "a") is UNKNOWN
    assert bucket.get("tags", "b") is None


def test_the_stack_comes_from_the_urn() -> None:
    assert stack_of("urn:pulumi:prod-eu::sre-platform::aws:s3/bucket:Bucket::b") == "prod-eu"
    assert stack_of("not-a-urn") == ""
