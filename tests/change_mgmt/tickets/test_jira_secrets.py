"""No token, PAT, Basic credential or Authorization value in any exception, log or repr."""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterator

import httpx
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr, ValidationError

from change_mgmt.tickets import (
    CloudAuth,
    DataCenterAuth,
    JiraClient,
    JiraConfig,
    JiraError,
    RetryPolicy,
    TicketConfigError,
)
from tests.fakes.jira import DEFAULT_EMAIL, FakeJira, Fault

TOKENS = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=8, max_size=64
)
"""What a pasted token can be: printable ASCII without spaces, 8+ characters."""


@pytest.fixture(scope="module")
def sites() -> Iterator[dict[str, FakeJira]]:
    """One fake per flavour for the whole module (hypothesis runs many examples)."""
    with FakeJira.cloud() as cloud, FakeJira.data_center() as dc:
        yield {"cloud": cloud, "data-center": dc}


def forms(auth: CloudAuth | DataCenterAuth) -> list[str]:
    """Every form in which the secret could leak."""
    if isinstance(auth, CloudAuth):
        token = auth.api_token.get_secret_value()
        basic = base64.b64encode(f"{auth.email}:{token}".encode()).decode()
        return [token, basic, f"Basic {basic}"]
    token = auth.token.get_secret_value()
    return [token, f"Bearer {token}"]


def failures(client: JiraClient, site: FakeJira, auth: CloudAuth | DataCenterAuth) -> list[str]:
    """The text of the exceptions of several failure paths, some with the secret echoed."""
    header = auth.header()
    token = forms(auth)[0]
    texts: list[str] = []

    def run(fault: Fault | None) -> None:
        if fault is not None:
            site.inject(fault)
        with pytest.raises(JiraError) as caught:
            client.get_issue("OPS-1")
        error = caught.value
        texts.extend([str(error), repr(error), *error.messages, *error.field_errors.values()])
        texts.extend(error.field_errors.keys())

    run(None)  # wrong credentials: 401 naming the scheme
    run(Fault.error(400, [f"bad header {header}"], {"token": token, token: "echo"}))
    run(Fault(status=500, body=f"proxy says: Authorization: {header}".encode()))
    run(Fault(status=418, body=f"<html>{token}</html>".encode()))
    run(Fault.rate_limited("1", times=2))
    return texts


REFERENCE = "REFERENCE-token-0000"
"""A token whose texts tell which substrings of a message are just our own words:
hypothesis mines string constants from the code, so it tries tokens such as
``"data-cen"``, which do appear in messages without being a leak."""


def http_texts(site: FakeJira, http: httpx.Client, token: str) -> list[str]:
    auth: CloudAuth | DataCenterAuth = (
        CloudAuth(email=DEFAULT_EMAIL, api_token=SecretStr(token))
        if site.flavor == "cloud"
        else DataCenterAuth(token=SecretStr(token))
    )
    logger = logging.getLogger()
    handler = _Collect(logging.DEBUG)
    records = handler.records
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        client = JiraClient(
            site.url,
            auth,
            timeout=1.0,
            client=http,
            retry=RetryPolicy(attempts=2),
            sleep=lambda _: None,
        )
        texts = [*failures(client, site, auth), repr(client), repr(auth), str(auth)]
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    return texts + [r.getMessage() for r in records]


class _Collect(logging.Handler):
    def __init__(self, level: int) -> None:
        super().__init__(level)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


_reference_texts: dict[str, list[str]] = {}


@settings(max_examples=25, deadline=None)
@given(token=TOKENS, flavour=st.sampled_from(["cloud", "data-center"]))
def test_random_tokens_never_appear_in_errors(
    sites: dict[str, FakeJira], shared_client: httpx.Client, token: str, flavour: str
) -> None:
    site = sites[flavour]
    if flavour not in _reference_texts:
        _reference_texts[flavour] = http_texts(site, shared_client, REFERENCE)
    assume(not any(token in text for text in _reference_texts[flavour]))
    auth = (
        CloudAuth(email=DEFAULT_EMAIL, api_token=SecretStr(token))
        if flavour == "cloud"
        else DataCenterAuth(token=SecretStr(token))
    )
    texts = http_texts(site, shared_client, token)
    for secret in forms(auth):
        for text in texts:
            assert secret not in text


BROKEN_ENVIRONMENTS = [
    {"SRE_JIRA_URL": "http://jira.example.com", "SRE_JIRA_PAT": "{}", "SRE_JIRA_PROJECT": "OPS"},
    {"SRE_JIRA_URL": "https://x.atlassian.net", "SRE_JIRA_PAT": "{}", "SRE_JIRA_PROJECT": "OPS"},
    {"SRE_JIRA_PAT": "{}"},
    {"SRE_JIRA_URL": "https://j.example.com", "SRE_JIRA_API_TOKEN": "{}"},
    {"SRE_JIRA_URL": "https://j.example.com", "SRE_JIRA_PAT": "{}", "SRE_JIRA_PROJECT": "o"},
    {
        "SRE_JIRA_URL": "https://j.example.com",
        "SRE_JIRA_PAT": "{}",
        "SRE_JIRA_EMAIL": "a@b.c",
        "SRE_JIRA_API_TOKEN": "{}",
    },
]
GOOD_ENVIRONMENT = {
    "SRE_JIRA_URL": "https://j.example.com",
    "SRE_JIRA_PAT": "{}",
    "SRE_JIRA_PROJECT": "OPS",
}


def config_texts(token: str) -> list[str]:
    texts = []
    for template in BROKEN_ENVIRONMENTS:
        environ = {k: v.replace("{}", token) for k, v in template.items()}
        with pytest.raises(TicketConfigError) as caught:
            JiraConfig.from_env(environ)
        texts += [str(caught.value), repr(caught.value)]
    environ = {k: v.replace("{}", token) for k, v in GOOD_ENVIRONMENT.items()}
    config = JiraConfig.from_env(environ)
    assert config is not None
    return [*texts, repr(config), str(config), config.model_dump_json()]


@settings(max_examples=25, deadline=None)
@given(token=TOKENS)
def test_config_errors_never_show_the_token(token: str) -> None:
    assume(not any(token in text for text in config_texts(REFERENCE)))
    for text in config_texts(token):
        assert token not in text


@pytest.mark.parametrize(
    "token",
    ["abc\ndef-ghijkl", "with space-0123", "tab\there-0123", "ünïcødé-token-0123", "short"],
)
def test_tokens_that_would_break_a_header_are_refused_without_echo(token: str) -> None:
    with pytest.raises(TicketConfigError) as caught:
        JiraConfig.from_env(
            {
                "SRE_JIRA_URL": "https://j.example.com",
                "SRE_JIRA_PAT": token,
                "SRE_JIRA_PROJECT": "OPS",
            }
        )
    assert "SRE_JIRA_PAT" in str(caught.value)
    assert token not in str(caught.value)
    with pytest.raises(ValidationError) as direct:
        DataCenterAuth(token=SecretStr(token))
    assert token not in str(direct.value) and token not in repr(direct.value)


def test_recorded_requests_keep_headers_out_of_repr(shared_client: httpx.Client) -> None:
    with FakeJira.data_center(pat="a-secret-pat-value-123") as site:
        auth = DataCenterAuth(token=SecretStr("a-secret-pat-value-123"))
        JiraClient(site.url, auth, client=shared_client).fields()
        (recorded,) = site.requests
        assert recorded.authorization == "Bearer a-secret-pat-value-123"
        assert "a-secret-pat-value-123" not in repr(recorded)
        assert "a-secret-pat-value-123" not in repr(site)
