from __future__ import annotations

from pathlib import Path

import pytest

from change_mgmt.documents import DocumentError
from policies.config import DEFAULT_CONFIG, PolicyConfig, load_config


@pytest.mark.parametrize(
    ("stack", "tier"),
    [
        ("prod", "production"),
        ("acme/sre-platform/prod-observability", "production"),
        ("staging-eu", "staging"),
        ("env-pg-migration", "test"),
        ("dev-dana", "development"),
        ("something-else", "production"),  # unknown stacks get the strictest tier
    ],
)
def test_the_tier_comes_from_the_stack_name(stack: str, tier: str) -> None:
    assert DEFAULT_CONFIG.tier_of(stack) == tier


def test_enforcement_defaults_by_tier_and_overrides_by_rule() -> None:
    config = PolicyConfig.model_validate(
        {"enforcement": {"rules": {"s3-bucket-versioned": {"staging": "advisory"}}}}
    )
    assert config.enforcement_of("s3-bucket-versioned", "staging") == "advisory"
    assert config.enforcement_of("s3-bucket-versioned", "production") == "mandatory"
    assert config.enforcement_of("any-rule", "development") == "advisory"


def test_a_partial_tier_table_keeps_the_other_defaults() -> None:
    config = PolicyConfig.model_validate({"enforcement": {"by_tier": {"test": "advisory"}}})
    assert config.enforcement_of("x", "test") == "advisory"
    assert config.enforcement_of("x", "development") == "advisory"
    assert config.enforcement_of("x", "production") == "mandatory"


def test_a_missing_file_means_the_defaults(tmp_path: Path) -> None:
    assert load_config(tmp_path / "config.yaml") == DEFAULT_CONFIG


def test_a_settings_file_overrides_only_what_it_names(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("test_environment:\n  max_monthly_cost_usd: 80\n")
    config = load_config(path)
    assert config.test_environment.max_monthly_cost_usd == 80
    assert config.tagging == DEFAULT_CONFIG.tagging


def test_a_bad_setting_names_file_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(
        "tagging:\n  max_lifetime_days: 14\nenforcement:\n  by_tier:\n    prod: mandatory\n"
    )
    with pytest.raises(DocumentError) as caught:
        load_config(path, shown_path="policies/config.yaml")
    assert str(caught.value).startswith("policies/config.yaml:5:")
    assert "enforcement.by_tier" in str(caught.value)


def test_an_unknown_key_is_refused_with_a_suggestion(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("taging:\n  required: [owner]\n")
    with pytest.raises(DocumentError, match=r"config.yaml:1:1: taging: .*tagging"):
        load_config(path)


def test_the_shipped_settings_file_loads() -> None:
    shipped = Path(__file__).resolve().parents[2] / "policies" / "config.yaml"
    assert shipped.is_file()
    assert isinstance(load_config(shipped), PolicyConfig)


def test_every_setting_is_documented_in_the_policy_pack_page() -> None:
    page = (Path(__file__).resolve().parents[2] / "docs" / "policy-pack.md").read_text()
    section = page.split("## Tiers and enforcement", 1)[1].split("## Waivers", 1)[0]
    for name, field in PolicyConfig.model_fields.items():
        nested = getattr(field.annotation, "model_fields", None)
        keys = [f"{name}.{sub}" for sub in nested] if nested else [name]
        for key in keys:
            assert f"| `{key}` |" in section, f"{key} is not documented"
