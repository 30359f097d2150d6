"""The risk policy document: the shipped default and a repository's overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from change_mgmt.documents import DocumentError
from change_mgmt.preview.model import KNOWN_OPS
from change_mgmt.risk import policy as risk_policy
from change_mgmt.risk.policy import RULES, default_policy, load_risk_policy, merge
from change_mgmt.slo import SLO_DIRECTORY, load_catalog
from tests.conftest import REPO_ROOT


def test_the_default_policy_is_complete() -> None:
    policy = default_policy()
    assert set(policy.op_weights) == KNOWN_OPS - {
        "create-replacement",
        "delete-replaced",
        "read-replacement",
        "import-replacement",
        "discard-replaced",
        "remove-pending-replace",
    }
    assert set(policy.rules) == set(RULES)
    assert policy.riskiest_class[0] == "stateful-data"
    assert [
        policy.tier_of(s)
        for s in ("prod", "prod-eu", "acme/sre/staging", "env-pg-1", "dev", "other")
    ] == [
        "production",
        "production",
        "staging",
        "test",
        "development",
        "production",
    ]


@pytest.mark.parametrize(
    ("type_token", "class_name"),
    [
        ("aws:rds/cluster:Cluster", "stateful-data"),
        ("aws:dynamodb/table:Table", "stateful-data"),
        ("kubernetes:core/v1:PersistentVolumeClaim", "stateful-data"),
        ("aws:route53/zone:Zone", "stateful-data"),
        ("aws:kms/key:Key", "stateful-data"),
        ("aws:s3/bucketPolicy:BucketPolicy", "identity-and-network"),
        ("aws:ec2/subnet:Subnet", "identity-and-network"),
        ("aws:lb/loadBalancer:LoadBalancer", "identity-and-network"),
        ("aws:eks/nodeGroup:NodeGroup", "compute"),
        ("kubernetes:helm.sh/v3:Release", "helm-releases"),
        ("kubernetes:apps/v1:StatefulSet", "kubernetes-workloads"),
        ("kubernetes:core/v1:ConfigMap", "kubernetes-workloads"),
        ("aws:cloudwatch/metricAlarm:MetricAlarm", "supporting"),
    ],
)
def test_resource_classes(type_token: str, class_name: str) -> None:
    found = default_policy().classify(type_token)
    assert found is not None and found[0] == class_name


def test_a_repository_overrides_parts_of_the_default(tmp_path: Path) -> None:
    path = tmp_path / "risk-policy.yaml"
    path.write_text(
        "tiers:\n  - {pattern: 'live-*', tier: production}\n"
        "rules:\n  outside-change-window: {points: 30}\n"
        "approvals:\n  by_level: {low: 0, medium: 1, high: 1, critical: 2}\n"
    )
    policy = load_risk_policy(path)
    assert policy.tier_of("live-eu") == "production"
    assert policy.tier_of("env-x") == "production"  # lists replace: only live-* is listed now
    assert policy.rule("outside-change-window").points == 30
    # Mappings merge key by key: the rule keeps its shipped tiers.
    assert policy.rule("outside-change-window").tiers == ["production"]
    assert policy.approvals.by_level["high"] == 1
    assert policy.op_weights == default_policy().op_weights


def test_no_repository_file_means_the_default(tmp_path: Path) -> None:
    assert load_risk_policy(tmp_path / "absent.yaml") == default_policy()
    assert load_risk_policy(None) == default_policy()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "rules:\n  open-ingres: {points: 1}\n",
            "risk-policy.yaml:2:3: rules: unknown rule 'open-ingres'; did you mean 'open-ingress'?",
        ),
        ("levels: {medium: 50, high: 40}\n", "levels: thresholds must increase"),
        ("op_weights: {delete: 2}\n", "op weights are between 0 and 1"),
        ("rules:\n  open-ingress: {min_level: severe}\n", "rules.open-ingress.min_level"),
        ("change_size: {points_per_doubling: 4, maxpoints: 3}\n", "did you mean 'max_points'?"),
        ("change_windows: {timezone: Mars/Base, hours: {}}\n", "change_windows.timezone"),
        ("approvals:\n  by_level: {low: -1}\n", "approval counts cannot be negative"),
        (
            "tiers:\n  - {pattern: 'x*', tier: canary}\n",
            "tier_multipliers needs a factor for tiers ['canary']",
        ),
    ],
)
def test_bad_policies_name_file_line_and_field(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "risk-policy.yaml"
    path.write_text(text)
    with pytest.raises(DocumentError) as caught:
        load_risk_policy(path, display_path="risk-policy.yaml")
    assert expected in str(caught.value)
    assert str(caught.value).startswith("risk-policy.yaml:")


def test_merge_replaces_lists_and_merges_mappings() -> None:
    assert merge({"a": {"b": 1, "c": [1]}, "d": 1}, {"a": {"c": [2]}, "e": 2}) == {
        "a": {"b": 1, "c": [2]},
        "d": 1,
        "e": 2,
    }


# -- error budgets: the SLOs of slos/ ------------------------------------------------------


def _repository_slo_ids() -> set[str]:
    catalog = load_catalog([REPO_ROOT / SLO_DIRECTORY], relative_to=REPO_ROOT)
    return {slo.id for slo, _ in catalog.slos()}


def test_the_default_policy_names_slos_that_slos_defines() -> None:
    policy = default_policy()
    assert policy.error_budget.slos_for("prod") == ["mattermost-api-requests-availability"]
    assert policy.error_budget.slos_for("staging") == []
    assert policy.unknown_slo_problems(_repository_slo_ids(), SLO_DIRECTORY) == []


def test_an_unknown_slo_in_the_repository_policy_is_its_file_line_and_field(
    tmp_path: Path,
) -> None:
    path = tmp_path / "risk-policy.yaml"
    path.write_text(
        "error_budget:\n  slos:\n    'prod*':\n      - mattermost-api-requests-availability\n"
        "      - mattermost-api-request-availability\n"
    )
    policy = load_risk_policy(path, display_path="risk-policy.yaml")
    (problem,) = policy.unknown_slo_problems(_repository_slo_ids(), SLO_DIRECTORY)
    assert str(problem) == (
        "risk-policy.yaml:5:9: error_budget.slos.prod*[1]: no SLO "
        "'mattermost-api-request-availability' in slos/ (did you mean "
        "'mattermost-api-requests-availability'?); ids are <service>-<slo>"
    )


def test_an_unknown_slo_of_the_shipped_policy_points_into_the_shipped_file(
    tmp_path: Path,
) -> None:
    path = tmp_path / "risk-policy.yaml"
    path.write_text("error_budget:\n  slos:\n    'staging*': [push-proxy-latency]\n")
    policy = load_risk_policy(path, display_path="risk-policy.yaml")
    problems = [str(p) for p in policy.unknown_slo_problems({"other-slo"}, SLO_DIRECTORY)]
    shipped = (Path(risk_policy.__file__).parent / "default-policy.yaml").read_text()
    line = next(
        n for n, text in enumerate(shipped.splitlines(), 1) if "mattermost-api-requests" in text
    )
    assert problems == [
        f"change_mgmt/risk/default-policy.yaml:{line}:15: error_budget.slos.prod*[0]: no SLO "
        "'mattermost-api-requests-availability' in slos/ (known: other-slo); "
        "ids are <service>-<slo>",
        "risk-policy.yaml:3:18: error_budget.slos.staging*[0]: no SLO 'push-proxy-latency' "
        "in slos/ (known: other-slo); ids are <service>-<slo>",
    ]


def test_a_repository_can_stop_checking_a_stack_pattern(tmp_path: Path) -> None:
    path = tmp_path / "risk-policy.yaml"
    path.write_text("error_budget:\n  slos:\n    'prod*': []\n")
    policy = load_risk_policy(path)
    assert policy.error_budget.slos_for("prod") == []
    assert policy.unknown_slo_problems(set(), SLO_DIRECTORY) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "error_budget:\n  services:\n    'prod*': [mattermost-api]\n",
            "risk-policy.yaml:3:5: error_budget.services: error_budget.query and "
            "error_budget.services were replaced by error_budget.slos",
        ),
        (
            "error_budget:\n  query: up\n",
            "risk-policy.yaml:2:10: error_budget.query: error_budget.query and",
        ),
        (
            "error_budget:\n  slos:\n    'prod*': ['mattermost api']\n",
            "risk-policy.yaml:3:15: error_budget.slos.prod*[0]: 'mattermost api' is not a valid name",
        ),
    ],
)
def test_old_and_bad_error_budget_settings_say_how_to_write_them(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = tmp_path / "risk-policy.yaml"
    path.write_text(text)
    with pytest.raises(DocumentError) as caught:
        load_risk_policy(path, display_path="risk-policy.yaml")
    assert str(caught.value).startswith(expected)
