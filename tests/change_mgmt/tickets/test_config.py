"""Jira settings from SRE_JIRA_* variables, and the field-name mapping."""

from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError

from change_mgmt.errors import SreError
from change_mgmt.tickets import (
    CloudAuth,
    DataCenterAuth,
    JiraClient,
    JiraConfig,
    JiraFieldNames,
    JiraFlavor,
    TicketConfigError,
)

CLOUD = {
    "SRE_JIRA_URL": "https://example.atlassian.net/",
    "SRE_JIRA_EMAIL": "sre-bot@example.com",
    "SRE_JIRA_API_TOKEN": "ATATT3xFfGF0-token",
    "SRE_JIRA_PROJECT": "OPS",
}
DC = {
    "SRE_JIRA_URL": "https://jira.example.com/jira",
    "SRE_JIRA_PAT": "NjE4OTY3MzQ0OTk2-pat",
    "SRE_JIRA_PROJECT": "CHG",
}


def test_no_url_means_no_jira() -> None:
    assert JiraConfig.from_env({}) is None
    assert JiraConfig.from_env({"SRE_JIRA_URL": "  ", "SRE_JIRA_PROJECT": "OPS"}) is None
    assert JiraConfig.from_env({"HOME": "/root"}) is None


def test_cloud_from_env() -> None:
    config = JiraConfig.from_env(CLOUD)
    assert config is not None
    assert config.url == "https://example.atlassian.net"
    assert isinstance(config.auth, CloudAuth)
    assert config.auth.email == "sre-bot@example.com"
    assert config.auth.api_token.get_secret_value() == "ATATT3xFfGF0-token"
    assert config.auth.flavor is JiraFlavor.CLOUD
    assert config.project == "OPS"
    assert config.issue_type == "Change"
    assert config.timeout == 10.0
    assert config.fields == JiraFieldNames()


def test_data_center_from_env_with_options() -> None:
    config = JiraConfig.from_env(
        {**DC, "SRE_JIRA_ISSUE_TYPE": "Change Request", "SRE_JIRA_TIMEOUT": "2.5"}
    )
    assert config is not None
    assert config.url == "https://jira.example.com/jira"
    assert isinstance(config.auth, DataCenterAuth)
    assert config.auth.flavor is JiraFlavor.DATA_CENTER
    assert config.issue_type == "Change Request"
    assert config.timeout == 2.5
    client = JiraClient.from_config(config)
    assert client.flavor is JiraFlavor.DATA_CENTER
    assert client.base_url == "https://jira.example.com/jira"
    client.close()


def test_loopback_http_is_allowed_for_tests() -> None:
    for url in ("http://127.0.0.1:8080", "http://localhost:1234/jira", "http://[::1]:80"):
        config = JiraConfig.from_env({**DC, "SRE_JIRA_URL": url})
        assert config is not None


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        (
            {"SRE_JIRA_URL": "https://j.example.com", "SRE_JIRA_PROJECT": "OPS"},
            "SRE_JIRA_URL is set but SRE_JIRA_EMAIL is not: Jira Cloud needs",
        ),
        (
            {**CLOUD, "SRE_JIRA_API_TOKEN": ""},
            "SRE_JIRA_API_TOKEN is not (SRE_JIRA_EMAIL is)",
        ),
        (
            {**CLOUD, "SRE_JIRA_EMAIL": ""},
            "SRE_JIRA_EMAIL is not (SRE_JIRA_API_TOKEN is)",
        ),
        ({**CLOUD, "SRE_JIRA_PAT": "NjE4OTY3MzQ0OTk2-pat"}, "set only the pair for Cloud"),
        ({**DC, "SRE_JIRA_URL": "http://jira.example.com"}, "plain http"),
        ({**DC, "SRE_JIRA_URL": "ftp://jira.example.com"}, "is not an https:// URL"),
        ({**DC, "SRE_JIRA_URL": "jira.example.com"}, "is not an https:// URL"),
        ({**DC, "SRE_JIRA_URL": "https://jira.example.com/?x=1"}, "query or fragment"),
        ({**DC, "SRE_JIRA_URL": "https://bob:hunter2@jira.example.com"}, "credentials"),
        ({**DC, "SRE_JIRA_URL": "https://acme.atlassian.net"}, "does not accept personal access"),
        ({**DC, "SRE_JIRA_PROJECT": ""}, "SRE_JIRA_PROJECT is not set"),
        ({**DC, "SRE_JIRA_PROJECT": "ops"}, "SRE_JIRA_PROJECT: 'ops' is not a Jira project key"),
        ({**DC, "SRE_JIRA_TIMEOUT": "fast"}, "SRE_JIRA_TIMEOUT: 'fast' is not a timeout"),
        ({**DC, "SRE_JIRA_TIMEOUT": "0"}, "SRE_JIRA_TIMEOUT"),
        ({**DC, "SRE_JIRA_TIMEOUT": "nan"}, "SRE_JIRA_TIMEOUT"),
        ({**DC, "SRE_JIRA_TIMEOUT": "301"}, "<= 300"),
        ({**CLOUD, "SRE_JIRA_EMAIL": "not-an-email"}, "SRE_JIRA_EMAIL: 'not-an-email' is not"),
        ({**DC, "SRE_JIRA_PAT": "short"}, "SRE_JIRA_PAT: the personal access token is 5"),
        (
            {"SRE_JIRA_PAT": "NjE4OTY3MzQ0OTk2-pat"},
            "SRE_JIRA_PAT set but SRE_JIRA_URL is not",
        ),
        (
            {"SRE_JIRA_API_TOKEN": "ATATT3xFfGF0-token", "SRE_JIRA_EMAIL": "a@b.c"},
            "SRE_JIRA_API_TOKEN set but SRE_JIRA_URL is not",
        ),
    ],
)
def test_half_configured_setups_are_errors(environ: dict[str, str], message: str) -> None:
    with pytest.raises(TicketConfigError) as caught:
        JiraConfig.from_env(environ)
    assert message in str(caught.value)
    assert isinstance(caught.value, SreError)
    assert "hunter2" not in str(caught.value)


def test_from_env_reads_os_environ_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SRE_JIRA_URL", "SRE_JIRA_PAT", "SRE_JIRA_API_TOKEN", "SRE_JIRA_EMAIL"):
        monkeypatch.delenv(name, raising=False)
    assert JiraConfig.from_env() is None
    for name, value in DC.items():
        monkeypatch.setenv(name, value)
    config = JiraConfig.from_env()
    assert config is not None and config.project == "CHG"


def test_config_model_is_ours_and_strict() -> None:
    auth = DataCenterAuth(token=SecretStr("NjE4OTY3MzQ0OTk2-pat"))
    with pytest.raises(ValidationError):
        JiraConfig(url="https://j.example.com", auth=auth, project="OPS", colour="red")  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="plain http"):
        JiraConfig(url="http://j.example.com", auth=auth, project="OPS")
    config = JiraConfig.model_validate(
        {
            "url": "https://j.example.com",
            "auth": {"kind": "cloud", "email": "a@b.c", "api_token": "ATATT3xFfGF0-token"},
            "project": "OPS",
            "fields": {"change_risk": "Risk", "test_plan": None},
        }
    )
    assert isinstance(config.auth, CloudAuth)
    assert config.fields.change_risk == "Risk"


def test_field_names_default_to_jsm_and_map_ours_to_theirs() -> None:
    names = JiraFieldNames()
    assert names.as_mapping() == {
        "change_type": "Change type",
        "change_risk": "Change risk",
        "impact": "Impact",
        "urgency": "Urgency",
        "change_start_date": "Change start date",
        "change_completion_date": "Change completion date",
        "implementation_plan": "Implementation plan",
        "backout_plan": "Backout plan",
        "test_plan": "Test plan",
    }
    custom = JiraFieldNames(change_risk="Risk level", test_plan=None)
    assert custom.as_mapping()["change_risk"] == "Risk level"
    assert "test_plan" not in custom.as_mapping()
    with pytest.raises(ValidationError, match="blank"):
        JiraFieldNames(impact=" ")
    with pytest.raises(ValidationError):
        JiraFieldNames.model_validate({"change_risks": "typo"})
