"""The ``sre-change`` issue property: the facts of a change that a Jira status history
does not hold, stored machine-readably on its ticket.

A Jira *issue entity property* is a JSON object kept on the issue under a key, set with
``PUT /rest/api/2/issue/{key}/properties/{propertyKey}`` and read back with ``GET`` on the
same path, or (Jira Cloud) by naming the key in a search's ``properties``. Both Jira Cloud
and Data Center (6.2 and later) document these resources; keys are at most 255
characters, values at most 32 KB of JSON. The gate writes the property whenever it
creates or updates a change ticket, and again (through the outbox) when a post-change
review is recorded; ``sre report dora --source jira`` reads it back.

What it holds (:class:`ChangeProperty`): stack, digest, commit, change type (and whether
it is an emergency), risk level and score, resource counts, proposal time, review due and
done times, and the ledger id of the record that gated it. Nothing else: no author, no
reviewer, no emergency reason, no plan, no resource names or values — so no credential
can reach it (stack names and digests are not secrets; commits are hashes).

The document is versioned (``version``) and readers ignore keys they do not know, so a
newer gate may add keys without breaking an older report; a change of meaning gets a new
version.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from change_mgmt.ledger.records import (
    CHANGE_TYPES,
    DIGEST_PATTERN,
    RISK_LEVELS,
    ChangeRecord,
    format_time,
)

CHANGE_PROPERTY = "sre-change"
"""The key of the issue property on every change ticket."""
PROPERTY_VERSION = 1


class ChangeProperty(BaseModel):
    """The value of the ``sre-change`` property (JSON, times ISO 8601 UTC)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    version: Literal[1]
    change_id: Annotated[int, Field(ge=1)]
    """The ledger id of the record on the machine that gated it (ledgers on CI runners
    are short-lived: this is informational, not an identity)."""
    stack: Annotated[str, Field(min_length=1)]
    digest: Annotated[str, Field(pattern=DIGEST_PATTERN.pattern)]
    commit: str | None = None
    change_type: str
    emergency: bool
    risk_level: str
    risk_score: Annotated[int, Field(ge=0)]
    summary: dict[str, Annotated[int, Field(ge=0)]] = Field(default_factory=dict)
    proposed_at: AwareDatetime
    review_due_at: AwareDatetime | None = None
    reviewed_at: AwareDatetime | None = None

    @field_validator("change_type")
    @classmethod
    def _known_change_type(cls, value: str) -> str:
        if value not in CHANGE_TYPES:
            raise ValueError(f"change type {value!r} is not one of {', '.join(CHANGE_TYPES)}")
        return value

    @field_validator("risk_level")
    @classmethod
    def _known_risk_level(cls, value: str) -> str:
        if value not in RISK_LEVELS:
            raise ValueError(f"risk level {value!r} is not one of {', '.join(RISK_LEVELS)}")
        return value


def change_property(record: ChangeRecord) -> dict[str, Any]:
    """The property value for ``record`` (a plain JSON object, keys in a fixed order)."""
    return {
        "version": PROPERTY_VERSION,
        "change_id": record.id,
        "stack": record.stack,
        "digest": record.digest,
        "commit": record.commit,
        "change_type": record.change_type,
        "emergency": record.is_emergency,
        "risk_level": record.risk_level,
        "risk_score": record.risk_score,
        "summary": dict(sorted(record.summary.items())),
        "proposed_at": format_time(record.created_at),
        "review_due_at": _time(record.review_due_at),
        "reviewed_at": _time(record.reviewed_at),
    }


def _time(moment: datetime | None) -> str | None:
    return None if moment is None else format_time(moment)
