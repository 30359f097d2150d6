"""Waivers as data: a reviewed, owned, expiring exception to one rule for named resources.

``policies/waivers.yaml`` lists them. A waiver names the rule id, the resource (a URN, or
a shell-style pattern of URNs or resource names), why, who owns the exception, and when it
ends. Until then a matching violation is reported as waived and does not block; from the
expiry on the waiver no longer applies, the violation counts again, and the expired
waiver is reported so someone renews or removes it.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, date, datetime, time, timedelta
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from policies.documents import DocumentError, Problem, load_yaml_mapping, validation_problems

WAIVERS_FILE = "waivers.yaml"

_Text = Annotated[str, Field(min_length=1, max_length=500)]


class Waiver(BaseModel):
    """One exception. ``expires`` is a date (the waiver holds through that day, UTC) or a
    time; ``resource`` starting with ``urn:`` matches URNs, otherwise resource names."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rule: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$")]
    resource: _Text
    reason: _Text
    owner: _Text
    expires: date | datetime

    @field_validator("reason", "owner", "resource")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()

    @property
    def expires_at(self) -> datetime:
        """The first moment the waiver no longer applies."""
        if isinstance(self.expires, datetime):
            moment = self.expires
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        return datetime.combine(self.expires + timedelta(days=1), time(), tzinfo=UTC)

    def expired(self, now: datetime) -> bool:
        return now >= self.expires_at

    def matches(self, rule_id: str, urn: str, name: str) -> bool:
        if rule_id != self.rule:
            return False
        if self.resource.startswith("urn:"):
            return fnmatchcase(urn, self.resource)
        return fnmatchcase(name, self.resource)

    def describe(self) -> str:
        return f"waived by {self.owner} until {self.expires.isoformat()}: {self.reason}"


class WaiverFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    waivers: tuple[Waiver, ...] = ()


def load_waivers(
    path: Path, *, known_rules: Collection[str], shown_path: str | None = None
) -> tuple[Waiver, ...]:
    """The waivers in ``path`` (none when the file does not exist).

    A waiver without reason, owner or expiry, or naming a rule the pack does not have
    (a typo would silently waive nothing), is an error naming file, line and field.
    """
    if not path.is_file():
        return ()
    document = load_yaml_mapping(path, display_path=shown_path)
    try:
        parsed = WaiverFile.model_validate(document.data)
    except ValidationError as exc:
        raise DocumentError(validation_problems(exc, document, WaiverFile)) from None
    problems: list[Problem] = [
        document.problem(
            ("waivers", index, "rule"),
            f"no rule {waiver.rule!r} in the pack (see docs/policy-pack.md)",
        )
        for index, waiver in enumerate(parsed.waivers)
        if waiver.rule not in known_rules
    ]
    if problems:
        raise DocumentError(problems)
    return parsed.waivers


def waiver_for(
    waivers: Sequence[Waiver], rule_id: str, urn: str, name: str, now: datetime
) -> tuple[Waiver | None, Waiver | None]:
    """(the active waiver covering this violation, else None; an expired one that would
    have covered it, else None)."""
    expired: Waiver | None = None
    for waiver in waivers:
        if waiver.matches(rule_id, urn, name):
            if not waiver.expired(now):
                return waiver, None
            expired = expired or waiver
    return None, expired
