"""Pydantic models of the Jira answers this package reads.

Jira owns these formats, so unknown keys are ignored (``extra="ignore"``); only what we
read is declared, and a missing or mistyped value we need makes the answer *malformed*
(the client turns that into a ``JiraError``, never a raw ``ValidationError``).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, RootModel


class _JiraModel(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class IssueRef(_JiraModel):
    """What ``POST /issue`` answers: the new issue's key, id and REST URL."""

    key: str
    id: str
    self_url: str = Field(alias="self")


class User(_JiraModel):
    """A Jira user: Cloud identifies by ``account_id``, Data Center by ``name``/``key``."""

    account_id: str | None = Field(None, alias="accountId")
    name: str | None = None
    key: str | None = None
    display_name: str | None = Field(None, alias="displayName")
    email: str | None = Field(None, alias="emailAddress")


class NamedRef(_JiraModel):
    """A reference by name: status, issue type, project (``key`` for projects)."""

    name: str | None = None
    id: str | None = None
    key: str | None = None


class IssueFields(_JiraModel):
    """The fields of an issue: the system ones we read, typed; custom ones via :meth:`get`.

    Only the fields that were asked for are present; absent ones are None/empty.
    """

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)

    summary: str | None = None
    description: str | None = None
    status: NamedRef | None = None
    issuetype: NamedRef | None = None
    project: NamedRef | None = None
    labels: tuple[str, ...] = ()
    created: datetime | None = None
    updated: datetime | None = None

    def get(self, field_id: str) -> Any:
        """A field's raw value by id (``customfield_10042``), None when absent."""
        if field_id in type(self).model_fields:
            return getattr(self, field_id)
        return (self.model_extra or {}).get(field_id)


class ChangeItem(_JiraModel):
    """One field change of a changelog entry: for ``field == "status"`` the status names
    are ``fromString``/``toString`` (``from``/``to`` are the status ids)."""

    field: str | None = None
    fieldtype: str | None = None
    from_id: str | None = Field(None, alias="from")
    from_string: str | None = Field(None, alias="fromString")
    to_id: str | None = Field(None, alias="to")
    to_string: str | None = Field(None, alias="toString")


class ChangeHistory(_JiraModel):
    """One changelog entry (``histories[]`` of ``expand=changelog``, ``values[]`` of
    ``GET .../issue/{key}/changelog``): when, and the fields it changed."""

    id: str | None = None
    created: datetime
    items: tuple[ChangeItem, ...] = ()


class Changelog(_JiraModel):
    """``changelog`` of an issue read with ``expand=changelog``. Jira Cloud's search returns
    only the most recent entries (at most :data:`~change_mgmt.tickets.jira.SEARCH_CHANGELOG_LIMIT`);
    the whole history is ``GET .../issue/{key}/changelog``."""

    start_at: int = Field(0, alias="startAt")
    max_results: int | None = Field(None, alias="maxResults")
    total: int | None = None
    histories: tuple[ChangeHistory, ...] = ()


class ChangelogPage(_JiraModel):
    """``GET /rest/api/2/issue/{key}/changelog`` (Cloud): oldest first, offset paging."""

    start_at: int = Field(0, alias="startAt")
    max_results: int | None = Field(None, alias="maxResults")
    total: int | None = None
    is_last: bool | None = Field(None, alias="isLast")
    values: tuple[ChangeHistory, ...] = ()


class EntityProperty(_JiraModel):
    """``GET .../issue/{key}/properties/{propertyKey}``: the property's key and JSON value."""

    key: str
    value: Any = None


class Issue(_JiraModel):
    id: str
    key: str
    self_url: str | None = Field(None, alias="self")
    fields: IssueFields = Field(default_factory=IssueFields)
    changelog: Changelog | None = None
    """Only with ``expand=changelog``."""
    properties: dict[str, Any] = Field(default_factory=dict)
    """Issue (entity) properties asked for by the search's ``properties`` (Cloud only)."""

    @property
    def status(self) -> str | None:
        return self.fields.status.name if self.fields.status else None

    @property
    def labels(self) -> tuple[str, ...]:
        return self.fields.labels


class CloudSearchPage(_JiraModel):
    """``/rest/api/2/search/jql`` (Cloud): a cursor, no total; the last page may omit
    ``nextPageToken`` and ``isLast``."""

    issues: tuple[Issue, ...] = ()
    next_page_token: str | None = Field(None, alias="nextPageToken")
    is_last: bool | None = Field(None, alias="isLast")


class DataCenterSearchPage(_JiraModel):
    """``/rest/api/2/search`` (Data Center): offset paging with a total."""

    issues: tuple[Issue, ...] = ()
    start_at: int = Field(alias="startAt")
    max_results: int = Field(alias="maxResults")
    total: int


class Comment(_JiraModel):
    id: str
    body: str
    author: User | None = None
    created: datetime | None = None
    updated: datetime | None = None


class CommentPage(_JiraModel):
    comments: tuple[Comment, ...] = ()
    start_at: int = Field(0, alias="startAt")
    max_results: int | None = Field(None, alias="maxResults")
    total: int | None = None


class Transition(_JiraModel):
    id: str
    name: str
    to: NamedRef | None = None

    @property
    def target(self) -> str | None:
        """The status the transition leads to."""
        return self.to.name if self.to else None


class Transitions(_JiraModel):
    transitions: tuple[Transition, ...] = ()


class FieldSchema(_JiraModel):
    type: str | None = None
    custom: str | None = None
    items: str | None = None


class FieldInfo(_JiraModel):
    """One entry of ``GET /rest/api/2/field``: custom field ids differ per site."""

    id: str
    name: str
    custom: bool = False
    field_schema: FieldSchema | None = Field(None, alias="schema")
    clause_names: tuple[str, ...] = Field((), alias="clauseNames")


class FieldList(RootModel[tuple[FieldInfo, ...]]):
    """The answer of ``GET /rest/api/2/field``: a bare list."""


class RemoteLinkRef(_JiraModel):
    id: int
    self_url: str | None = Field(None, alias="self")


class ApprovalDecision(StrEnum):
    APPROVED = "approved"
    DECLINED = "declined"
    PENDING = "pending"


class Approver(_JiraModel):
    approver: User
    decision: ApprovalDecision | None = Field(None, alias="approverDecision")


class JsmDate(_JiraModel):
    iso8601: datetime | None = None
    epoch_millis: int | None = Field(None, alias="epochMillis")


class Approval(_JiraModel):
    """One Jira Service Management approval of a request (change)."""

    id: str
    name: str | None = None
    final_decision: ApprovalDecision = Field(alias="finalDecision")
    can_answer: bool | None = Field(None, alias="canAnswerApproval")
    approvers: tuple[Approver, ...] = ()
    created: JsmDate | None = Field(None, alias="createdDate")
    completed: JsmDate | None = Field(None, alias="completedDate")


class ApprovalPage(_JiraModel):
    """``/rest/servicedeskapi/...`` paging: ``start``/``limit``/``isLastPage``."""

    values: tuple[Approval, ...] = ()
    start: int = 0
    size: int | None = None
    is_last_page: bool = Field(True, alias="isLastPage")


class ErrorBody(_JiraModel):
    """Jira's error body; ``errors`` values are normally strings but not always."""

    error_messages: tuple[str, ...] = Field((), alias="errorMessages")
    errors: dict[str, Any] = Field(default_factory=dict)
