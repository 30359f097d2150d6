"""Credentials for Jira: Cloud takes Basic (email + API token), Data Center a Bearer PAT.

The secrets are ``SecretStr``: ``repr()``/``str()`` of these objects (and of anything
that contains them) show ``**********``. :meth:`secrets` lists every form in which a
secret could be echoed back (the token, the Basic credential, the whole header value) so
error texts can be scrubbed of them.
"""

from __future__ import annotations

import base64
import re
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

_TOKEN = re.compile(r"[\x21-\x7e]{8,}")
"""Printable ASCII without spaces, at least 8 characters: anything else would be refused
as a header value (with an error that quotes it) or too short to redact safely."""


class JiraFlavor(StrEnum):
    CLOUD = "cloud"
    DATA_CENTER = "data-center"


def _check_token(value: SecretStr, what: str) -> SecretStr:
    """Never echoes the value: the message says only what is wrong with it."""
    raw = value.get_secret_value()
    if not _TOKEN.fullmatch(raw):
        problem = (
            f"is {len(raw)} characters long: a real one is longer (truncated?)"
            if len(raw) < 8 and raw.isprintable() and " " not in raw
            else "contains spaces, line breaks or non-ASCII characters (copied with extra text?)"
        )
        raise ValueError(f"the {what} {problem}")
    return value


class CloudAuth(BaseModel):
    """Jira Cloud: HTTP Basic with the account's email and an API token."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    kind: Literal["cloud"] = "cloud"
    email: str
    api_token: SecretStr

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        value = value.strip()
        if not re.fullmatch(r"[^@\s:]+@[^@\s:]+", value):
            raise ValueError(f"{value[:80]!r} is not an email address")
        return value

    @field_validator("api_token")
    @classmethod
    def _token(cls, value: SecretStr) -> SecretStr:
        return _check_token(value, "API token")

    @property
    def flavor(self) -> JiraFlavor:
        return JiraFlavor.CLOUD

    def header(self) -> str:
        """The ``Authorization`` header value (a secret: never log it)."""
        return f"Basic {self._credential()}"

    def describe(self) -> str:
        return f"Basic auth (Jira Cloud email + API token) as {self.email}"

    def hint(self) -> str:
        return "check SRE_JIRA_EMAIL and SRE_JIRA_API_TOKEN (Jira Cloud takes no PAT)"

    def secrets(self) -> tuple[str, ...]:
        token = self.api_token.get_secret_value()
        return (token, self._credential(), self.header())

    def _credential(self) -> str:
        pair = f"{self.email}:{self.api_token.get_secret_value()}"
        return base64.b64encode(pair.encode()).decode("ascii")


class DataCenterAuth(BaseModel):
    """Jira Data Center / Server: ``Authorization: Bearer <personal access token>``."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    kind: Literal["data-center"] = "data-center"
    token: SecretStr

    @field_validator("token")
    @classmethod
    def _token(cls, value: SecretStr) -> SecretStr:
        return _check_token(value, "personal access token")

    @property
    def flavor(self) -> JiraFlavor:
        return JiraFlavor.DATA_CENTER

    def header(self) -> str:
        """The ``Authorization`` header value (a secret: never log it)."""
        return f"Bearer {self.token.get_secret_value()}"

    def describe(self) -> str:
        return "Bearer auth (Data Center personal access token)"

    def hint(self) -> str:
        return "check SRE_JIRA_PAT (a PAT of a user allowed in the project, not expired)"

    def secrets(self) -> tuple[str, ...]:
        return (self.token.get_secret_value(), self.header())


JiraAuth = Annotated[CloudAuth | DataCenterAuth, Field(discriminator="kind")]
