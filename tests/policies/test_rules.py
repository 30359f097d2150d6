from __future__ import annotations

import pytest

from policies.naming import dns_label_problem
from policies.secrets import plaintext_secret_problem
from policies.tagging import missing_tags


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MM_EMAILSETTINGS_SMTPPASSWORD", "anything"),
        ("GITLAB_TOKEN", "abc"),
        ("MM_SQLSETTINGS_DATASOURCE", "postgres://u:p@h/db"),
        ("MM_FILESETTINGS_AMAZONS3SECRETACCESSKEY", "x"),
        ("SOMETHING", "AKIAIOSFODNN7EXAMPLE"),
        ("SOMETHING", "-----BEGIN RSA PRIVATE KEY-----\nMIIE"),
        ("SOMETHING", "ghp_" + "a1B2" * 9),
        ("SOMETHING", "xoxb-1234567890-abcdefghij"),
        ("CALLBACK", "https://bot:hunter2@hooks.example.com/x"),
        ("SOMETHING", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.sig"),
        ("SOMETHING", "Zx8q2LmP0vR7tY4wK9sD3fG6hJ1"),
    ],
)
def test_plaintext_secrets_are_recognised(name: str, value: str) -> None:
    problem = plaintext_secret_problem(name, value)
    assert problem is not None
    assert value not in problem


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MM_LOGSETTINGS_CONSOLELEVEL", "DEBUG"),
        ("MM_SERVICESETTINGS_SITEURL", "https://demo.test.example.com"),
        ("MM_SERVICESETTINGS_ENABLEDEVELOPER", "true"),
        ("MM_FEATUREFLAGS_SOMEFLAG", "enabled-for-all-users-in-this-env"),
        ("MM_EMAILSETTINGS_SMTPPASSWORD", ""),
    ],
)
def test_ordinary_values_pass(name: str, value: str) -> None:
    assert plaintext_secret_problem(name, value) is None


def test_dns_label_rules() -> None:
    assert dns_label_problem("ok-name-1", max_length=40) is None
    assert dns_label_problem("", max_length=40) == "must not be empty"
    assert "at most 5" in (dns_label_problem("toolong", max_length=5) or "")
    for bad in ("-lead", "trail-", "Upper", "under_score", "dot.ted"):
        assert dns_label_problem(bad) is not None


def test_missing_tags_in_order() -> None:
    assert (
        missing_tags(
            {"owner": "a", "team": "b", "environment": "test", "expires-at": "x", "managed-by": "y"}
        )
        == []
    )
    assert missing_tags({"owner": "a", "team": ""}) == [
        "team",
        "environment",
        "expires-at",
        "managed-by",
    ]
    assert missing_tags(None) == ["owner", "team", "environment", "expires-at", "managed-by"]
