"""A thin, typed client of the Jira REST endpoints change tickets need (API v2).

One ``JiraClient`` speaks to Jira Cloud (HTTP Basic: email + API token; search by cursor
on ``/rest/api/2/search/jql``) or Data Center (``Authorization: Bearer <PAT>``; search by
offset on ``/rest/api/2/search``); which one follows from the credentials. API v2 is used
everywhere, so descriptions and comment bodies are plain text (wiki markup), never
Atlassian Document Format.

Failure model (every failure is a :class:`~change_mgmt.tickets.errors.JiraError`):

* every call has a timeout; 429/502/503/504 answers are retried with exponential backoff
  and jitter, honouring ``Retry-After`` (seconds or an HTTP date, capped), within a bound
  on attempts and on total waiting — then :class:`JiraUnavailable`; a timeout or a
  broken connection is not retried here (:class:`JiraUnavailable` at once: the caller,
  or the outbox, replays later);
* requests that are not idempotent (add a comment, transition) are retried only after
  429/503, which say the request was not processed;
* ``POST /issue`` (create) is never retried after anything but a 429: a timeout, a lost
  answer or a 5xx raises :class:`JiraCreateUncertain`, and the caller must search for the
  ticket (by its change-digest label) before creating again;
* Jira's error body ``{"errorMessages": [...], "errors": {field: msg}}`` is surfaced whole;
  401/403 name the auth scheme used; an answer we cannot read is "malformed", never a raw
  ``ValidationError``;
* no token, Basic credential or ``Authorization`` value ever appears in an exception,
  a log record or a ``repr``: messages are scrubbed of every form of the secret.

Sleep, clock and jitter are injectable so tests do not wait.
"""

from __future__ import annotations

import difflib
import email.utils
import json
import logging
import random
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Self, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from change_mgmt.http import new_client
from change_mgmt.tickets.auth import CloudAuth, DataCenterAuth, JiraFlavor
from change_mgmt.tickets.config import JiraConfig, check_url
from change_mgmt.tickets.errors import (
    FieldNotFound,
    JiraAuthError,
    JiraCreateUncertain,
    JiraError,
    JiraUnavailable,
    TicketInputError,
    TransitionNotAvailable,
)
from change_mgmt.tickets.models import (
    Approval,
    ApprovalPage,
    ChangeHistory,
    ChangelogPage,
    CloudSearchPage,
    Comment,
    CommentPage,
    DataCenterSearchPage,
    EntityProperty,
    ErrorBody,
    FieldInfo,
    FieldList,
    Issue,
    IssueRef,
    RemoteLinkRef,
    Transition,
    Transitions,
)

_log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 10.0
DEFAULT_SEARCH_FIELDS: tuple[str, ...] = ("summary", "status", "labels", "created")
SEARCH_CHANGELOG_LIMIT = 40
"""Jira Cloud's search returns at most this many (the most recent) changelog entries per
issue with ``expand=changelog`` (JRACLOUD-96459); ``GET .../issue/{key}/changelog`` pages
through all of them."""
PROPERTY_KEY_LIMIT = 255
PROPERTY_VALUE_LIMIT = 32_768
"""Jira's limits on an issue property: key length, and length of the value as JSON."""
SEARCH_PROPERTIES_LIMIT = 5
"""Cloud's search returns at most this many issue properties per issue."""
RETRY_STATUSES = frozenset({429, 502, 503, 504})
NOT_PROCESSED_STATUSES = frozenset({429, 503})
"""Answers that say the request was refused before it was processed: even requests
that are not idempotent may be sent again after them."""

_ISSUE_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_]*-[0-9]+|[0-9]+")
_NUMERIC_ID = re.compile(r"[0-9]+")
_PROPERTY_KEY = re.compile(r"[A-Za-z0-9._-]+")
_SECRET_HEADER = re.compile(r"auth|token|key|secret|cookie|password", re.IGNORECASE)
_API = "/rest/api/2"

Sleep = Callable[[float], None]
Clock = Callable[[], float]
_Kind = Literal["read", "write", "create"]
"""How a request may be retried: ``read`` (idempotent, incl. PUT and upserts) on any
retry status, ``write`` only when not processed (429/503), ``create`` only on 429."""
_M = TypeVar("_M", bound=BaseModel)


@dataclass(frozen=True)
class RetryPolicy:
    """How hard one call tries: ``attempts`` in all (the first included); waits of
    ``base_delay · 2^(n-1)`` with jitter (× 0.5–1.0), or the server's ``Retry-After``,
    each capped at ``max_delay``; and no more than ``max_total`` seconds from the first
    attempt to the last (a wait that would pass it is not started)."""

    attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_total: float = 60.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"attempts must be at least 1, got {self.attempts}")
        for name in ("base_delay", "max_delay", "max_total"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be >= 0 seconds, got {getattr(self, name)}")

    def backoff(self, retry: int, jitter: float) -> float:
        """The wait before retry number ``retry`` (1-based) without a ``Retry-After``."""
        return min(self.max_delay, self.base_delay * 2.0 ** (retry - 1)) * (0.5 + jitter / 2)


NO_RETRY = RetryPolicy(attempts=1)


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` value: delta-seconds or an HTTP date
    (relative to ``now``, epoch seconds); None when absent or unreadable."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if re.fullmatch(r"[0-9]+(\.[0-9]+)?", value):
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - now)


class JiraClient:
    """Jira over HTTP; close it (or use it as a context manager) unless you inject the
    ``httpx.Client``. ``timeout`` applies to every call (connect, each read, each write);
    redirects are not followed (a login page is not an answer)."""

    def __init__(
        self,
        base_url: str,
        auth: CloudAuth | DataCenterAuth,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        client: httpx.Client | None = None,
        sleep: Sleep = time.sleep,
        clock: Clock = time.time,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        try:
            url = check_url(base_url)
        except ValueError as exc:
            raise TicketInputError(f"Jira base URL: {exc}") from None
        if not timeout > 0:
            raise TicketInputError(f"timeout must be positive seconds, got {timeout}")
        self._url = httpx.URL(url)
        self._where = url
        self._auth = auth
        self._timeout = timeout
        self._retry = retry or RetryPolicy()
        self._client = client
        self._own_client: httpx.Client | None = None
        self._sleep = sleep
        self._clock = clock
        self._jitter = jitter
        self._fields: tuple[FieldInfo, ...] | None = None
        self._secrets = _secrets(auth, client)

    @classmethod
    def from_config(
        cls,
        config: JiraConfig,
        *,
        retry: RetryPolicy | None = None,
        client: httpx.Client | None = None,
        sleep: Sleep = time.sleep,
        clock: Clock = time.time,
        jitter: Callable[[], float] = random.random,
    ) -> JiraClient:
        return cls(
            config.url,
            config.auth,
            timeout=config.timeout,
            retry=retry,
            client=client,
            sleep=sleep,
            clock=clock,
            jitter=jitter,
        )

    @property
    def flavor(self) -> JiraFlavor:
        return self._auth.flavor

    @property
    def base_url(self) -> str:
        return self._where

    def __repr__(self) -> str:
        return f"JiraClient({self._where!r}, {self._auth.describe()})"

    def close(self) -> None:
        """Close the client this one made for itself; an injected one is the caller's."""
        if self._own_client is not None:
            self._own_client.close()
            self._own_client = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- issues ---------------------------------------------------------------------------

    def create_issue(
        self, fields: Mapping[str, Any], *, update: Mapping[str, Any] | None = None
    ) -> IssueRef:
        """``POST /rest/api/2/issue``. Never retried after a timeout, a lost answer or a
        5xx: those raise :class:`JiraCreateUncertain` (search before creating again)."""
        for name in ("description", "environment"):
            if isinstance(fields.get(name), Mapping):
                raise TicketInputError(
                    f"field {name!r} is an object: API v2 takes plain text (wiki markup), "
                    "not Atlassian Document Format"
                )
        body: dict[str, Any] = {"fields": dict(fields)}
        if update:
            body["update"] = dict(update)
        response = self._call("POST", f"{_API}/issue", body=body, kind="create")
        return self._parse(IssueRef, response, "POST", f"{_API}/issue")

    def get_issue(self, key: str, fields: Sequence[str] | None = None) -> Issue:
        """``GET /rest/api/2/issue/{key}``, with only ``fields`` (all when None)."""
        path = f"{_API}/issue/{_issue_key(key)}"
        params = {"fields": ",".join(fields)} if fields is not None else None
        return self._parse(Issue, self._call("GET", path, params=params), "GET", path)

    def edit_issue(
        self,
        key: str,
        *,
        fields: Mapping[str, Any] | None = None,
        update: Mapping[str, Any] | None = None,
    ) -> None:
        """``PUT /rest/api/2/issue/{key}``: set ``fields``, apply ``update`` operations."""
        body: dict[str, Any] = {}
        if fields:
            body["fields"] = dict(fields)
        if update:
            body["update"] = dict(update)
        if not body:
            raise TicketInputError("edit_issue needs fields or update")
        self._call("PUT", f"{_API}/issue/{_issue_key(key)}", body=body)

    def add_labels(self, key: str, labels: Iterable[str]) -> None:
        """Add labels (labels already there stay, once)."""
        wanted = list(dict.fromkeys(_label(label) for label in labels))
        if wanted:
            self.edit_issue(key, update={"labels": [{"add": label} for label in wanted]})

    def search(
        self,
        jql: str,
        fields: Sequence[str] = DEFAULT_SEARCH_FIELDS,
        max_results: int | None = None,
        *,
        page_size: int = 50,
        expand: Sequence[str] = (),
        properties: Sequence[str] = (),
    ) -> Iterator[Issue]:
        """The issues matching ``jql``, page by page, at most ``max_results`` of them
        (all when None). Lazy: requests are sent (and errors raised) while iterating.

        Cloud uses ``POST /rest/api/2/search/jql`` (cursor, no total, eventually
        consistent: an issue created a moment ago may be missing); Data Center
        ``POST /rest/api/2/search`` (offset). ``max_results`` is the total wanted; each
        page asks for ``page_size`` (the server may send fewer).

        ``expand`` (say ``["changelog"]``) is sent as each API documents it: a
        comma-separated string on Cloud's ``/search/jql``, a list on Data Center's
        ``/search``. On Cloud the expanded changelog holds only the most recent
        :data:`SEARCH_CHANGELOG_LIMIT` entries (see :meth:`changelog`). ``properties``
        (issue property keys, at most :data:`SEARCH_PROPERTIES_LIMIT`) come back in
        :attr:`Issue.properties`; Cloud only: Data Center's search cannot return issue
        properties (JRASERVER-62898), read them with :meth:`get_issue_property`."""
        if not jql.strip():
            raise TicketInputError("JQL is empty: Jira refuses unbounded searches")
        if max_results is not None and max_results < 0:
            raise TicketInputError(f"max_results must be >= 0, got {max_results}")
        if page_size < 1:
            raise TicketInputError(f"page_size must be >= 1, got {page_size}")
        wanted = [_property_key(key) for key in properties]
        if len(wanted) > SEARCH_PROPERTIES_LIMIT:
            raise TicketInputError(
                f"search returns at most {SEARCH_PROPERTIES_LIMIT} issue properties, "
                f"{len(wanted)} were asked for"
            )
        extra: dict[str, Any] = {}
        if self.flavor is JiraFlavor.CLOUD:
            if expand:
                extra["expand"] = ",".join(expand)
            if wanted:
                extra["properties"] = wanted
            return self._search_cloud(jql, list(fields), max_results, page_size, extra)
        if wanted:
            raise TicketInputError(
                "Jira Data Center's search cannot return issue properties "
                "(JRASERVER-62898): read each one with get_issue_property"
            )
        if expand:
            extra["expand"] = list(expand)
        return self._search_data_center(jql, list(fields), max_results, page_size, extra)

    def _search_cloud(
        self,
        jql: str,
        fields: list[str],
        limit: int | None,
        page_size: int,
        extra: Mapping[str, Any],
    ) -> Iterator[Issue]:
        path, token, seen, count = f"{_API}/search/jql", None, set[str](), 0
        while limit is None or count < limit:
            size = page_size if limit is None else min(page_size, limit - count)
            body: dict[str, Any] = {"jql": jql, "fields": fields, "maxResults": size, **extra}
            if token is not None:
                body["nextPageToken"] = token
            page = self._parse(CloudSearchPage, self._call("POST", path, body=body), "POST", path)
            for issue in page.issues[: None if limit is None else limit - count]:
                count += 1
                yield issue
            token = page.next_page_token
            if page.is_last or not token:
                return
            if token in seen or not page.issues:
                raise self._malformed("POST", path, "the search cursor does not advance")
            seen.add(token)

    def _search_data_center(
        self,
        jql: str,
        fields: list[str],
        limit: int | None,
        page_size: int,
        extra: Mapping[str, Any],
    ) -> Iterator[Issue]:
        path, start, count = f"{_API}/search", 0, 0
        while limit is None or count < limit:
            size = page_size if limit is None else min(page_size, limit - count)
            body = {"jql": jql, "fields": fields, "startAt": start, "maxResults": size, **extra}
            page = self._parse(
                DataCenterSearchPage, self._call("POST", path, body=body), "POST", path
            )
            for issue in page.issues[: None if limit is None else limit - count]:
                count += 1
                yield issue
            start = page.start_at + len(page.issues)
            if not page.issues or start >= page.total:
                return

    def changelog(self, key: str, *, page_size: int = 100) -> list[ChangeHistory]:
        """Every changelog entry of the issue, oldest first: ``GET .../issue/{key}/changelog``
        (Jira Cloud; offset paging with ``startAt``/``maxResults``, ``isLast``/``total``).
        Data Center has no such resource: there ``expand=changelog`` is the history."""
        if self.flavor is not JiraFlavor.CLOUD:
            raise TicketInputError(
                "GET .../issue/{key}/changelog is Jira Cloud's; on Data Center read the "
                "history with expand=changelog"
            )
        if page_size < 1:
            raise TicketInputError(f"page_size must be >= 1, got {page_size}")
        path = f"{_API}/issue/{_issue_key(key)}/changelog"
        entries: list[ChangeHistory] = []
        while True:
            start = len(entries)
            params = {"startAt": str(start), "maxResults": str(page_size)}
            page = self._parse(ChangelogPage, self._call("GET", path, params=params), "GET", path)
            if page.start_at != start:
                raise self._malformed(
                    "GET", path, f"asked for startAt {start}, got {page.start_at}"
                )
            entries.extend(page.values)
            if not page.values or page.is_last is True:
                return entries
            if page.is_last is None and (
                len(entries) >= page.total
                if page.total is not None
                else len(page.values) < page_size
            ):
                return entries

    # --- issue properties -----------------------------------------------------------------

    def set_issue_property(self, key: str, property_key: str, value: Mapping[str, Any]) -> None:
        """``PUT .../issue/{key}/properties/{propertyKey}``: store (or replace) a JSON object
        on the issue. Idempotent, so retried like a read. Jira limits the key to
        :data:`PROPERTY_KEY_LIMIT` characters and the value to :data:`PROPERTY_VALUE_LIMIT`."""
        if not isinstance(value, Mapping) or not value:
            raise TicketInputError("an issue property value must be a non-empty JSON object")
        try:
            size = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False))
        except (TypeError, ValueError) as exc:
            raise TicketInputError(f"the issue property value is not JSON: {exc}") from None
        if size > PROPERTY_VALUE_LIMIT:
            raise TicketInputError(
                f"the issue property value is {size} characters as JSON; Jira takes at most "
                f"{PROPERTY_VALUE_LIMIT}"
            )
        path = f"{_API}/issue/{_issue_key(key)}/properties/{_property_key(property_key)}"
        self._call("PUT", path, body=dict(value))

    def get_issue_property(self, key: str, property_key: str) -> Any:
        """The JSON value of the issue's property, None when the issue has no such property
        (``GET .../issue/{key}/properties/{propertyKey}`` answers 404; the issue is
        assumed to exist, as when it was just found by a search)."""
        path = f"{_API}/issue/{_issue_key(key)}/properties/{_property_key(property_key)}"
        try:
            response = self._call("GET", path)
        except JiraError as exc:
            if exc.status == 404:
                return None
            raise
        return self._parse(EntityProperty, response, "GET", path).value

    # --- comments -------------------------------------------------------------------------

    def add_comment(self, key: str, body: str) -> str:
        """``POST .../issue/{key}/comment`` with a plain-text body; the new comment's id."""
        path = f"{_API}/issue/{_issue_key(key)}/comment"
        response = self._call("POST", path, body={"body": _text(body)}, kind="write")
        return self._parse(Comment, response, "POST", path).id

    def update_comment(self, key: str, comment_id: str, body: str) -> Comment:
        """``PUT .../issue/{key}/comment/{id}``: replace the comment's body."""
        if not _NUMERIC_ID.fullmatch(comment_id):
            raise TicketInputError(f"{comment_id[:40]!r} is not a comment id")
        path = f"{_API}/issue/{_issue_key(key)}/comment/{comment_id}"
        response = self._call("PUT", path, body={"body": _text(body)})
        return self._parse(Comment, response, "PUT", path)

    def list_comments(self, key: str) -> list[Comment]:
        """Every comment of the issue, oldest first (all pages)."""
        path = f"{_API}/issue/{_issue_key(key)}/comment"
        comments: list[Comment] = []
        while True:
            params = {"startAt": str(len(comments)), "maxResults": "100"}
            page = self._parse(CommentPage, self._call("GET", path, params=params), "GET", path)
            comments.extend(page.comments)
            if not page.comments or page.total is None or len(comments) >= page.total:
                return comments

    def upsert_marked_comment(self, key: str, marker: str, body: str) -> str:
        """Keep one comment carrying ``marker`` (say ``[sre-gate:current-preview]``): edit
        the oldest comment containing it, else add one; the comment's id.

        ``marker`` is appended on a line of its own unless ``body`` contains it already.
        An unchanged body is not written again (no notification storm)."""
        if not marker or marker != marker.strip() or "\n" in marker:
            raise TicketInputError(
                "the comment marker must be a non-empty single line without outer spaces"
            )
        text = body if marker in body else f"{body.rstrip()}\n\n{marker}"
        for comment in self.list_comments(key):
            if marker in comment.body:
                if comment.body != text:
                    self.update_comment(key, comment.id, text)
                return comment.id
        return self.add_comment(key, text)

    # --- workflow -------------------------------------------------------------------------

    def transitions(self, key: str) -> list[Transition]:
        """The transitions available from the issue's current status."""
        path = f"{_API}/issue/{_issue_key(key)}/transitions"
        return list(self._parse(Transitions, self._call("GET", path), "GET", path).transitions)

    def transition(
        self,
        key: str,
        name: str,
        *,
        fields: Mapping[str, Any] | None = None,
        update: Mapping[str, Any] | None = None,
    ) -> Transition:
        """Move the issue along the transition called ``name`` (case-insensitive; ids
        differ per workflow). :class:`TransitionNotAvailable` lists the names there are."""
        available = self.transitions(key)
        wanted = name.strip().casefold()
        matches = [t for t in available if t.name.strip().casefold() == wanted]
        path = f"{_API}/issue/{_issue_key(key)}/transitions"
        if not matches:
            names = [t.name for t in available]
            shown = ", ".join(
                f"{t.name!r}" + (f" (to {t.target!r})" if t.target else "") for t in available
            )
            raise TransitionNotAvailable(
                self._redact(
                    f"issue {key} has no transition {name!r} from its current status; "
                    + (f"available: {shown}" if available else "none is available")
                ),
                available=names,
                method="POST",
                path=path,
            )
        if len(matches) > 1:
            ids = ", ".join(t.id for t in matches)
            raise JiraError(
                f"issue {key} has several transitions named {name!r} (ids {ids}): "
                "rename them in the workflow",
                method="POST",
                path=path,
            )
        body: dict[str, Any] = {"transition": {"id": matches[0].id}}
        if fields:
            body["fields"] = dict(fields)
        if update:
            body["update"] = dict(update)
        self._call("POST", path, body=body, kind="write")
        return matches[0]

    # --- links, fields, approvals -----------------------------------------------------------

    def upsert_remote_link(
        self,
        key: str,
        *,
        global_id: str,
        url: str,
        title: str,
        summary: str | None = None,
        relationship: str | None = None,
        icon_url: str | None = None,
    ) -> RemoteLinkRef:
        """``POST .../issue/{key}/remotelink``: the link with this ``global_id`` is
        created or updated in place (Jira's upsert), never duplicated."""
        if not global_id.strip():
            raise TicketInputError("a remote link needs a non-empty global_id")
        if not url.startswith(("https://", "http://")):
            raise TicketInputError(f"remote link URL {url[:80]!r} is not http(s)")
        link: dict[str, Any] = {"url": url, "title": title}
        if summary is not None:
            link["summary"] = summary
        if icon_url is not None:
            link["icon"] = {"url16x16": icon_url, "title": title}
        body: dict[str, Any] = {"globalId": global_id, "object": link}
        if relationship is not None:
            body["relationship"] = relationship
        path = f"{_API}/issue/{_issue_key(key)}/remotelink"
        return self._parse(RemoteLinkRef, self._call("POST", path, body=body), "POST", path)

    def fields(self) -> tuple[FieldInfo, ...]:
        """``GET /rest/api/2/field``, asked once per client."""
        if self._fields is None:
            path = f"{_API}/field"
            response = self._call("GET", path)
            self._fields = self._parse(FieldList, response, "GET", path).root
        return self._fields

    def field_id(self, name: str) -> str:
        """The id of the field called ``name`` (exact name first, then ignoring case)."""
        return self.field_ids({name: name})[name]

    def field_ids(self, names: Mapping[str, str]) -> dict[str, str]:
        """Each key of ``names`` → the id of the site field named by its value; every
        unknown or ambiguous name is reported in one :class:`FieldNotFound`."""
        known = self.fields()
        found: dict[str, str] = {}
        problems: list[str] = []
        for ours, theirs in names.items():
            matches = [f for f in known if f.name == theirs] or [
                f for f in known if f.name.casefold() == theirs.strip().casefold()
            ]
            if len(matches) == 1:
                found[ours] = matches[0].id
            elif matches:
                ids = ", ".join(f.id for f in matches)
                problems.append(f"{theirs!r} names several fields ({ids}): rename one on the site")
            else:
                close = difflib.get_close_matches(theirs, [f.name for f in known], n=3)
                hint = f" (did you mean {', '.join(map(repr, close))}?)" if close else ""
                problems.append(f"no field named {theirs!r}{hint}")
        if problems:
            raise FieldNotFound(
                f"Jira at {self._where}: " + "; ".join(problems), method="GET", path=f"{_API}/field"
            )
        return found

    def approvals(self, key: str) -> list[Approval]:
        """Jira Service Management approvals of the request (all pages)."""
        path = f"/rest/servicedeskapi/request/{_issue_key(key)}/approval"
        approvals: list[Approval] = []
        while True:
            params = {"start": str(len(approvals)), "limit": "50"}
            page = self._parse(ApprovalPage, self._call("GET", path, params=params), "GET", path)
            approvals.extend(page.values)
            if page.is_last_page or not page.values:
                return approvals

    # --- HTTP -----------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        kind: _Kind = "read",
    ) -> httpx.Response:
        """One logical call: send, retry what may be retried, turn failures into errors."""
        url = self._url.copy_with(path=self._url.path.rstrip("/") + path)
        started = self._clock()
        for attempt in range(1, self._retry.attempts + 1):
            response = self._send(method, url, path, params, body, kind)
            status = response.status_code
            retryable = status in RETRY_STATUSES and (
                kind == "read"
                or (kind == "write" and status in NOT_PROCESSED_STATUSES)
                or (kind == "create" and status == 429)
            )
            if not retryable:
                return self._check(response, method, path, kind)
            header = response.headers.get("Retry-After")
            asked = retry_after_seconds(header, self._clock())
            delay = (
                min(asked, self._retry.max_delay)
                if asked is not None
                else self._retry.backoff(attempt, self._jitter())
            )
            waited = self._clock() - started
            if attempt == self._retry.attempts or waited + delay > self._retry.max_total:
                break
            _log.info(
                "Jira %s %s answered HTTP %d; retry %d of %d in %.2f s",
                method,
                path,
                status,
                attempt,
                self._retry.attempts - 1,
                delay,
            )
            self._sleep(delay)
        text, messages, field_errors = self._error_text(response)
        after = f" (Retry-After: {self._redact(header)[:60]})" if header else ""
        raise JiraUnavailable(
            f"Jira at {self._where} answered HTTP {status} to {method} {path}{after} "
            f"{attempt} time(s) in {self._clock() - started:.1f} s; gave up{text}",
            status=status,
            messages=messages,
            field_errors=field_errors,
            method=method,
            path=path,
        )

    def _send(
        self,
        method: str,
        url: httpx.URL,
        path: str,
        params: Mapping[str, str] | None,
        body: Any,
        kind: _Kind,
    ) -> httpx.Response:
        headers = {"Authorization": self._auth.header(), "Accept": "application/json"}
        try:
            return self._http().request(
                method,
                url,
                params=params,
                json=body,
                headers=headers,
                timeout=self._timeout,
                follow_redirects=False,
            )
        except httpx.TimeoutException as exc:
            sent = not isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout)
            problem = f"timed out after {self._timeout:g} s"
        except httpx.ConnectError as exc:
            sent, problem = False, f"unreachable ({self._redact(str(exc)) or type(exc).__name__})"
        except httpx.RequestError as exc:  # read/write errors, lost answers, bad encodings
            sent = not isinstance(exc, httpx.UnsupportedProtocol)
            problem = f"no usable answer ({self._redact(str(exc)) or type(exc).__name__})"
        if kind == "create" and sent:
            raise JiraCreateUncertain(
                f"Jira at {self._where}: {problem} for {method} {path}; the issue may or "
                "may not have been created: search for it before creating it again",
                method=method,
                path=path,
            )
        maybe = " (it may have been applied)" if kind == "write" and sent else ""
        raise JiraUnavailable(
            f"Jira at {self._where}: {problem} for {method} {path}{maybe}",
            method=method,
            path=path,
        )

    def _check(
        self, response: httpx.Response, method: str, path: str, kind: _Kind
    ) -> httpx.Response:
        status = response.status_code
        if response.is_success:
            return response
        text, messages, field_errors = self._error_text(response)
        at = f"Jira at {self._where} answered HTTP {status} to {method} {path}"

        def error(cls: type[JiraError], message: str) -> JiraError:
            return cls(
                message,
                status=status,
                messages=messages,
                field_errors=field_errors,
                method=method,
                path=path,
            )

        if response.is_redirect:
            where = httpx.URL(response.headers.get("Location", "")).copy_with(query=None)
            where_text = self._redact(str(where))[:120]
            raise error(
                JiraError, f"{at}: a redirect to {where_text!r} (a login page? check SRE_JIRA_URL)"
            )
        if status in (401, 403):
            reason = response.headers.get("X-Seraph-LoginReason", "")
            if "AUTHENTICATION_DENIED" in reason:
                hint = "Jira wants a CAPTCHA after failed logins: log in once in a browser"
            elif status == 401:
                hint = self._auth.hint()
            else:
                hint = f"the account may lack a permission for this, or {self._auth.hint()}"
            raise error(
                JiraAuthError, f"{at} with {self._auth.describe()}{text.rstrip('.')}; {hint}"
            )
        if kind == "create" and status >= 500:
            raise error(
                JiraCreateUncertain,
                f"{at}{text}; the issue may or may not have been created (a 5xx can come "
                "after the issue was stored): search for it before creating it again",
            )
        if status in RETRY_STATUSES:
            maybe = " (it may have been applied)" if kind == "write" else ""
            raise error(JiraUnavailable, f"{at}{text}{maybe}")
        raise error(JiraError, f"{at}{text}")

    def _error_text(self, response: httpx.Response) -> tuple[str, tuple[str, ...], dict[str, str]]:
        """``": msg; field: msg"`` for a message, plus both halves of the body, redacted."""
        messages: tuple[str, ...] = ()
        field_errors: dict[str, str] = {}
        try:
            parsed = ErrorBody.model_validate_json(response.content)
            messages = tuple(self._redact(str(m)) for m in parsed.error_messages)
            field_errors = {
                self._redact(k): self._redact(v if isinstance(v, str) else str(v))
                for k, v in parsed.errors.items()
            }
        except ValidationError:
            pass
        parts = [*messages, *(f"{k}: {v}" for k, v in field_errors.items())]
        if not parts:
            content_type = response.headers.get("Content-Type", "")
            snippet = " ".join(response.text.split())[:200] if response.content else ""
            if "html" in content_type or snippet.startswith("<"):
                snippet = "(an HTML page)"
            if snippet:
                parts = [self._redact(snippet)]
        return (": " + "; ".join(parts) if parts else ""), messages, field_errors

    def _parse(self, model: type[_M], response: httpx.Response, method: str, path: str) -> _M:
        try:
            return model.model_validate_json(response.content)
        except ValidationError as exc:
            raise self._malformed(method, path, _why(exc), response.status_code) from None

    def _malformed(self, method: str, path: str, why: str, status: int | None = None) -> JiraError:
        return JiraError(
            f"malformed response from Jira at {self._where} to {method} {path}: {why}",
            status=status,
            method=method,
            path=path,
        )

    def _http(self) -> httpx.Client:
        if self._client is not None:
            return self._client
        if self._own_client is None:
            self._own_client = new_client()
        return self._own_client

    def _redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "[redacted]")
        return text


def _issue_key(key: str) -> str:
    if not _ISSUE_KEY.fullmatch(key):
        raise TicketInputError(f"{key[:40]!r} is not a Jira issue key (like OPS-123) or id")
    return key


def _property_key(key: str) -> str:
    if not _PROPERTY_KEY.fullmatch(key) or len(key) > PROPERTY_KEY_LIMIT:
        raise TicketInputError(
            f"{key[:60]!r} is not an issue property key: 1-{PROPERTY_KEY_LIMIT} letters, "
            "digits, '.', '_' or '-'"
        )
    return key


def _label(label: str) -> str:
    if not label or len(label) > 255 or any(c.isspace() for c in label):
        raise TicketInputError(f"{label[:60]!r} is not a Jira label: 1-255 characters, no spaces")
    return label


def _text(body: str) -> str:
    if not isinstance(body, str):
        raise TicketInputError(
            "API v2 comment bodies are plain text, not Atlassian Document Format"
        )
    return body


def _why(exc: ValidationError) -> str:
    first = exc.errors(include_url=False, include_input=False)[0]
    if first["type"] == "json_invalid":
        return "body is not JSON"
    where = ".".join(str(part) for part in first["loc"]) or "body"
    return f"{where}: {first['msg']}"


def _secrets(auth: CloudAuth | DataCenterAuth, client: httpx.Client | None) -> list[str]:
    """Every form of a secret to scrub, longest first (so none is half-replaced)."""
    found = set(auth.secrets())
    for name, value in client.headers.items() if client else []:
        if _SECRET_HEADER.search(name):
            found.update((value, value.rsplit(" ", 1)[-1]))
    return sorted((s for s in found if len(s) >= 8), key=len, reverse=True)
