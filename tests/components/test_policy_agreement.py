"""The component and the policy pack never disagree.

The component refuses at construction what the pack's rules would refuse (with the rule's
message), and everything it builds passes every mandatory rule of the pack.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from components.test_environment import TestEnvironmentError
from policies.evaluate import evaluate, load_settings
from tests.components.test_test_environment import COMBOS, EVERY_SIZE, make_args, run_combo, run_env

SHIPPED = load_settings(Path(__file__).resolve().parents[2] / "policies").config
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("size", "database", "filestore"), COMBOS)
def test_every_combination_passes_every_mandatory_rule(
    size: str, database: str, filestore: str
) -> None:
    run = run_combo(size, database, filestore)
    report = evaluate(run.resources, stack=run.stack, config=EVERY_SIZE, now=NOW)
    assert report.tier == "test"
    assert [(f.rule.id, f.resource_name, f.message) for f in report.findings] == []


def refused(**overrides: object) -> TestEnvironmentError:
    with pytest.raises(TestEnvironmentError) as caught:
        run_env(make_args(policy=SHIPPED, **overrides))
    return caught.value


def test_a_size_over_the_teams_cap_is_refused_with_the_rules_message() -> None:
    assert "25000users" not in SHIPPED.test_environment.allowed_sizes
    message = str(refused(size="25000users"))
    assert message.startswith("invalid size '25000users': breaks policy rule test-env-size-cap: ")
    assert "not an allowed test environment size" in message


def test_an_expiry_beyond_the_lifetime_is_refused_by_the_tagging_rule() -> None:
    far = datetime.now(UTC) + timedelta(days=SHIPPED.tagging.max_lifetime_days + 5)
    message = str(refused(expires_at=far, filestore="aws-s3"))
    assert message.startswith("invalid expires_at ") and "rule aws-required-tags" in message


def test_a_production_class_database_is_refused_in_a_test_environment() -> None:
    message = str(refused(database="aws-rds-postgres", db_instance_class="db.r6g.large"))
    assert message.startswith(
        "invalid db_instance_class 'db.r6g.large': breaks policy rule rds-instance-class"
    )


def test_an_unpinned_image_is_refused() -> None:
    message = str(refused(version="latest"))
    assert message.startswith("invalid version 'latest': breaks policy rule k8s-image-pinned")


def test_what_the_shipped_settings_allow_builds() -> None:
    run = run_env(
        make_args(
            policy=SHIPPED, size="10000users", database="aws-rds-postgres", filestore="aws-s3"
        )
    )
    assert evaluate(run.resources, stack=run.stack, config=SHIPPED, now=NOW).passed
