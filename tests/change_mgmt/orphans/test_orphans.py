"""The orphan finder against moto (in process): exactly the planted orphans, priced."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from change_mgmt.environments import orphans as lib
from components.test_environment.metadata import MANAGED_BY
from policies.cost import default_price_table
from policies.tagging import REQUIRED_TEST_ENVIRONMENT_TAGS
from tests.change_mgmt.orphans.planting import (
    FAKE_CREDENTIALS,
    HOME,
    OTHER,
    REGIONS,
    Planted,
    env_tags,
    plant,
)

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for key, value in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    with mock_aws():
        yield


@pytest.fixture
def planted(aws: None, tmp_path: Path) -> Planted:
    return plant(boto3.client, tmp_path / "project", NOW)


def test_the_finder_reads_the_tag_keys_the_component_sets() -> None:
    tags = {t["Key"]: t["Value"] for t in env_tags("x", NOW)}
    assert tags[lib.MANAGED_BY_TAG] == MANAGED_BY
    assert tags[lib.ENVIRONMENT_TAG] == "x"
    # The pack requires managed-by on every test-environment resource: the finder's key.
    assert lib.MANAGED_BY_TAG in REQUIRED_TEST_ENVIRONMENT_TAGS
    assert {lib.TEAM_TAG, lib.OWNER_TAG, lib.EXPIRES_TAG} <= set(REQUIRED_TEST_ENVIRONMENT_TAGS)


def test_finds_exactly_the_planted_orphans_in_both_regions(planted: Planted) -> None:
    report = lib.find_orphans(planted.project, REGIONS, NOW)
    found = {o.resource.arn: o.reason for o in report.orphans}
    assert found == planted.orphans
    assert {u.resource.arn for u in report.undetermined} == planted.undetermined
    assert not planted.not_orphans & set(found)
    assert report.platform == 2
    assert report.active == 2
    assert report.scanned == len(planted.orphans) + len(planted.not_orphans) + 1


def test_each_orphan_has_its_region_and_waste_from_the_price_table(planted: Planted) -> None:
    table = default_price_table()
    report = lib.find_orphans(planted.project, REGIONS, NOW)
    by_id = {o.resource.resource_id: o for o in report.orphans}
    assert by_id["gone-env-files"].resource.region == OTHER  # asked of S3, not guessed
    assert by_id["old-env-files"].resource.region == HOME
    assert by_id["mm-gone-env"].resource.region == OTHER
    medium = table.rds_postgres_instance_hourly["db.t4g.medium"] * table.hours_per_month
    expected = round(medium + 20 * table.rds_gp3_storage_gb_month, 2)
    assert by_id["mm-old-env"].waste.monthly == expected
    assert "db.t4g.medium" in by_id["mm-old-env"].waste.basis
    assert by_id["old-env-files"].waste.monthly == round(
        table.s3_assumed_gb * table.s3_standard_gb_month, 2
    )
    queue = by_id["gone-env-events"]
    assert queue.waste.monthly is None and "no price" in queue.waste.basis
    assert report.unpriced == 1
    assert report.known_waste == round(sum(o.waste.monthly or 0 for o in report.orphans), 2)


def test_an_expired_orphan_says_when_and_a_deleted_one_why(planted: Planted) -> None:
    report = lib.find_orphans(planted.project, REGIONS, NOW)
    by_id = {o.resource.resource_id: o for o in report.orphans}
    assert by_id["mm-old-env"].expired_at is not None
    assert by_id["mm-old-env"].expired_at < NOW
    assert by_id["mm-gone-env"].detail == "no request stacks/environments/gone-env.yaml"
    assert by_id["hostile-files"].detail == "no request can have this name"


def test_a_single_region_sees_only_its_own_orphans(planted: Planted) -> None:
    report = lib.find_orphans(planted.project, [OTHER], NOW)
    assert {o.resource.region for o in report.orphans} == {OTHER}
    assert {o.resource.resource_id for o in report.orphans} >= {"mm-gone-env", "gone-env-events"}


def test_extending_an_environment_takes_its_resources_off_the_list(planted: Planted) -> None:
    request = planted.project / "stacks" / "environments" / "old-env.yaml"
    text = request.read_text().splitlines()
    later = [
        line if not line.startswith("expires_at:") else "expires_at: 2099-01-01T00:00:00Z"
        for line in text
    ]
    request.write_text("\n".join(later) + "\n")
    report = lib.find_orphans(planted.project, REGIONS, NOW)
    assert {o.resource.environment for o in report.orphans} == {"gone-env", "../../Pulumi"}


def test_nothing_tagged_means_no_orphans(aws: None, tmp_path: Path) -> None:
    (tmp_path / "stacks" / "environments").mkdir(parents=True)
    report = lib.find_orphans(tmp_path, REGIONS, NOW)
    assert report.orphans == [] and report.scanned == 0


def test_configured_regions_come_from_the_project_and_platform_stack_files(
    tmp_path: Path,
) -> None:
    from tests.conftest import REPO_ROOT

    assert lib.configured_regions(REPO_ROOT) == ["us-east-1"]
    (tmp_path / "Pulumi.yaml").write_text("name: x\nconfig:\n  aws:region: eu-west-1\n")
    (tmp_path / "Pulumi.prod.yaml").write_text("config:\n  sre-platform:region: eu-central-1\n")
    assert lib.configured_regions(tmp_path) == ["eu-west-1", "eu-central-1"]
    (tmp_path / "Pulumi.dev.yaml").write_text("config:\n  sre-platform:region: moon-1\n")
    with pytest.raises(lib.InvalidRegion, match=r"Pulumi.dev.yaml sre-platform:region: 'moon-1'"):
        lib.configured_regions(tmp_path)


@pytest.mark.parametrize("region", ["", "us-east", "US-EAST-1", "us-east-1/../x"])
def test_a_bad_region_name_is_refused(region: str) -> None:
    with pytest.raises(lib.InvalidRegion):
        lib.check_region(region)


def test_access_denied_is_one_clear_error(planted: Planted) -> None:
    from botocore.exceptions import ClientError

    class Denied:
        def get_paginator(self, name: str) -> Denied:
            return self

        def paginate(self, **kwargs: object) -> list[object]:
            raise ClientError(
                {"Error": {"Code": "AccessDeniedException", "Message": "not allowed"}},
                "GetResources",
            )

    with pytest.raises(
        lib.OrphanScanError, match=r"^AWS in eu-west-1: AccessDeniedException: not allowed$"
    ):
        lib.find_orphans(planted.project, [OTHER], NOW, client=lambda service, region: Denied())
