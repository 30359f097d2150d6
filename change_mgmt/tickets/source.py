"""Jira as the gate's ticket source (and, optionally, an approval source).

:meth:`JiraTickets.ticket_for` finds or opens the one change ticket of a change record.
It fails closed: anything that prevents knowing the ticket raises :class:`TicketError`
with the reason (the gate turns that into its ``no-ticket`` reason).

Finding before creating (idempotency), in this order:

1. the key the ledger already holds for the record (``record.ticket_key``);
2. a search for the change's dedupe label ``sre-change-<16 hex>`` (stack + digest);
3. PR continuity: with a PR URL, a ticket of the same PR *and* stack (labels
   ``sre-pr-…`` and ``sre-stack-…``) that is not a duplicate and still in a status listed
   in ``continue_statuses`` (not yet approved or started) is *updated* for the new digest:
   it gets the new dedupe label, the new summary/description and a comment
   "preview changed: new digest …";
4. otherwise create it. When the create's answer is lost (:class:`JiraCreateUncertain`)
   nothing is created again blindly: the label is searched ``search_attempts`` times with
   a growing pause (Jira Cloud's search lags behind creates); not found → TicketError
   ("the create may have happened; the next run will find it").

Gates racing on one change (N CI runners): steps 2–4 run only in the run that holds the
ledger's claim on creating the change's ticket (:meth:`Ledger.claim_ticket_creation`, a
lease of ``claim_lease``); the ledger serialises the record, so exactly one run creates,
however far Jira's search lags. The others wait (up to ``key_wait``, a growing pause)
for the key to reach the ledger and use it; a holder that died loses its claim when the
lease ends and the next run claims (and searches first); a wait that ends without a key
fails closed. A failed create releases the claim at once.

Duplicates still get reconciled, as a second line of defence (an uncertain create whose
key was lost, a holder that outlived its lease): after creating, the holder searches
the label again (until its own issue shows, bounded) and keeps the *oldest* ticket with
the label (created first, then lowest id), and every later run does the same search
from the linked key. Each younger ticket is labelled ``sre-duplicate``, loses the dedupe
label (so later searches see only the kept one), gets a comment naming the kept ticket
and, if ``duplicate_transition`` is set, that transition. The key is written to the
ledger as soon as it is known (``Ledger.set_ticket``), then the ticket's ``sre-change``
issue property (the change's facts for reports, see :mod:`change_mgmt.tickets.properties`),
and one "current preview" comment (marker ``[sre-gate:current-preview]``) is kept up to
date with the rendered description.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from change_mgmt.gate.decision import Approval, TicketRef
from change_mgmt.ledger.records import ChangeRecord, ChangeState, LedgerError
from change_mgmt.ledger.store import TICKET_CLAIM_LEASE, Ledger, TicketClaim
from change_mgmt.tickets.config import JiraConfig
from change_mgmt.tickets.content import (
    TicketContent,
    TicketContext,
    change_label,
    pr_label,
    render_ticket,
    resolve_fields,
    stack_label,
)
from change_mgmt.tickets.errors import (
    JiraCreateUncertain,
    JiraError,
    TicketError,
    TransitionNotAvailable,
)
from change_mgmt.tickets.jira import JiraClient
from change_mgmt.tickets.models import ApprovalDecision, Issue
from change_mgmt.tickets.outbox import OutboxItem
from change_mgmt.tickets.properties import CHANGE_PROPERTY, change_property

_log = logging.getLogger(__name__)

SOURCE = "jira"
PREVIEW_MARKER = "[sre-gate:current-preview]"
DUPLICATE_MARKER = "[sre-gate:duplicate]"
DUPLICATE_LABEL = "sre-duplicate"
JSM_SOURCE = "jira service management"
_FIELDS = ("summary", "status", "labels", "created")
MAX_KEY_WAIT_PAUSE = 4.0

DEFAULT_TRANSITIONS: Mapping[ChangeState, str] = {
    ChangeState.approved: "Approve",
    ChangeState.applying: "Start",
    ChangeState.applied: "Complete",
    ChangeState.failed: "Fail",
    ChangeState.rolled_back: "Roll back",
}
"""Record state → the name of the Jira transition into it (the JSM Change workflow)."""

DEFAULT_STATUSES: Mapping[ChangeState, str] = {
    ChangeState.approved: "Approved",
    ChangeState.applying: "In progress",
    ChangeState.applied: "Done",
    ChangeState.failed: "Failed",
    ChangeState.rolled_back: "Rolled back",
}
"""Record state → the Jira status it corresponds to (to skip moves already made)."""

DEFAULT_CONTINUE_STATUSES = frozenset(
    {"awaiting approval", "open", "to do", "new", "draft", "planning"}
)
"""Statuses (casefolded) in which a PR's ticket may be reused for a new digest."""

_PATHS: Mapping[ChangeState, tuple[ChangeState, ...]] = {
    ChangeState.approved: (ChangeState.approved,),
    ChangeState.applying: (ChangeState.approved, ChangeState.applying),
    ChangeState.applied: (ChangeState.approved, ChangeState.applying, ChangeState.applied),
    ChangeState.failed: (ChangeState.approved, ChangeState.applying, ChangeState.failed),
    ChangeState.rolled_back: (
        ChangeState.approved,
        ChangeState.applying,
        ChangeState.rolled_back,
    ),
}
"""The states a ticket passes through to reach a record's state (a ticket that lags
behind — say still awaiting approval when the change is applied — catches up)."""


def _jql_string(value: str) -> str:
    return json.dumps(value)  # double quotes, backslash-escaped: valid JQL


def _age(issue: Issue) -> tuple[datetime, int]:
    created = issue.fields.created or datetime.max.replace(tzinfo=UTC)
    return created, int(issue.id) if issue.id.isdigit() else 1 << 62


@dataclass
class JiraTickets:
    """Finds or opens the Jira ticket of a change; moves it along with the record."""

    client: JiraClient
    config: JiraConfig
    ledger: Ledger
    transitions: Mapping[ChangeState, str] = field(default_factory=lambda: DEFAULT_TRANSITIONS)
    statuses: Mapping[ChangeState, str] = field(default_factory=lambda: DEFAULT_STATUSES)
    continue_statuses: frozenset[str] = DEFAULT_CONTINUE_STATUSES
    duplicate_transition: str | None = None
    search_attempts: int = 5
    search_pause: float = 0.5
    """First pause between searches after an uncertain create; doubles each time."""
    claim_lease: timedelta = TICKET_CLAIM_LEASE
    """How long this run's claim on creating a ticket holds off other runs: far longer
    than a create and its searches take; a run that died blocks no longer than this."""
    key_wait: float = 30.0
    """How long a run that another run's claim keeps from creating waits for that run's
    key to reach the ledger before failing closed (the next run finds the key)."""
    key_wait_pause: float = 0.25
    """First pause between looks at the ledger while waiting; doubles, up to 4 s."""
    sleep: Callable[[float], None] = time.sleep
    now: Callable[[], datetime] = field(default_factory=lambda: lambda: datetime.now(UTC))

    # --- the ticket of a change -----------------------------------------------------------

    def ticket_for(self, record: ChangeRecord, ctx: TicketContext) -> TicketRef:
        """The change's ticket, found or created; :class:`TicketError` when that fails."""
        try:
            return self._ticket_for(record, ctx)
        except TicketError as exc:
            raise TicketError(
                f"no Jira ticket for change {record.id} ({record.stack} "
                f"{record.digest[:12]}): {exc}"
            ) from exc
        except LedgerError as exc:
            raise TicketError(
                f"no Jira ticket for change {record.id}: the ledger failed ({exc})"
            ) from exc

    def bind(self, ctx: TicketContext) -> BoundJiraTickets:
        """A :class:`~change_mgmt.gate.decision.TicketSource` for this one change."""
        return BoundJiraTickets(self, ctx)

    def ref(self, issue: Issue) -> TicketRef:
        return TicketRef(
            key=issue.key,
            source=SOURCE,
            state=issue.status or "unknown",
            url=f"{self.client.base_url}/browse/{issue.key}",
        )

    def _ticket_for(self, record: ChangeRecord, ctx: TicketContext) -> TicketRef:
        if (record.stack, record.digest) != (ctx.stack, ctx.digest):
            raise TicketError("the ticket context is for another change than the record")
        record = self.ledger.get(record.id)  # another gate may have linked a ticket
        content = render_ticket(ctx)
        label = change_label(ctx.stack, ctx.digest)
        claim: TicketClaim | None = None
        if not record.ticket_key:
            record, claim = self._claim_or_wait(record)
        try:
            if record.ticket_key:
                issue = self._by_record_key(record.ticket_key, content)
                self._reconcile(issue, label)
            else:
                issue = self._find_or_create(ctx, content, label)
            record = self.ledger.set_ticket(record.id, issue.key, now=self.now())  # ends claim
        except BaseException:
            if claim is not None:  # no key stored: let the next run create at once
                with contextlib.suppress(LedgerError):
                    self.ledger.release_ticket_claim(record.id, claim)
            raise
        self.client.set_issue_property(issue.key, CHANGE_PROPERTY, change_property(record))
        self.client.upsert_marked_comment(issue.key, PREVIEW_MARKER, content.description)
        return self.ref(self.client.get_issue(issue.key, fields=list(_FIELDS)))

    def _claim_or_wait(self, record: ChangeRecord) -> tuple[ChangeRecord, TicketClaim | None]:
        """This run's claim on creating the record's ticket, or (another run holds it)
        the record once that run stored the key; claims again after each pause, so a
        holder that died is taken over once its lease ends. :class:`TicketError` when the
        wait ends with neither."""
        pause, waited = self.key_wait_pause, 0.0
        while True:
            claim = self.ledger.claim_ticket_creation(
                record.id, now=self.now(), lease=self.claim_lease
            )
            if claim is not None:
                if claim.taken_over:
                    _log.warning(
                        "change %s: another gate run's claim on creating its ticket ran out; "
                        "taking it over (searching before creating)",
                        record.id,
                    )
                return record, claim
            record = self.ledger.get(record.id)
            if record.ticket_key:
                return record, None
            if waited >= self.key_wait:
                raise TicketError(
                    "the ticket is being created by another gate run (it holds the ledger's "
                    f"claim), and its key did not reach the ledger within {self.key_wait:g} s; "
                    "not creating a second one: the next gate run will find it"
                )
            step = max(min(pause, self.key_wait - waited), 0.0)
            self.sleep(step)
            waited += step
            pause = min(pause * 2, MAX_KEY_WAIT_PAUSE)

    def _find_or_create(self, ctx: TicketContext, content: TicketContent, label: str) -> Issue:
        """Steps 2-4 (the run holding the claim): the label, the PR's ticket, a new one."""
        found = self._search_label(label)
        if found:
            return self._keep_oldest(found, label)
        if ctx.pr_url:
            continued = self._continue_pr(ctx, content)
            if continued is not None:
                return continued
        return self._create(content, label)

    def _by_record_key(self, key: str, content: TicketContent) -> Issue:
        try:
            issue = self.client.get_issue(key, fields=list(_FIELDS))
        except JiraError as exc:
            if exc.status == 404:
                raise TicketError(
                    f"the ledger links ticket {key}, which Jira does not show (deleted, "
                    "moved or not visible to this account): a person has to look"
                ) from exc
            raise
        missing = [label for label in content.labels if label not in issue.labels]
        if missing:
            self.client.add_labels(key, missing)
        return issue

    def _reconcile(self, linked: Issue, label: str) -> None:
        """Mark every other ticket with the change's label a duplicate of the linked one.

        Search lags behind creates: an earlier run's uncertain create can surface only
        after the record was linked to another ticket. The ledger's link decides, and
        every run looks again, so such an orphan is caught once search shows it.
        """
        for other in self._search_label(label):
            if other.key != linked.key and DUPLICATE_LABEL not in other.labels:
                self._mark_duplicate(other, linked, label)

    def _search(self, jql: str) -> list[Issue]:
        return list(self.client.search(jql, fields=_FIELDS, max_results=50))

    def _search_label(self, label: str) -> list[Issue]:
        jql = (
            f"project = {self.config.project} AND labels = {_jql_string(label)} "
            "ORDER BY created ASC"
        )
        return self._search(jql)

    def _keep_oldest(self, issues: Sequence[Issue], label: str) -> Issue:
        """The oldest issue wins; the others are marked duplicates of it."""
        ordered = sorted({i.key: i for i in issues}.values(), key=_age)
        keep = ordered[0]
        for other in ordered[1:]:
            self._mark_duplicate(other, keep, label)
        return keep

    def _mark_duplicate(self, issue: Issue, keep: Issue, label: str) -> None:
        _log.warning("Jira ticket %s duplicates %s; marking it", issue.key, keep.key)
        self.client.edit_issue(
            issue.key,
            update={"labels": [{"add": DUPLICATE_LABEL}, {"remove": label}]},
        )
        self.client.upsert_marked_comment(
            issue.key,
            DUPLICATE_MARKER,
            f"Duplicate of {keep.key}: two change gates opened a ticket for the same change "
            f"at once; {keep.key} (the older) is kept and tracks the change.",
        )
        if self.duplicate_transition:
            with contextlib.suppress(TransitionNotAvailable):
                self.client.transition(issue.key, self.duplicate_transition)

    def _continue_pr(self, ctx: TicketContext, content: TicketContent) -> Issue | None:
        assert ctx.pr_url is not None
        jql = (
            f"project = {self.config.project} AND labels = {_jql_string(pr_label(ctx.pr_url))} "
            f"AND labels = {_jql_string(stack_label(ctx.stack))} ORDER BY created DESC"
        )
        candidates = [
            i
            for i in self._search(jql)
            if DUPLICATE_LABEL not in i.labels
            and (i.status or "").strip().casefold() in self.continue_statuses
        ]
        if not candidates:
            return None
        issue = candidates[0]
        self.client.edit_issue(
            issue.key,
            fields={"summary": content.summary, "description": content.description},
            update={"labels": [{"add": label} for label in content.labels]},
        )
        self.client.add_comment(
            issue.key,
            f"preview changed: new digest {ctx.digest} (commit {ctx.commit or 'unknown'}); "
            "approvals given for an earlier digest do not carry over.",
        )
        return issue

    def _create(self, content: TicketContent, label: str) -> Issue:
        fields: dict[str, Any] = {
            "project": {"key": self.config.project},
            "issuetype": {"name": self.config.issue_type},
            "summary": content.summary,
            "description": content.description,
            "labels": list(content.labels),
        }
        custom = resolve_fields(self.client, self.config.fields, content)
        try:
            try:
                created = self.client.create_issue({**fields, **custom})
            except JiraCreateUncertain:
                raise
            except JiraError as exc:
                # A 400 about our custom fields only (not on the create screen): nothing
                # was created, so creating once more without them is safe.
                if exc.status != 400 or not exc.field_errors or not custom:
                    raise
                if not set(exc.field_errors) <= set(custom):
                    raise
                _log.warning("Jira refused fields %s; creating without them", exc.field_errors)
                created = self.client.create_issue(fields)
        except JiraCreateUncertain as exc:
            found = self._search_until(label, bool)
            if not found:
                raise TicketError(
                    f"creating the ticket may have happened ({exc}), but a search for label "
                    f"{label} found nothing after {self.search_attempts} tries; not creating "
                    "another: the next gate run will find it"
                ) from exc
            return self._keep_oldest(found, label)
        mine = self.client.get_issue(created.key, fields=list(_FIELDS))
        seen = self._search_until(label, lambda issues: any(i.key == mine.key for i in issues))
        return self._keep_oldest([mine, *seen], label)

    def _search_until(self, label: str, done: Callable[[list[Issue]], bool]) -> list[Issue]:
        """Search the label until ``done`` holds or the attempts are spent (the last result)."""
        pause, found = self.search_pause, []
        for attempt in range(max(self.search_attempts, 1)):
            if attempt:
                self.sleep(pause)
                pause *= 2
            found = self._search_label(label)
            if done(found):
                break
        return found

    # --- workflow -------------------------------------------------------------------------

    def transition_for_state(self, state: ChangeState) -> str | None:
        """The transition into ``state``; None for ``proposed`` (a new ticket's status)."""
        return self.transitions.get(state)

    def sync_state(self, record: ChangeRecord) -> tuple[str, ...]:
        """Move the record's ticket to the record's state; the transitions made (none
        when it is already there). :class:`TicketError` when it cannot get there."""
        if record.ticket_key is None:
            raise TicketError(f"change {record.id} has no ticket to move")
        return self.move_to(record.ticket_key, record.state)

    def move_to(self, key: str, state: ChangeState) -> tuple[str, ...]:
        """Idempotent: catches up through the intermediate states when needed."""
        path = _PATHS.get(state, ())
        target = self.statuses.get(state, "").casefold()
        wanted = [self.transitions[s] for s in path if s in self.transitions]
        done: list[str] = []
        for _ in range(len(wanted) + 1):
            status = self.client.get_issue(key, fields=["status"]).status or ""
            if not wanted or status.casefold() == target:
                return tuple(done)
            available = {t.name.strip().casefold(): t for t in self.client.transitions(key)}
            step = next((name for name in reversed(wanted) if name.casefold() in available), None)
            if step is None:
                raise TicketError(
                    f"ticket {key} is in status {status!r} and has none of the transitions "
                    f"{', '.join(wanted)} to reach {state.value}; available: "
                    f"{', '.join(t.name for t in available.values()) or 'none'}"
                )
            self.client.transition(key, step)
            done.append(step)
        raise TicketError(f"ticket {key} did not reach {state.value} after {done}")

    def apply_outbox_item(self, item: OutboxItem) -> None:
        """Replays one outbox item (see :mod:`change_mgmt.tickets.outbox`); idempotent:
        ``transition`` checks the status first, ``comment`` is an upsert by a marker
        derived from the item's idempotency key, ``property`` (``{"key", "value"}``)
        replaces an issue property."""
        if item.kind == "transition":
            self.move_to(item.ticket_key, ChangeState(str(item.payload["state"])))
        elif item.kind == "comment":
            marker = f"[sre-gate:update:{item.idempotency_key[:16]}]"
            self.client.upsert_marked_comment(item.ticket_key, marker, str(item.payload["body"]))
        elif item.kind == "property":
            value = item.payload["value"]
            if not isinstance(value, Mapping):
                raise TicketError(f"outbox item {item.id}: a property value must be an object")
            self.client.set_issue_property(item.ticket_key, str(item.payload["key"]), value)
        else:
            raise TicketError(f"unknown outbox item kind {item.kind!r}")


@dataclass(frozen=True)
class BoundJiraTickets:
    """``JiraTickets`` for one change: the gate's ``TicketSource`` shape."""

    tickets: JiraTickets
    ctx: TicketContext

    def ticket_for(self, record: ChangeRecord) -> TicketRef:
        return self.tickets.ticket_for(record, self.ctx)


@dataclass(frozen=True)
class JsmApprovals:
    """Jira Service Management approvals of a change ticket, as gate approvals.

    Approvals count only when ``counts`` is set (the policy allows JSM approvals);
    otherwise they are shown with why they do not count. A JSM *decline* always counts
    as a rejection (fail closed). JSM approves a ticket, not a digest: approvals decided
    before ``not_before`` (when the ticket took the current digest) do not count.
    """

    client: JiraClient
    counts: bool = False

    def approvals_for(
        self, key: str, *, stack: str, digest: str, not_before: datetime | None = None
    ) -> list[Approval]:
        found: list[Approval] = []
        for approval in self.client.approvals(key):
            decision = approval.final_decision
            completed = approval.completed.iso8601 if approval.completed else None
            deciders = [a.approver for a in approval.approvers if a.decision == decision] or [
                a.approver for a in approval.approvers
            ]
            names = [
                u.email or u.name or u.display_name or u.account_id or "unknown" for u in deciders
            ] or [approval.name or f"jira approval {approval.id}"]
            why_not: str | None = None
            if decision is ApprovalDecision.PENDING:
                why_not = "pending"
            elif decision is ApprovalDecision.APPROVED and not self.counts:
                why_not = "the risk policy does not count Jira Service Management approvals"
            elif (
                decision is ApprovalDecision.APPROVED
                and not_before is not None
                and (completed is None or completed < not_before)
            ):
                why_not = "decided for an earlier preview of this ticket"
            for name in names:
                found.append(
                    Approval(
                        stack=stack,
                        digest=digest,
                        approver=name,
                        decision="reject" if decision is ApprovalDecision.DECLINED else "approve",
                        reason=f"{approval.name or 'approval'} on {key}: {decision.value}",
                        source=JSM_SOURCE,
                        created_at=completed,
                        counts=why_not is None,
                        why_not=why_not,
                    )
                )
        return found
