"""The expected failures of the ticket adapters; all derive from :class:`TicketError`.

Every message here is built from redacted text: no API token, personal access token,
``Authorization`` header or Basic credential ever appears in ``str()`` or ``repr()`` of
these exceptions (``args`` holds only the redacted message).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType

from change_mgmt.errors import SreError


class TicketError(SreError):
    """Root of every expected failure of ``change_mgmt.tickets``."""


class TicketConfigError(TicketError):
    """The Jira settings (``SRE_JIRA_*`` variables or a config section) are not usable."""


class TicketInputError(TicketError):
    """A value given by the caller (issue key, label, marker…) cannot be sent to Jira."""


class JiraError(TicketError):
    """Jira refused a request, answered something we cannot read, or could not be reached.

    ``status`` is the HTTP status (None when no answer arrived); ``messages`` and
    ``field_errors`` are the two halves of Jira's error body
    (``{"errorMessages": [...], "errors": {field: message}}``), both also in the message.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        messages: Sequence[str] = (),
        field_errors: Mapping[str, str] | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.messages: tuple[str, ...] = tuple(messages)
        self.field_errors: Mapping[str, str] = MappingProxyType(dict(field_errors or {}))
        self.method = method
        self.path = path


class JiraAuthError(JiraError):
    """Jira answered 401/403: the message names the auth scheme used, never the secret."""


class JiraUnavailable(JiraError):
    """Jira could not be reached, timed out, or kept answering 429/5xx past the retry bound.

    Safe to replay later for idempotent requests; the outbox treats it as transient.
    """


class JiraCreateUncertain(JiraError):
    """``POST /issue`` was sent but no answer arrived: the issue may or may not exist.

    Never retry the create blindly: search for the ticket by its change-digest label
    first, and create only if it is not there (Jira Cloud's search may lag behind).
    """


class TransitionNotAvailable(JiraError):
    """The issue has no transition of the requested name in its current status."""

    def __init__(
        self,
        message: str,
        *,
        available: Sequence[str],
        status: int | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        super().__init__(message, status=status, method=method, path=path)
        self.available: tuple[str, ...] = tuple(available)


class FieldNotFound(JiraError):
    """A field name is unknown on this Jira site (or names several fields)."""
