"""A stateful fake of the Jira REST API (Cloud or Data Center flavour) on loopback.

Real HTTP, so the client's auth headers, timeouts, retries and parsing are exercised for
real. ``with FakeJira.cloud() as jira:`` (or ``FakeJira.data_center()``) serves at
``jira.url``:

* ``POST /rest/api/2/issue`` (plain-text description; an ADF object is a 400) and
  ``POST /rest/api/3/issue`` (description must be ADF), ``GET``/``PUT .../issue/{key}``
  (fields and ``update`` operations, labels without spaces, select options checked);
* comments: ``GET``/``POST .../issue/{key}/comment`` (v2 text; v3 ``POST`` takes ADF),
  ``GET``/``PUT .../comment/{id}``; paged like Jira (``startAt``/``maxResults``/``total``);
* a small Change workflow (:data:`CHANGE_WORKFLOW`): ``GET``/``POST .../transitions``
  offer only the transitions of the current status;
* ``GET``/``POST .../issue/{key}/remotelink``: an upsert by ``globalId``;
* ``GET /rest/api/2/field`` with JSM-like custom fields (``customfield_10042`` = "Change
  risk"...);
* ``GET /rest/servicedeskapi/request/{key}/approval`` (one pending approval per Change;
  :meth:`FakeJira.decide_approval` sets its ``finalDecision``);
* a changelog per issue: every transition (and :meth:`FakeJira.move`) adds a ``status``
  item, every edit of labels, summary or description an item for that field;
  ``expand=changelog`` on both searches returns it (Cloud: only the
  :attr:`FakeJira.search_changelog_limit` most recent, newest first, as Jira Cloud's
  search does; Data Center: all of it, oldest first), and Cloud serves
  ``GET .../issue/{key}/changelog`` (paged by ``startAt``/``maxResults``, oldest first);
* issue entity properties: ``PUT``/``GET .../issue/{key}/properties/{propertyKey}`` and
  ``GET .../issue/{key}/properties`` (keys); Cloud's search returns the properties named
  in its ``properties`` parameter, Data Center's search never does (JRASERVER-62898);
* search with a tiny JQL subset (``project = X AND labels = "foo" AND labels in (a, b)
  AND status = "Done" ... ORDER BY created [ASC|DESC]``): Cloud serves
  ``/rest/api/2/search/jql`` (cursor ``nextPageToken``/``isLast``, no total, unbounded JQL
  refused) and answers 410 on the old ``/search``; Data Center serves ``/search``
  (``startAt``/``maxResults``/``total``) and has no ``/search/jql``.

Auth is checked for real: Cloud accepts only Basic with the configured email + API token,
Data Center only ``Bearer <PAT>``; anything else is a 401. Faults are injected with
:meth:`FakeJira.inject` (429 + ``Retry-After``, 503, slow answers, an answer lost after the
request was applied) and :attr:`FakeJira.search_lag_requests` /
:attr:`FakeJira.search_lag_seconds` make new issues invisible to search for a while.
Every request is recorded in :attr:`FakeJira.requests` — headers included, to assert
auth, but kept out of ``repr`` so no assertion message prints a token.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

from tests.fakes.loopback import LoopbackServer

Flavor = Literal["cloud", "data-center"]

DEFAULT_EMAIL = "sre-bot@example.com"
DEFAULT_API_TOKEN = "ATATT3xFfGF0-cloud-token-for-tests-0123456789"
DEFAULT_PAT = "NjE4OTY3MzQ0OTk2Ok-data-center-pat-for-tests"
BASE_TIME = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
INITIAL_STATUS = "Awaiting approval"

NOT_AUTHENTICATED = "You are not authenticated. Authentication required to perform this operation."
NO_ISSUE = "Issue does not exist or you do not have permission to see it."
SEARCH_REMOVED = (
    "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. "
    "A full migration guideline is available at "
    "https://developer.atlassian.com/changelog/#CHANGE-2046"
)
UNBOUNDED = (
    "Unbounded JQL queries are not allowed here. Please add a search restriction to your query."
)


@dataclass(frozen=True)
class FakeTransition:
    id: str
    name: str
    to: str


CHANGE_WORKFLOW: dict[str, tuple[FakeTransition, ...]] = {
    "Awaiting approval": (
        FakeTransition("11", "Approve", "Approved"),
        FakeTransition("12", "Decline", "Declined"),
    ),
    "Approved": (FakeTransition("21", "Start", "In progress"),),
    "In progress": (
        FakeTransition("31", "Complete", "Done"),
        FakeTransition("32", "Fail", "Failed"),
        FakeTransition("33", "Roll back", "Rolled back"),
    ),
}
"""Status → the transitions out of it; statuses without an entry are final."""

STATUS_IDS = {
    name: str(10000 + i)
    for i, name in enumerate(
        [
            "Awaiting approval",
            "Approved",
            "Declined",
            "In progress",
            "Done",
            "Failed",
            "Rolled back",
        ]
    )
}


@dataclass(frozen=True)
class FakeField:
    """A field of ``/field``: ``type`` is Jira's schema type; options for selects."""

    id: str
    name: str
    type: str
    custom: bool = False
    options: tuple[str, ...] = ()
    settable: bool = True
    multiline: bool = False

    def option_id(self, value: str) -> str:
        return str(int(self.id.rsplit("_", 1)[-1]) * 10 + self.options.index(value))

    def as_json(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": self.type}
        if self.custom:
            kind = {"option": "select", "datetime": "datetime"}.get(self.type, "textarea")
            schema["custom"] = f"com.atlassian.jira.plugin.system.customfieldtypes:{kind}"
            schema["customId"] = int(self.id.rsplit("_", 1)[-1])
        else:
            schema["system"] = self.id
        if self.type == "array":
            schema["items"] = "string"
        clause = f"cf[{self.id.rsplit('_', 1)[-1]}]" if self.custom else self.id
        return {
            "id": self.id,
            "key": self.id,
            "name": self.name,
            "custom": self.custom,
            "orderable": self.settable,
            "navigable": True,
            "searchable": True,
            "clauseNames": [clause, self.name] if self.custom else [clause],
            "schema": schema,
        }


DEFAULT_FIELDS: tuple[FakeField, ...] = (
    FakeField("summary", "Summary", "string"),
    FakeField("description", "Description", "string", multiline=True),
    FakeField("labels", "Labels", "array"),
    FakeField("issuetype", "Issue Type", "issuetype"),
    FakeField("project", "Project", "project"),
    FakeField("status", "Status", "status", settable=False),
    FakeField("created", "Created", "datetime", settable=False),
    FakeField("updated", "Updated", "datetime", settable=False),
    FakeField(
        "customfield_10005",
        "Change type",
        "option",
        custom=True,
        options=("Standard", "Normal", "Emergency"),
    ),
    FakeField(
        "customfield_10042",
        "Change risk",
        "option",
        custom=True,
        options=("Low", "Medium", "High", "Critical"),
    ),
    FakeField(
        "customfield_10043",
        "Impact",
        "option",
        custom=True,
        options=(
            "Extensive / Widespread",
            "Significant / Large",
            "Moderate / Limited",
            "Minor / Localized",
        ),
    ),
    FakeField(
        "customfield_10044",
        "Urgency",
        "option",
        custom=True,
        options=("Critical", "High", "Medium", "Low"),
    ),
    FakeField("customfield_10045", "Change start date", "datetime", custom=True),
    FakeField("customfield_10046", "Change completion date", "datetime", custom=True),
    FakeField("customfield_10047", "Implementation plan", "string", custom=True, multiline=True),
    FakeField("customfield_10048", "Backout plan", "string", custom=True, multiline=True),
    FakeField("customfield_10049", "Test plan", "string", custom=True, multiline=True),
)


# --- state -------------------------------------------------------------------------------


@dataclass
class FakeComment:
    id: str
    body: str
    created: datetime
    updated: datetime


@dataclass
class FakeRemoteLink:
    id: int
    global_id: str | None
    object: dict[str, Any]
    relationship: str | None = None


@dataclass
class FakeApproval:
    id: str
    name: str
    final_decision: str = "pending"
    created: datetime = BASE_TIME
    completed: datetime | None = None


@dataclass
class FakeHistory:
    """One changelog entry: when, and the field changes (Jira's ``items`` objects)."""

    id: str
    created: datetime
    items: list[dict[str, Any]]


@dataclass
class FakeIssue:
    id: int
    key: str
    project: str
    issue_type: str
    status: str
    created: datetime
    updated: datetime
    values: dict[str, Any] = field(default_factory=dict)
    """Field id → stored value (text for strings, the option name for selects)."""
    comments: list[FakeComment] = field(default_factory=list)
    remote_links: list[FakeRemoteLink] = field(default_factory=list)
    approvals: list[FakeApproval] = field(default_factory=list)
    changelog: list[FakeHistory] = field(default_factory=list)
    properties: dict[str, Any] = field(default_factory=dict)
    """Issue entity properties: key → JSON value."""
    hidden_for_searches: int = 0
    hidden_until: float = 0.0

    @property
    def labels(self) -> list[str]:
        labels: list[str] = self.values.setdefault("labels", [])
        return labels

    @property
    def summary(self) -> str:
        return str(self.values.get("summary", ""))


@dataclass(frozen=True)
class Recorded:
    """One request as it arrived. ``headers`` and the raw ``body`` stay out of ``repr``."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str] = field(repr=False)
    body: bytes = field(repr=False)

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    @property
    def authorization(self) -> str | None:
        return self.headers.get("Authorization")


@dataclass
class Fault:
    """What to do instead of (or on top of) handling a matching request.

    Matches ``method`` (None: any) and ``path`` (a regex searched in the path, None:
    any), ``times`` times. With ``status`` the request is *not* handled and that answer
    (``body``, ``headers``) is sent; otherwise the request is handled and then the answer
    is delayed by ``delay`` seconds and/or dropped (``drop_response``: the connection is
    closed without a word, after the request took effect).
    """

    method: str | None = None
    path: str | None = None
    status: int | None = None
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drop_response: bool = False
    times: int = 1

    @classmethod
    def rate_limited(
        cls,
        retry_after: str | None = "1",
        *,
        times: int = 1,
        method: str | None = None,
        path: str | None = None,
    ) -> Fault:
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        body = {"errorMessages": ["Rate limit exceeded."], "errors": {}}
        return cls(method, path, 429, body, headers, times=times)

    @classmethod
    def unavailable(
        cls,
        retry_after: str | None = None,
        *,
        times: int = 1,
        method: str | None = None,
        path: str | None = None,
    ) -> Fault:
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        return cls(method, path, 503, b"Service Unavailable", headers, times=times)

    @classmethod
    def slow(
        cls, seconds: float, *, times: int = 1, method: str | None = None, path: str | None = None
    ) -> Fault:
        return cls(method, path, delay=seconds, times=times)

    @classmethod
    def lost_response(
        cls,
        *,
        method: str | None = "POST",
        path: str | None = r"^/rest/api/\d/issue$",
        times: int = 1,
    ) -> Fault:
        return cls(method, path, drop_response=True, times=times)

    @classmethod
    def error(
        cls,
        status: int,
        messages: Iterable[str] = (),
        errors: Mapping[str, str] | None = None,
        *,
        times: int = 1,
        method: str | None = None,
        path: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Fault:
        body = {"errorMessages": list(messages), "errors": dict(errors or {})}
        return cls(method, path, status, body, dict(headers or {}), times=times)

    def matches(self, method: str, path: str) -> bool:
        return (
            self.times > 0
            and (self.method is None or self.method == method)
            and (self.path is None or re.search(self.path, path) is not None)
        )


class JiraHTTPError(Exception):
    """Raised inside a route: becomes Jira's error body with this status."""

    def __init__(
        self, status: int, messages: Iterable[str] = (), errors: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(status)
        self.status = status
        self.messages = list(messages)
        self.errors = dict(errors or {})
        self.body = {"errorMessages": self.messages, "errors": self.errors}


@dataclass
class _Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


# --- the fake ----------------------------------------------------------------------------


class FakeJira(LoopbackServer):
    """A Jira site with one or more projects; see the module docstring."""

    def __init__(
        self,
        flavor: Flavor = "cloud",
        *,
        email: str = DEFAULT_EMAIL,
        api_token: str = DEFAULT_API_TOKEN,
        pat: str = DEFAULT_PAT,
        projects: Iterable[str] = ("OPS",),
        issue_types: Iterable[str] = ("Change", "Task"),
        fields: Iterable[FakeField] = DEFAULT_FIELDS,
        workflow: Mapping[str, tuple[FakeTransition, ...]] = CHANGE_WORKFLOW,
        max_page_size: int = 50,
        comment_page_size: int = 50,
        context_path: str = "",
    ) -> None:
        self.flavor: Flavor = flavor
        self._email = email
        self._api_token = api_token
        self._pat = pat
        self.projects = {key: str(10000 + i) for i, key in enumerate(projects)}
        self.issue_types = {name: str(10000 + i) for i, name in enumerate(issue_types)}
        self.fields: list[FakeField] = list(fields)
        self.workflow = dict(workflow)
        self.max_page_size = max_page_size
        self.comment_page_size = comment_page_size
        self.context_path = context_path.rstrip("/")
        self.issues: dict[str, FakeIssue] = {}
        self.requests: list[Recorded] = []
        self.faults: list[Fault] = []
        self.search_lag_requests = 0
        """New issues stay out of search results for this many searches (each first page
        counts; later Cloud pages read the snapshot kept in their cursor)."""
        self.search_lag_seconds = 0.0
        """New issues stay out of search results for this long."""
        self.search_changelog_limit = 40
        """Cloud's search returns at most this many changelog entries per issue."""
        self.changelog_page_size = 100
        """The most entries one page of ``GET .../changelog`` holds (Cloud)."""
        self.clock: Callable[[], datetime] | None = None
        """When set, the time of every change (create, edit, transition, comment);
        else each change is a second after the previous one, from :data:`BASE_TIME`."""
        super().__init__(_Handler)
        self.lock = threading.RLock()
        self._ids = itertools.count(10001)
        self._numbers: dict[str, itertools.count[int]] = {}
        self._comment_ids = itertools.count(20001)
        self._link_ids = itertools.count(30001)
        self._history_ids = itertools.count(40001)
        self._ticks = itertools.count(1)

    @classmethod
    def cloud(cls, **kwargs: Any) -> FakeJira:
        return cls("cloud", **kwargs)

    @classmethod
    def data_center(cls, **kwargs: Any) -> FakeJira:
        return cls("data-center", **kwargs)

    def __repr__(self) -> str:
        return f"FakeJira({self.flavor!r}, url={self.url!r}, issues={len(self.issues)})"

    # --- lifecycle ---

    @property
    def url(self) -> str:
        return f"{self.base_url}{self.context_path}"

    def sre_env(self, project: str = "OPS") -> dict[str, str]:
        """The ``SRE_JIRA_*`` variables that point ``sre`` at this fake with valid credentials."""
        credentials = (
            {"SRE_JIRA_EMAIL": DEFAULT_EMAIL, "SRE_JIRA_API_TOKEN": DEFAULT_API_TOKEN}
            if self.flavor == "cloud"
            else {"SRE_JIRA_PAT": DEFAULT_PAT}
        )
        return {
            "SRE_JIRA_URL": self.url,
            "SRE_JIRA_PROJECT": project,
            "SRE_JIRA_TIMEOUT": "2",
            **credentials,
        }

    # --- test controls ---

    def inject(self, *faults: Fault) -> None:
        """Faults apply in the order injected; each to its next ``times`` matching requests."""
        with self.lock:
            self.faults.extend(faults)

    def requests_to(self, method: str, path: str) -> list[Recorded]:
        """Recorded requests of ``method`` whose path matches the regex ``path`` (fullmatch)."""
        return [r for r in self.requests if r.method == method and re.fullmatch(path, r.path)]

    def add_issue(
        self,
        summary: str,
        *,
        project: str = "OPS",
        issue_type: str = "Change",
        labels: Iterable[str] = (),
        status: str = INITIAL_STATUS,
        values: Mapping[str, Any] | None = None,
    ) -> FakeIssue:
        """Seed an issue directly (no request recorded; visible to search at once)."""
        with self.lock:
            issue = self._new_issue(project, issue_type, summary)
            issue.values.update(values or {})
            issue.values["labels"] = list(labels)
            issue.status = status
            return issue

    def issue(self, key: str) -> FakeIssue:
        with self.lock:
            return self._find(key)

    def decide_approval(self, key: str, decision: str, index: int = 0) -> None:
        """Set the ``finalDecision`` of the issue's approval (approved|declined|pending)."""
        with self.lock:
            approval = self._find(key).approvals[index]
            approval.final_decision = decision
            approval.completed = None if decision == "pending" else self._tick()

    def move(self, key: str, status: str, *, at: datetime | None = None) -> None:
        """Put the issue in ``status`` (any name, workflow or not), logged like a
        transition: as a person with an admin's tools would."""
        with self.lock:
            issue = self._find(key)
            self._log_status(issue, status, at or self._tick())

    def add_history(
        self, key: str, created: datetime, items: Iterable[Mapping[str, Any]]
    ) -> FakeHistory:
        """Seed one changelog entry (items as Jira writes them: ``field``, ``fromString``…)."""
        with self.lock:
            entry = FakeHistory(str(next(self._history_ids)), created, [dict(i) for i in items])
            self._find(key).changelog.append(entry)
            return entry

    def add_approval(self, key: str, name: str) -> FakeApproval:
        with self.lock:
            issue = self._find(key)
            approval = FakeApproval(f"{issue.id}{len(issue.approvals) + 1}", name)
            issue.approvals.append(approval)
            return approval

    # --- internals ---

    def _tick(self) -> datetime:
        if self.clock is not None:
            return self.clock()
        return BASE_TIME + timedelta(seconds=next(self._ticks))

    def _log(self, issue: FakeIssue, at: datetime, items: list[dict[str, Any]]) -> None:
        if items:
            issue.changelog.append(FakeHistory(str(next(self._history_ids)), at, items))

    def _log_status(self, issue: FakeIssue, status: str, at: datetime) -> None:
        item = _item("status", STATUS_IDS.get(issue.status, "1"), issue.status)
        item.update(to=STATUS_IDS.get(status, "1"), toString=status)
        if self.flavor == "cloud":
            item["fieldId"] = "status"
        issue.status = status
        issue.updated = at
        self._log(issue, at, [item])

    def _log_edit(self, issue: FakeIssue, before: Mapping[str, Any], at: datetime) -> None:
        """Changelog items for the fields an edit changed (labels, summary, description)."""
        items = []
        for name in ("labels", "summary", "description"):
            old, new = before.get(name), issue.values.get(name)
            if old != new:
                as_text = " ".join if name == "labels" else (lambda v: v)
                item = _item(name, None, None if old is None else as_text(old))
                item.update(to=None, toString=None if new is None else as_text(new))
                items.append(item)
        self._log(issue, at, items)

    def _find(self, key: str) -> FakeIssue:
        for issue in self.issues.values():
            if issue.key.upper() == key.upper() or str(issue.id) == key:
                return issue
        raise JiraHTTPError(404, [NO_ISSUE])

    def _new_issue(self, project: str, issue_type: str, summary: str) -> FakeIssue:
        number = next(self._numbers.setdefault(project, itertools.count(1)))
        now = self._tick()
        issue = FakeIssue(
            id=next(self._ids),
            key=f"{project}-{number}",
            project=project,
            issue_type=issue_type,
            status=INITIAL_STATUS,
            created=now,
            updated=now,
            values={"summary": summary, "labels": []},
        )
        if issue_type == "Change":
            issue.approvals.append(FakeApproval(f"{issue.id}1", "Change approval", created=now))
        self.issues[issue.key] = issue
        return issue

    def authorized(self, header: str | None) -> bool:
        if self.flavor == "cloud":
            pair = f"{self._email}:{self._api_token}".encode()
            return header == "Basic " + base64.b64encode(pair).decode()
        return header == f"Bearer {self._pat}"

    def take_fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.matches(method, path):
                    fault.times -= 1
                    return fault
        return None

    # --- routing ---

    def handle(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> _Reply:
        if not path.startswith(self.context_path + "/"):
            raise JiraHTTPError(404, [f"fake Jira: nothing at {path}"])
        path = path[len(self.context_path) :]
        for route_method, pattern, handler in _ROUTES:
            match = re.fullmatch(pattern, path)
            if match and route_method == method:
                with self.lock:
                    return handler(self, match.groupdict(), query, body)
        if any(re.fullmatch(p, path) for _, p, _ in _ROUTES):
            raise JiraHTTPError(405, [f"fake Jira: {method} is not allowed on {path}"])
        raise JiraHTTPError(404, [f"fake Jira: no route for {method} {path}"])

    # fields

    def _field(self, field_id: str) -> FakeField | None:
        return next((f for f in self.fields if f.id == field_id), None)

    def _set_value(self, issue: FakeIssue, field_id: str, value: Any, version: str) -> None:
        """Validate and store one field value as Jira would, or raise a 400."""
        spec = self._field(field_id)
        if spec is None or not spec.settable or field_id in ("project", "issuetype"):
            raise JiraHTTPError(
                400,
                errors={
                    field_id: f"Field '{field_id}' cannot be set. It is not on the "
                    "appropriate screen, or unknown."
                },
            )
        if value is None:
            issue.values.pop(field_id, None)
            return
        if spec.type == "string":
            issue.values[field_id] = _text_value(field_id, value, version, spec.multiline)
        elif spec.type == "option":
            name = value.get("value") if isinstance(value, dict) else None
            option_id = value.get("id") if isinstance(value, dict) else None
            by_id = {spec.option_id(o): o for o in spec.options}
            if name in spec.options:
                issue.values[field_id] = name
            elif option_id in by_id:
                issue.values[field_id] = by_id[option_id]
            elif isinstance(name, str):
                raise JiraHTTPError(400, errors={field_id: f"Option value '{name}' is not valid"})
            else:
                raise JiraHTTPError(
                    400, errors={field_id: f"Specify a valid 'id' or 'name' for {spec.name}"}
                )
        elif spec.type == "datetime":
            if not (isinstance(value, str) and re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d", value)):
                raise JiraHTTPError(
                    400,
                    errors={
                        field_id: f"Error parsing time: {value}. Expected an ISO 8601 date-time"
                    },
                )
            issue.values[field_id] = value
        elif spec.type == "array":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise JiraHTTPError(400, errors={field_id: "data was not an array"})
            for label in value:
                _check_label(label)
            issue.values[field_id] = list(dict.fromkeys(value))
        else:
            issue.values[field_id] = value

    def render_issue(
        self,
        issue: FakeIssue,
        wanted: list[str] | None,
        *,
        expand: Iterable[str] = (),
        properties: Iterable[str] = (),
    ) -> dict[str, Any]:
        """The v2 JSON of an issue with the ``wanted`` fields (None or *all: all); with
        ``expand`` ``changelog`` its history (Cloud: the most recent
        :attr:`search_changelog_limit`, newest first), with ``properties`` those issue
        properties it has."""
        fields: dict[str, Any] = {
            "summary": issue.summary,
            "description": issue.values.get("description"),
            "labels": list(issue.labels),
            "issuetype": {"id": self.issue_types.get(issue.issue_type), "name": issue.issue_type},
            "project": {"id": self.projects.get(issue.project), "key": issue.project},
            "status": {
                "id": STATUS_IDS.get(issue.status, "1"),
                "name": issue.status,
                "statusCategory": {"key": _category(issue.status, self.workflow)},
            },
            "created": _jira_time(issue.created),
            "updated": _jira_time(issue.updated),
        }
        for spec in self.fields:
            if spec.custom:
                value = issue.values.get(spec.id)
                if spec.type == "option" and value is not None:
                    value = {"value": value, "id": spec.option_id(value)}
                fields[spec.id] = value
        if wanted is not None and not {"*all", "*navigable"} & set(wanted):
            fields = {k: v for k, v in fields.items() if k in wanted}
        rendered: dict[str, Any] = {
            "id": str(issue.id),
            "key": issue.key,
            "self": f"{self.url}/rest/api/2/issue/{issue.id}",
            "fields": fields,
        }
        if "changelog" in expand:
            entries = sorted(issue.changelog, key=lambda h: h.created)
            if self.flavor == "cloud":
                entries = entries[::-1][: self.search_changelog_limit]
            rendered["changelog"] = {
                "startAt": 0,
                "maxResults": len(entries),
                "total": len(issue.changelog),
                "histories": [self.render_history(h) for h in entries],
            }
        wanted_properties = [k for k in properties if k in issue.properties]
        if properties:
            rendered["properties"] = {k: issue.properties[k] for k in wanted_properties}
        return rendered

    def render_history(self, entry: FakeHistory) -> dict[str, Any]:
        author = (
            {"accountId": "5b10ac8d82e05b22cc7d4ef5", "displayName": "SRE Bot"}
            if self.flavor == "cloud"
            else {"name": "sre-bot", "key": "JIRAUSER10100", "displayName": "SRE Bot"}
        )
        return {
            "id": entry.id,
            "author": author,
            "created": _jira_time(entry.created),
            "items": entry.items,
        }

    def render_comment(
        self, issue: FakeIssue, comment: FakeComment, version: str
    ) -> dict[str, Any]:
        author = (
            {"accountId": "5b10ac8d82e05b22cc7d4ef5", "displayName": "SRE Bot"}
            if self.flavor == "cloud"
            else {"name": "sre-bot", "key": "JIRAUSER10100", "displayName": "SRE Bot"}
        )
        return {
            "id": comment.id,
            "self": f"{self.url}/rest/api/{version}/issue/{issue.id}/comment/{comment.id}",
            "body": _adf(comment.body) if version == "3" else comment.body,
            "author": author,
            "updateAuthor": author,
            "created": _jira_time(comment.created),
            "updated": _jira_time(comment.updated),
        }

    def searchable(self, issues: Iterable[FakeIssue]) -> list[FakeIssue]:
        """The issues search can see now; counts this search against the lag."""
        now = time.monotonic()
        visible = []
        for issue in issues:
            if issue.hidden_for_searches > 0:
                issue.hidden_for_searches -= 1
            elif issue.hidden_until <= now:
                visible.append(issue)
        return visible


# --- routes ------------------------------------------------------------------------------

_Params = dict[str, str]
_Query = dict[str, list[str]]


def _route_field(fake: FakeJira, _: _Params, __: _Query, ___: Any) -> _Reply:
    return _Reply(200, [f.as_json() for f in fake.fields])


def _route_create(fake: FakeJira, params: _Params, _: _Query, body: Any) -> _Reply:
    version = params["v"]
    fields = body.get("fields") if isinstance(body, dict) else None
    if not isinstance(fields, dict):
        raise JiraHTTPError(400, ["Can not deserialize the request: 'fields' is missing."])
    errors: dict[str, str] = {}
    project = _ref(fields.get("project"), "key", fake.projects)
    if project is None:
        errors["project"] = "valid project is required"
    issue_type = _ref(fields.get("issuetype"), "name", fake.issue_types)
    if issue_type is None:
        errors["issuetype"] = "valid issue type is required"
    summary = fields.get("summary")
    if not isinstance(summary, str) or not summary.strip():
        errors["summary"] = "You must specify a summary of the issue."
    if errors:
        raise JiraHTTPError(400, errors=errors)
    assert project is not None and issue_type is not None and isinstance(summary, str)
    # Validate every field on a scratch issue first: a failed create stores nothing.
    scratch = FakeIssue(0, "X-0", project, issue_type, INITIAL_STATUS, BASE_TIME, BASE_TIME)
    for field_id, value in fields.items():
        if field_id not in ("project", "issuetype"):
            try:
                fake._set_value(scratch, field_id, value, version)
            except JiraHTTPError as exc:
                errors.update(exc.errors)
    update = body.get("update") or {}
    _apply_update(fake, scratch, update, version, errors)
    if errors:
        raise JiraHTTPError(400, errors=errors)
    issue = fake._new_issue(project, issue_type, summary)
    issue.values.update(scratch.values)
    issue.hidden_for_searches = fake.search_lag_requests
    issue.hidden_until = time.monotonic() + fake.search_lag_seconds
    return _Reply(
        201,
        {
            "id": str(issue.id),
            "key": issue.key,
            "self": f"{fake.url}/rest/api/{version}/issue/{issue.id}",
        },
    )


def _route_get_issue(fake: FakeJira, params: _Params, query: _Query, _: Any) -> _Reply:
    issue = fake._find(params["key"])
    wanted = _field_list(query.get("fields", [None])[0])
    return _Reply(200, fake.render_issue(issue, wanted))


def _route_edit_issue(fake: FakeJira, params: _Params, _: _Query, body: Any) -> _Reply:
    issue = fake._find(params["key"])
    if not isinstance(body, dict) or not ({"fields", "update"} & body.keys()):
        raise JiraHTTPError(400, ["No fields or update given."])
    errors: dict[str, str] = {}
    scratch = FakeIssue(
        0,
        "X-0",
        issue.project,
        issue.issue_type,
        issue.status,
        BASE_TIME,
        BASE_TIME,
        values=json.loads(json.dumps(issue.values)),
    )
    for field_id, value in (body.get("fields") or {}).items():
        try:
            fake._set_value(scratch, field_id, value, params["v"])
        except JiraHTTPError as exc:
            errors.update(exc.errors)
    _apply_update(fake, scratch, body.get("update") or {}, params["v"], errors)
    if errors:
        raise JiraHTTPError(400, errors=errors)
    before = issue.values
    issue.values = scratch.values
    issue.updated = fake._tick()
    fake._log_edit(issue, before, issue.updated)
    return _Reply(204)


def _apply_update(
    fake: FakeJira, issue: FakeIssue, update: Any, version: str, errors: dict[str, str]
) -> None:
    """Jira's ``update`` operations; only ``labels`` (add/remove/set) are supported."""
    if not isinstance(update, dict):
        errors["update"] = "update must be an object"
        return
    for field_id, operations in update.items():
        if field_id != "labels":
            errors[field_id] = f"Field '{field_id}' cannot be set (the fake updates labels only)"
            continue
        if not isinstance(operations, list):
            errors[field_id] = "operations must be a list"
            continue
        labels = list(issue.labels)
        for operation in operations:
            if not isinstance(operation, dict) or len(operation) != 1:
                errors[field_id] = "each operation is one of add, remove, set"
                continue
            ((verb, value),) = operation.items()
            try:
                if verb == "add":
                    _check_label(value)
                    if value not in labels:
                        labels.append(value)
                elif verb == "remove":
                    labels = [label for label in labels if label != value]
                elif verb == "set":
                    if not isinstance(value, list):
                        raise JiraHTTPError(400, errors={"labels": "data was not an array"})
                    for label in value:
                        _check_label(label)
                    labels = list(dict.fromkeys(value))
                else:
                    errors[field_id] = f"unsupported operation {verb!r}"
            except JiraHTTPError as exc:
                errors.update(exc.errors)
        issue.values["labels"] = labels


def _route_comments(fake: FakeJira, params: _Params, query: _Query, _: Any) -> _Reply:
    issue = fake._find(params["key"])
    start = _int(query, "startAt", 0)
    size = min(_int(query, "maxResults", fake.comment_page_size), fake.comment_page_size)
    page = issue.comments[start : start + size]
    return _Reply(
        200,
        {
            "startAt": start,
            "maxResults": size,
            "total": len(issue.comments),
            "comments": [fake.render_comment(issue, c, params["v"]) for c in page],
        },
    )


def _route_add_comment(fake: FakeJira, params: _Params, _: _Query, body: Any) -> _Reply:
    issue = fake._find(params["key"])
    value = body.get("body") if isinstance(body, dict) else None
    text = _text_value("comment", value, params["v"], multiline=True)
    if not text.strip():
        raise JiraHTTPError(400, errors={"comment": "Comment body can not be empty!"})
    now = fake._tick()
    comment = FakeComment(str(next(fake._comment_ids)), text, now, now)
    issue.comments.append(comment)
    return _Reply(201, fake.render_comment(issue, comment, params["v"]))


def _comment(issue: FakeIssue, comment_id: str) -> FakeComment:
    for comment in issue.comments:
        if comment.id == comment_id:
            return comment
    raise JiraHTTPError(404, [f"Can not find a comment for the id: {comment_id}."])


def _route_get_comment(fake: FakeJira, params: _Params, _: _Query, __: Any) -> _Reply:
    issue = fake._find(params["key"])
    comment = _comment(issue, params["cid"])
    return _Reply(200, fake.render_comment(issue, comment, params["v"]))


def _route_update_comment(fake: FakeJira, params: _Params, _: _Query, body: Any) -> _Reply:
    issue = fake._find(params["key"])
    comment = _comment(issue, params["cid"])
    value = body.get("body") if isinstance(body, dict) else None
    comment.body = _text_value("comment", value, params["v"], multiline=True)
    comment.updated = fake._tick()
    return _Reply(200, fake.render_comment(issue, comment, params["v"]))


def _route_transitions(fake: FakeJira, params: _Params, _: _Query, __: Any) -> _Reply:
    issue = fake._find(params["key"])
    transitions = [
        {
            "id": t.id,
            "name": t.name,
            "to": {
                "id": STATUS_IDS.get(t.to, "1"),
                "name": t.to,
                "statusCategory": {"key": _category(t.to, fake.workflow)},
            },
            "hasScreen": False,
            "isGlobal": False,
            "isInitial": False,
            "isConditional": False,
        }
        for t in fake.workflow.get(issue.status, ())
    ]
    return _Reply(200, {"expand": "transitions", "transitions": transitions})


def _route_do_transition(fake: FakeJira, params: _Params, _: _Query, body: Any) -> _Reply:
    issue = fake._find(params["key"])
    wanted = body.get("transition") if isinstance(body, dict) else None
    transition_id = str(wanted.get("id")) if isinstance(wanted, dict) else None
    if transition_id is None:
        raise JiraHTTPError(400, ["Missing 'transition' identifier"])
    for transition in fake.workflow.get(issue.status, ()):
        if transition.id == transition_id:
            fake._log_status(issue, transition.to, fake._tick())
            return _Reply(204)
    raise JiraHTTPError(400, [f"Transition id '{transition_id}' is not valid for this issue."])


def _render_link(fake: FakeJira, issue: FakeIssue, link: FakeRemoteLink) -> dict[str, Any]:
    rendered: dict[str, Any] = {
        "id": link.id,
        "self": f"{fake.url}/rest/api/2/issue/{issue.key}/remotelink/{link.id}",
        "object": link.object,
    }
    if link.global_id is not None:
        rendered["globalId"] = link.global_id
    if link.relationship is not None:
        rendered["relationship"] = link.relationship
    return rendered


def _route_remote_links(fake: FakeJira, params: _Params, _: _Query, __: Any) -> _Reply:
    issue = fake._find(params["key"])
    return _Reply(200, [_render_link(fake, issue, link) for link in issue.remote_links])


def _route_upsert_remote_link(fake: FakeJira, params: _Params, _: _Query, body: Any) -> _Reply:
    issue = fake._find(params["key"])
    link_object = body.get("object") if isinstance(body, dict) else None
    if not isinstance(link_object, dict):
        raise JiraHTTPError(400, errors={"object": "'object' is required."})
    if not isinstance(link_object.get("url"), str):
        raise JiraHTTPError(400, errors={"url": "'url' is required."})
    if not isinstance(link_object.get("title"), str):
        raise JiraHTTPError(400, errors={"title": "'title' is required."})
    global_id = body.get("globalId")
    for link in issue.remote_links:
        if global_id is not None and link.global_id == global_id:
            link.object = link_object
            link.relationship = body.get("relationship")
            return _Reply(200, {"id": link.id, "self": _render_link(fake, issue, link)["self"]})
    link = FakeRemoteLink(next(fake._link_ids), global_id, link_object, body.get("relationship"))
    issue.remote_links.append(link)
    return _Reply(201, {"id": link.id, "self": _render_link(fake, issue, link)["self"]})


def _route_approvals(fake: FakeJira, params: _Params, query: _Query, _: Any) -> _Reply:
    issue = fake._find(params["key"])
    if issue.issue_type != "Change":
        raise JiraHTTPError(404, [f"The issue {issue.key} is not a service desk request."])
    start, limit = _int(query, "start", 0), min(_int(query, "limit", 50), 50)
    page = issue.approvals[start : start + limit]
    user = (
        {"accountId": "5b10ac8d82e05b22cc7d4ef6", "displayName": "Alice Approver"}
        if fake.flavor == "cloud"
        else {"name": "alice", "key": "JIRAUSER10200", "displayName": "Alice Approver"}
    )
    values = []
    for approval in page:
        rendered: dict[str, Any] = {
            "id": approval.id,
            "name": approval.name,
            "finalDecision": approval.final_decision,
            "canAnswerApproval": approval.final_decision == "pending",
            "approvers": [{"approver": user, "approverDecision": approval.final_decision}],
            "createdDate": _jsm_date(approval.created),
            "_links": {"self": f"{fake.url}/rest/servicedeskapi/request/{issue.id}/approval"},
        }
        if approval.completed is not None:
            rendered["completedDate"] = _jsm_date(approval.completed)
        values.append(rendered)
    return _Reply(
        200,
        {
            "size": len(values),
            "start": start,
            "limit": limit,
            "isLastPage": start + len(values) >= len(issue.approvals),
            "values": values,
        },
    )


def _search_args(query: _Query, body: Any) -> dict[str, Any]:
    """The search parameters from the query string (GET) or the JSON body (POST)."""
    if isinstance(body, dict):
        return body
    args: dict[str, Any] = {k: v[0] for k, v in query.items()}
    if "fields" in args:
        args["fields"] = _field_list(args["fields"])
    return args


def _route_search_jql(fake: FakeJira, params: _Params, query: _Query, body: Any) -> _Reply:
    if fake.flavor != "cloud":
        raise JiraHTTPError(404, ["fake Jira (Data Center): there is no /search/jql"])
    if params["v"] == "3":
        raise JiraHTTPError(404, ["fake Jira: search is served on API v2 only"])
    args = _search_args(query, body)
    jql = args.get("jql")
    if not isinstance(jql, str):
        raise JiraHTTPError(400, ["The 'jql' parameter is required."])
    parsed = _parse_jql(jql, fake)
    if not parsed.clauses:
        raise JiraHTTPError(400, [UNBOUNDED])
    size = max(1, min(int(args.get("maxResults") or 50), fake.max_page_size))
    offset = 0
    token = args.get("nextPageToken")
    if token is not None:
        offset = _read_token(token, jql)
    matches = fake.searchable(parsed.run(fake.issues.values())) if offset == 0 else None
    if matches is None:
        # later pages see what the first page saw (a snapshot kept in the token)
        matches = [fake.issues[k] for k in _token_keys(token) if k in fake.issues]
    page = matches[offset : offset + size]
    wanted = args.get("fields")
    expand = _names(args.get("expand"))
    properties = _names(args.get("properties"))
    result: dict[str, Any] = {
        "issues": [
            fake.render_issue(i, wanted, expand=expand, properties=properties)
            if wanted or expand or properties
            else {"id": str(i.id)}
            for i in page
        ]
    }
    if offset + size < len(matches):
        result["nextPageToken"] = _make_token(jql, offset + size, [i.key for i in matches])
        result["isLast"] = False
    else:
        result["isLast"] = True  # and no nextPageToken, as Cloud does on the last page
    return _Reply(200, result)


def _route_search(fake: FakeJira, params: _Params, query: _Query, body: Any) -> _Reply:
    if fake.flavor == "cloud":
        raise JiraHTTPError(410, [SEARCH_REMOVED])
    args = _search_args(query, body)
    jql = args.get("jql") or ""
    if not isinstance(jql, str):
        raise JiraHTTPError(400, ["jql must be a string"])
    parsed = _parse_jql(jql, fake)
    matches = fake.searchable(parsed.run(fake.issues.values()))
    start = int(args.get("startAt") or 0)
    size = max(0, min(int(args.get("maxResults") or 50), fake.max_page_size))
    wanted = args.get("fields")
    expand = _names(args.get("expand"))
    # Data Center's search has no ``properties`` parameter (JRASERVER-62898): none returned.
    return _Reply(
        200,
        {
            "startAt": start,
            "maxResults": size,
            "total": len(matches),
            "issues": [
                fake.render_issue(i, wanted, expand=expand) for i in matches[start : start + size]
            ],
        },
    )


def _route_changelog(fake: FakeJira, params: _Params, query: _Query, _: Any) -> _Reply:
    if fake.flavor != "cloud":
        raise JiraHTTPError(404, [f"fake Jira: no route for GET {params['path']}"])
    issue = fake._find(params["key"])
    start = _int(query, "startAt", 0)
    size = max(
        1, min(_int(query, "maxResults", fake.changelog_page_size), fake.changelog_page_size)
    )
    entries = sorted(issue.changelog, key=lambda h: h.created)
    page = entries[start : start + size]
    return _Reply(
        200,
        {
            "self": f"{fake.url}/rest/api/2/issue/{issue.key}/changelog"
            f"?maxResults={size}&startAt={start}",
            "maxResults": size,
            "startAt": start,
            "total": len(entries),
            "isLast": start + len(page) >= len(entries),
            "values": [fake.render_history(h) for h in page],
        },
    )


PROPERTY_KEY_LIMIT = 255
PROPERTY_VALUE_LIMIT = 32_768


def _property_url(fake: FakeJira, issue: FakeIssue, name: str) -> str:
    return f"{fake.url}/rest/api/2/issue/{issue.key}/properties/{name}"


def _route_property_keys(fake: FakeJira, params: _Params, _: _Query, __: Any) -> _Reply:
    issue = fake._find(params["key"])
    keys = [{"key": k, "self": _property_url(fake, issue, k)} for k in issue.properties]
    return _Reply(200, {"keys": keys})


def _route_get_property(fake: FakeJira, params: _Params, _: _Query, __: Any) -> _Reply:
    issue = fake._find(params["key"])
    name = params["prop"]
    if name not in issue.properties:
        raise JiraHTTPError(404, [f"The property with key '{name}' does not exist."])
    return _Reply(200, {"key": name, "value": issue.properties[name]})


def _route_set_property(fake: FakeJira, params: _Params, _: _Query, body: Any) -> _Reply:
    issue = fake._find(params["key"])
    name = params["prop"]
    if len(name) > PROPERTY_KEY_LIMIT:
        raise JiraHTTPError(400, [f"The property key must not exceed {PROPERTY_KEY_LIMIT}."])
    if body is None or body == {} or body == []:
        raise JiraHTTPError(400, ["The property value must be a valid, non-empty JSON."])
    if len(json.dumps(body, separators=(",", ":"), ensure_ascii=False)) > PROPERTY_VALUE_LIMIT:
        raise JiraHTTPError(
            400, [f"The property value must not exceed {PROPERTY_VALUE_LIMIT} characters."]
        )
    existed = name in issue.properties
    issue.properties[name] = body
    return _Reply(200 if existed else 201)


_KEY = r"(?P<key>[A-Za-z0-9_-]+)"
_PROP = r"(?P<prop>[^/]+)"
_ROUTES: list[tuple[str, str, Callable[[FakeJira, _Params, _Query, Any], _Reply]]] = [
    ("GET", r"/rest/api/(?P<v>[23])/field", _route_field),
    ("POST", r"/rest/api/(?P<v>[23])/issue", _route_create),
    ("GET", rf"/rest/api/(?P<v>2)/issue/{_KEY}", _route_get_issue),
    ("PUT", rf"/rest/api/(?P<v>2)/issue/{_KEY}", _route_edit_issue),
    ("GET", rf"/rest/api/(?P<v>2)/issue/{_KEY}/comment", _route_comments),
    ("POST", rf"/rest/api/(?P<v>[23])/issue/{_KEY}/comment", _route_add_comment),
    ("GET", rf"/rest/api/(?P<v>2)/issue/{_KEY}/comment/(?P<cid>\d+)", _route_get_comment),
    ("PUT", rf"/rest/api/(?P<v>2)/issue/{_KEY}/comment/(?P<cid>\d+)", _route_update_comment),
    ("GET", rf"/rest/api/(?P<v>2)/issue/{_KEY}/transitions", _route_transitions),
    ("POST", rf"/rest/api/(?P<v>2)/issue/{_KEY}/transitions", _route_do_transition),
    ("GET", rf"/rest/api/(?P<v>2)/issue/{_KEY}/remotelink", _route_remote_links),
    ("POST", rf"/rest/api/(?P<v>2)/issue/{_KEY}/remotelink", _route_upsert_remote_link),
    ("GET", rf"(?P<path>/rest/api/(?P<v>2)/issue/{_KEY}/changelog)", _route_changelog),
    ("GET", rf"/rest/api/(?P<v>2)/issue/{_KEY}/properties/?", _route_property_keys),
    ("GET", rf"/rest/api/(?P<v>2)/issue/{_KEY}/properties/{_PROP}", _route_get_property),
    ("PUT", rf"/rest/api/(?P<v>2)/issue/{_KEY}/properties/{_PROP}", _route_set_property),
    ("GET", r"/rest/api/(?P<v>[23])/search/jql", _route_search_jql),
    ("POST", r"/rest/api/(?P<v>[23])/search/jql", _route_search_jql),
    ("GET", r"/rest/api/(?P<v>[23])/search", _route_search),
    ("POST", r"/rest/api/(?P<v>[23])/search", _route_search),
    ("GET", rf"/rest/servicedeskapi/request/{_KEY}/approval", _route_approvals),
]


# --- helpers -----------------------------------------------------------------------------


def _jira_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def _jsm_date(moment: datetime) -> dict[str, Any]:
    return {
        "iso8601": moment.strftime("%Y-%m-%dT%H:%M:%S+0000"),
        "epochMillis": int(moment.timestamp() * 1000),
        "friendly": moment.strftime("%d/%b/%y %I:%M %p"),
    }


def _category(status: str, workflow: Mapping[str, Any]) -> str:
    if status == INITIAL_STATUS:
        return "new"
    return "indeterminate" if status in workflow else "done"


def _ref(value: Any, by: str, known: Mapping[str, str]) -> str | None:
    """A project/issue type given as ``{"key"|"name": ...}`` or ``{"id": ...}``."""
    if not isinstance(value, dict):
        return None
    if value.get(by) in known:
        return str(value[by])
    by_id = {v: k for k, v in known.items()}
    return by_id.get(str(value.get("id")))


def _check_label(label: Any) -> None:
    if not isinstance(label, str) or not label:
        raise JiraHTTPError(400, errors={"labels": "Labels must be non-empty strings."})
    if any(c.isspace() for c in label):
        raise JiraHTTPError(
            400, errors={"labels": f"The label '{label}' contains spaces which is invalid."}
        )
    if len(label) > 255:
        raise JiraHTTPError(400, errors={"labels": "The label must not exceed 255 characters."})


def _is_adf(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and value.get("type") == "doc"
        and value.get("version") == 1
        and isinstance(value.get("content"), list)
    )


def _adf_text(node: Any) -> str:
    if not isinstance(node, dict):
        return ""
    if node.get("type") == "text":
        return str(node.get("text", ""))
    if node.get("type") == "hardBreak":
        return "\n"
    parts = [_adf_text(child) for child in node.get("content", [])]
    joiner = "\n" if node.get("type") == "doc" else ""
    return joiner.join(parts)


def _adf(text: str) -> dict[str, Any]:
    paragraphs = [
        {"type": "paragraph", "content": [{"type": "text", "text": line}] if line else []}
        for line in text.split("\n")
    ]
    return {"type": "doc", "version": 1, "content": paragraphs}


def _text_value(field_id: str, value: Any, version: str, multiline: bool) -> str:
    """v2 takes plain strings everywhere; v3 takes ADF for rich-text fields and comments."""
    if version == "3" and multiline:
        if not _is_adf(value):
            raise JiraHTTPError(
                400,
                errors={
                    field_id: "Operation value must be an Atlassian Document (see the "
                    "Atlassian Document Format)"
                },
            )
        return _adf_text(value)
    if not isinstance(value, str):
        raise JiraHTTPError(400, errors={field_id: "Operation value must be a string"})
    return value


def _field_list(value: Any) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, list):
        return [str(v) for v in value]
    return [part.strip() for part in str(value).split(",") if part.strip()]


def _names(value: Any) -> list[str]:
    """``expand``/``properties``: a list (Data Center's body, Cloud's ``properties``) or a
    comma-separated string (Cloud's ``expand``, any query string)."""
    if value is None:
        return []
    parts = value if isinstance(value, list) else str(value).split(",")
    return [str(part).strip() for part in parts if str(part).strip()]


def _item(name: str, old: str | None, old_text: str | None) -> dict[str, Any]:
    return {"field": name, "fieldtype": "jira", "from": old, "fromString": old_text}


def _int(query: _Query, name: str, default: int) -> int:
    try:
        return int(query.get(name, [default])[0])
    except ValueError:
        raise JiraHTTPError(400, [f"'{name}' must be a number"]) from None


def _make_token(jql: str, offset: int, keys: list[str]) -> str:
    raw = json.dumps({"jql": jql, "offset": offset, "keys": keys})
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _decode_token(token: Any) -> dict[str, Any]:
    try:
        data = json.loads(base64.urlsafe_b64decode(str(token).encode()))
    except ValueError:
        raise JiraHTTPError(400, ["Invalid nextPageToken."]) from None
    if not isinstance(data, dict):
        raise JiraHTTPError(400, ["Invalid nextPageToken."])
    return data


def _read_token(token: Any, jql: str) -> int:
    data = _decode_token(token)
    if data.get("jql") != jql:
        raise JiraHTTPError(400, ["The nextPageToken does not belong to this JQL query."])
    return int(data["offset"])


def _token_keys(token: Any) -> list[str]:
    return [str(k) for k in _decode_token(token).get("keys", [])]


# --- a tiny JQL ------------------------------------------------------------------------

_JQL_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
      | (?P<op>!=|=|,|\(|\))
      | (?P<word>[A-Za-z0-9_.\-]+)
    )""",
    re.VERBOSE,
)
_JQL_FIELDS = {
    "project": "project",
    "labels": "labels",
    "status": "status",
    "issuetype": "issuetype",
    "type": "issuetype",
    "key": "key",
    "issuekey": "key",
}


@dataclass
class _Clause:
    field: str
    negated: bool
    values: list[str]

    def holds(self, issue: FakeIssue) -> bool:
        values = {v.casefold() for v in self.values}
        if self.field == "labels":
            hit = any(label.casefold() in values for label in issue.labels)
        else:
            actual = {
                "project": issue.project,
                "status": issue.status,
                "issuetype": issue.issue_type,
                "key": issue.key,
            }[self.field]
            hit = actual.casefold() in values
        return hit != self.negated


@dataclass
class _Jql:
    clauses: list[_Clause]
    descending: bool = False

    def run(self, issues: Iterable[FakeIssue]) -> list[FakeIssue]:
        found = [i for i in issues if all(c.holds(i) for c in self.clauses)]
        return sorted(found, key=lambda i: (i.created, i.id), reverse=self.descending)


def _jql_error(message: str) -> JiraHTTPError:
    return JiraHTTPError(400, [f"Error in the JQL Query: {message}"])


def _tokens(jql: str) -> list[tuple[str, str]]:
    tokens, position = [], 0
    while position < len(jql.rstrip()):
        match = _JQL_TOKEN.match(jql, position)
        if not match:
            raise _jql_error(
                f"The character '{jql[position:].strip()[:1]}' is a reserved "
                f"JQL character (at {position})"
            )
        kind = match.lastgroup or "word"
        text = match.group(kind)
        if kind == "string":
            text = re.sub(r"\\(.)", r"\1", text[1:-1])
        tokens.append((kind, text))
        position = match.end()
    return tokens


def _parse_jql(jql: str, fake: FakeJira) -> _Jql:
    """``clause (AND clause)* [ORDER BY created [ASC|DESC]]`` where a clause is
    ``field = v``, ``field != v``, ``field in (v, ...)`` or ``field not in (...)``."""
    tokens = _tokens(jql)
    position = 0

    def peek(offset: int = 0) -> tuple[str, str] | None:
        return tokens[position + offset] if position + offset < len(tokens) else None

    def is_word(token: tuple[str, str] | None, *words: str) -> bool:
        return token is not None and token[0] == "word" and token[1].casefold() in words

    def value() -> str:
        nonlocal position
        token = peek()
        if token is None or token[0] == "op":
            raise _jql_error("Expecting a value")
        position += 1
        return token[1]

    result = _Jql([])
    while peek() is not None and not is_word(peek(), "order"):
        if result.clauses:
            if not is_word(peek(), "and"):
                raise _jql_error(f"Expecting 'AND' or 'ORDER BY' but got '{peek()[1]}'")  # type: ignore[index]
            position += 1
        name_token = peek()
        if name_token is None:
            raise _jql_error("Expecting a field name")
        name = _JQL_FIELDS.get(name_token[1].casefold())
        if name is None:
            raise _jql_error(
                f"Field '{name_token[1]}' does not exist or you do not have permission to view it."
            )
        position += 1
        negated = False
        if peek() == ("op", "="):
            position += 1
            values = [value()]
        elif peek() == ("op", "!="):
            position += 1
            negated, values = True, [value()]
        else:
            if is_word(peek(), "not"):
                negated = True
                position += 1
            if not is_word(peek(), "in") or peek(1) != ("op", "("):
                raise _jql_error(f"the fake supports =, !=, in and not in after '{name_token[1]}'")
            position += 2
            values = [value()]
            while peek() == ("op", ","):
                position += 1
                values.append(value())
            if peek() != ("op", ")"):
                raise _jql_error("Expecting ')'")
            position += 1
        if name == "project":
            for key in values:
                if key.upper() not in fake.projects:
                    raise JiraHTTPError(
                        400, [f"The value '{key}' does not exist for the field 'project'."]
                    )
        result.clauses.append(_Clause(name, negated, values))
    if is_word(peek(), "order"):
        if not is_word(peek(1), "by") or not is_word(peek(2), "created"):
            raise _jql_error("the fake supports ORDER BY created only")
        position += 3
        if is_word(peek(), "asc", "desc"):
            result.descending = peek()[1].casefold() == "desc"  # type: ignore[index]
            position += 1
        if peek() is not None:
            raise _jql_error(f"Unexpected '{peek()[1]}' after ORDER BY")  # type: ignore[index]
    return result


# --- HTTP --------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    # Keep-alive, as Jira speaks it: a new connection (and thread) per request made the
    # fault runs spend most of their time in connection set-up.
    protocol_version = "HTTP/1.1"
    # Headers and body are separate writes: without TCP_NODELAY each answer would wait
    # for the client's delayed ACK (40 ms) on a kept-alive connection.
    disable_nagle_algorithm = True

    def _serve(self) -> None:
        fake: FakeJira = self.server.fake  # type: ignore[attr-defined]
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        query = parse_qs(url.query)
        fake.requests.append(
            Recorded(self.command, url.path, query, dict(self.headers.items()), raw)
        )
        fault = fake.take_fault(self.command, url.path)
        if fault is not None and fault.status is not None:
            reply = _Reply(fault.status, fault.body, dict(fault.headers))
        elif not fake.authorized(self.headers.get("Authorization")):
            headers = {"WWW-Authenticate": 'Basic realm="protected-area"'}
            if fake.flavor == "data-center":
                headers = {
                    "WWW-Authenticate": "Bearer",
                    "X-Seraph-LoginReason": "AUTHENTICATED_FAILED",
                }
            reply = _Reply(401, {"errorMessages": [NOT_AUTHENTICATED], "errors": {}}, headers)
        else:
            reply = self._route(fake, url.path, query, raw)
        if fault is not None and fault.delay and fake.closing.wait(fault.delay):
            return  # shutting down: the client has long given up
        if fault is not None and fault.drop_response:
            self.close_connection = True
            return  # the request took effect; the answer is lost
        self._send(reply)

    def _route(self, fake: FakeJira, path: str, query: _Query, raw: bytes) -> _Reply:
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            return _Reply(400, {"errorMessages": ["Unexpected character in the JSON body."]})
        try:
            return fake.handle(self.command, path, query, body)
        except JiraHTTPError as exc:
            return _Reply(exc.status, exc.body)

    def _send(self, reply: _Reply) -> None:
        if reply.body is None:
            payload, content_type = b"", "application/json"
        elif isinstance(reply.body, bytes):
            payload, content_type = reply.body, "text/plain; charset=utf-8"
        else:
            payload, content_type = json.dumps(reply.body).encode(), "application/json"
        try:
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            if payload:
                self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client timed out and hung up

    do_GET = do_POST = do_PUT = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:
        pass
