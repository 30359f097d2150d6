"""Jira settings: from ``SRE_JIRA_*`` environment variables, plus the field-name mapping.

Without ``SRE_JIRA_URL`` (and without any other ``SRE_JIRA_*`` credential) there is no
Jira: :meth:`JiraConfig.from_env` returns None and the caller keeps change records in the
local ledger. Anything in between (a URL without credentials, credentials without a URL,
both Cloud and Data Center credentials, a plain-http URL to a real host) is a
:class:`TicketConfigError` that names the variable and says what to do: a half-configured
setup must not silently fall back to the ledger, nor send a token in clear text.

=========================  ==============================================================
``SRE_JIRA_URL``           base URL, ``https://`` (``http://`` only for 127.0.0.1/localhost);
                           a Data Center context path (``https://host/jira``) is kept
``SRE_JIRA_EMAIL``         Cloud: the account's email …
``SRE_JIRA_API_TOKEN``     … and its API token (HTTP Basic)
``SRE_JIRA_PAT``           Data Center: a personal access token (``Authorization: Bearer``)
``SRE_JIRA_PROJECT``       project key of change tickets (``OPS``), required
``SRE_JIRA_ISSUE_TYPE``    issue type of change tickets, default ``Change`` (JSM)
``SRE_JIRA_TIMEOUT``       seconds per HTTP call, default 10, at most 300
=========================  ==============================================================

Empty variables count as unset (CI systems often define them empty).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping

import httpx
from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError, field_validator

from change_mgmt.tickets.auth import CloudAuth, DataCenterAuth, JiraAuth
from change_mgmt.tickets.errors import TicketConfigError

DEFAULT_ISSUE_TYPE = "Change"
DEFAULT_TIMEOUT = 10.0
MAX_TIMEOUT = 300.0
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
PROJECT_KEY = re.compile(r"[A-Z][A-Z0-9_]+")

ENV_URL = "SRE_JIRA_URL"
ENV_EMAIL = "SRE_JIRA_EMAIL"
ENV_API_TOKEN = "SRE_JIRA_API_TOKEN"
ENV_PAT = "SRE_JIRA_PAT"
ENV_PROJECT = "SRE_JIRA_PROJECT"
ENV_ISSUE_TYPE = "SRE_JIRA_ISSUE_TYPE"
ENV_TIMEOUT = "SRE_JIRA_TIMEOUT"


class JiraFieldNames(BaseModel):
    """Our name of each change field → the *name* of that field on the Jira site.

    Custom field ids (``customfield_10042``) differ per site, names mostly do not: the
    client resolves these names to ids with ``GET /rest/api/2/field``. The defaults are
    Jira Service Management's names for its Change issue type. ``None`` means the site has
    no such field and it is not set.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    change_type: str | None = "Change type"
    change_risk: str | None = "Change risk"
    impact: str | None = "Impact"
    urgency: str | None = "Urgency"
    change_start_date: str | None = "Change start date"
    change_completion_date: str | None = "Change completion date"
    implementation_plan: str | None = "Implementation plan"
    backout_plan: str | None = "Backout plan"
    test_plan: str | None = "Test plan"

    @field_validator("*")
    @classmethod
    def _not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("a field name cannot be blank (use null for 'no such field')")
        return value

    def as_mapping(self) -> dict[str, str]:
        """Our name → site field name, without the fields mapped to None."""
        return {ours: theirs for ours, theirs in self.model_dump().items() if theirs is not None}


class JiraConfig(BaseModel):
    """Where Jira is, how to authenticate, and where change tickets go."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    url: str
    auth: JiraAuth
    project: str
    issue_type: str = DEFAULT_ISSUE_TYPE
    timeout: float = DEFAULT_TIMEOUT
    fields: JiraFieldNames = JiraFieldNames()

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return check_url(value)

    @field_validator("project")
    @classmethod
    def _project(cls, value: str) -> str:
        if not PROJECT_KEY.fullmatch(value):
            raise ValueError(
                f"{value[:40]!r} is not a Jira project key: an uppercase letter, then "
                "uppercase letters, digits or _ (e.g. OPS)"
            )
        return value

    @field_validator("issue_type")
    @classmethod
    def _issue_type(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the issue type cannot be blank")
        return value.strip()

    @field_validator("timeout")
    @classmethod
    def _timeout(cls, value: float) -> float:
        if not (math.isfinite(value) and 0 < value <= MAX_TIMEOUT):
            raise ValueError(f"{value} is not a timeout: give seconds, > 0 and <= {MAX_TIMEOUT:g}")
        return value

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> JiraConfig | None:
        """The settings in ``environ`` (default ``os.environ``), None when Jira is not
        configured at all; :class:`TicketConfigError` when it is half-configured."""
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            value = env.get(name, "").strip()
            return value or None

        url = get(ENV_URL)
        email, api_token, pat = get(ENV_EMAIL), get(ENV_API_TOKEN), get(ENV_PAT)
        if url is None:
            stray = [n for n, v in ((ENV_API_TOKEN, api_token), (ENV_PAT, pat)) if v]
            if stray:
                raise TicketConfigError(
                    f"{' and '.join(stray)} set but {ENV_URL} is not: set {ENV_URL} to "
                    f"use Jira, or unset {' and '.join(stray)} to keep change records in "
                    "the local ledger"
                )
            return None
        try:
            url = check_url(url)
        except ValueError as exc:
            raise TicketConfigError(f"{ENV_URL}: {exc}") from None
        auth = _auth_from_env(url, email, api_token, pat)
        project = get(ENV_PROJECT)
        if project is None:
            raise TicketConfigError(
                f"{ENV_PROJECT} is not set: give the key of the project for change "
                "tickets (e.g. OPS)"
            )
        timeout_text = get(ENV_TIMEOUT)
        timeout = DEFAULT_TIMEOUT if timeout_text is None else _parse_timeout(timeout_text)
        try:
            return cls(
                url=url,
                auth=auth,
                project=project,
                issue_type=get(ENV_ISSUE_TYPE) or DEFAULT_ISSUE_TYPE,
                timeout=timeout,
            )
        except ValidationError as exc:
            raise TicketConfigError(_why(exc, _ENV_OF_FIELD)) from None


_ENV_OF_FIELD = {
    "url": ENV_URL,
    "project": ENV_PROJECT,
    "issue_type": ENV_ISSUE_TYPE,
    "timeout": ENV_TIMEOUT,
    "email": ENV_EMAIL,
    "api_token": ENV_API_TOKEN,
    "token": ENV_PAT,
}


def check_url(value: str) -> str:
    """The Jira base URL without a trailing slash; ``ValueError`` (never echoing a URL
    password) unless it is https, or http to a loopback host (tests, tunnels)."""
    try:
        url = httpx.URL(value.strip())
    except (httpx.InvalidURL, TypeError) as exc:
        raise ValueError(f"not a URL ({exc})") from None
    if url.username or url.password:
        raise ValueError("must not contain credentials (use the SRE_JIRA_* token variables)")
    shown = str(url.copy_with(query=None, fragment=None))
    if url.scheme not in ("https", "http") or not url.host:
        raise ValueError(f"{shown[:120]!r} is not an https:// URL")
    if url.scheme == "http" and url.host not in LOOPBACK_HOSTS:
        raise ValueError(
            f"{shown[:120]!r} is plain http: tokens would travel in clear text; use "
            "https:// (http:// is only accepted for 127.0.0.1 and localhost)"
        )
    if url.query or url.fragment:
        raise ValueError(f"{shown[:120]!r} must not have a query or fragment")
    return str(url).rstrip("/")


def _auth_from_env(
    url: str, email: str | None, api_token: str | None, pat: str | None
) -> CloudAuth | DataCenterAuth:
    cloud = email is not None or api_token is not None
    if cloud and pat is not None:
        raise TicketConfigError(
            f"both Jira Cloud credentials ({ENV_EMAIL}/{ENV_API_TOKEN}) and a Data Center "
            f"token ({ENV_PAT}) are set: set only the pair for Cloud or only {ENV_PAT} "
            "for Data Center"
        )
    try:
        if pat is not None:
            if (httpx.URL(url).host or "").endswith(".atlassian.net"):
                raise TicketConfigError(
                    f"{ENV_URL} is a Jira Cloud site, which does not accept personal access "
                    f"tokens: set {ENV_EMAIL} and {ENV_API_TOKEN} instead of {ENV_PAT}"
                )
            return DataCenterAuth(token=SecretStr(pat))
        if email is None or api_token is None:
            missing = ENV_EMAIL if email is None else ENV_API_TOKEN
            given = f" ({ENV_API_TOKEN if email is None else ENV_EMAIL} is)" if cloud else ""
            raise TicketConfigError(
                f"{ENV_URL} is set but {missing} is not{given}: Jira Cloud needs "
                f"{ENV_EMAIL} + {ENV_API_TOKEN}, Data Center needs {ENV_PAT}"
            )
        return CloudAuth(email=email, api_token=SecretStr(api_token))
    except ValidationError as exc:
        raise TicketConfigError(_why(exc, _ENV_OF_FIELD)) from None


def _parse_timeout(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and 0 < value <= MAX_TIMEOUT):
        raise TicketConfigError(
            f"{ENV_TIMEOUT}: {text[:40]!r} is not a timeout: give seconds, > 0 and "
            f"<= {MAX_TIMEOUT:g} (e.g. 10)"
        )
    return value


def _why(exc: ValidationError, names: Mapping[str, str]) -> str:
    """Every problem, each named by its variable; never the rejected values."""
    parts = []
    for error in exc.errors(include_url=False, include_input=False):
        loc = [str(part) for part in error["loc"] if not isinstance(part, int)]
        where = next((names[p] for p in reversed(loc) if p in names), ".".join(loc) or "config")
        message = error["msg"].removeprefix("Value error, ")
        parts.append(f"{where}: {message}")
    return "; ".join(parts)
