"""Change windows and freeze periods: when a change may go out, and when nothing may.

Both are pure: they answer questions about a moment the caller passes in (never the
clock), so the same rule gives the same answer in CI, in a test and in a replay.

Change windows
--------------
``ChangeWindows`` is a weekly schedule in one IANA time zone, usually part of the risk
policy::

    windows:
      timezone: Europe/Berlin
      hours:
        mon: ["09:00-16:00"]
        tue: ["09:00-12:00", "13:00-16:00"]
        fri: ["09:00-12:00"]

Each range is ``HH:MM-HH:MM`` on the 24-hour clock, start inclusive and end exclusive
(``09:00-16:00`` admits 15:59 but not 16:00); the end may be ``24:00`` for "until
midnight". Ranges of one day must not overlap (touching, like ``09:00-12:00`` and
``12:00-14:00``, is fine). A weekday that is not listed, or has an empty list, has no
window: every moment of it is outside. A range never crosses midnight; write
``mon: ["22:00-24:00"]`` and ``tue: ["00:00-02:00"]`` instead. A moment is converted
to the schedule's zone before it is compared, so the windows follow daylight saving
time: ``09:00`` in Europe/Berlin is 08:00 UTC in winter and 07:00 UTC in summer. On the
day clocks go forward the skipped local hour contains no moment; on the day they go
back the repeated hour is inside a window twice.

Freeze calendar
---------------
A freeze calendar is a YAML file of its own, loaded with ``load_freeze_calendar``::

    freezes:
      - id: year-end                    # optional, unique in the file
        start: 2026-12-18T00:00:00Z     # inclusive
        end: 2027-01-04T00:00:00Z       # exclusive
        reason: Year-end freeze         # required, shown to whoever is blocked

``start`` and ``end`` are timestamps with a time zone: ``Z`` for UTC or an offset such
as ``+01:00``, quoted or not. A timestamp without one is refused: a freeze must mean
the same moment for everyone. A plain date (``2026-12-18``) means midnight UTC at the
start of that day, so ``end: 2027-01-04`` ends the freeze as 4 January begins (3
January is the last frozen day). ``end`` must be after ``start``. Freezes may overlap;
``FreezeCalendar.active`` returns every freeze in force at a moment. Every problem in
the file is reported as ``PATH:LINE:COLUMN: field: message``.
"""

from __future__ import annotations

import difflib
import re
from datetime import UTC, date, datetime, time
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from change_mgmt.documents import DocumentError, load_yaml_mapping, validation_problems

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = get_args(Weekday)
"""In ``datetime.weekday()`` order: ``WEEKDAYS[moment.weekday()]`` is the moment's day."""

MAX_CALENDAR_BYTES = 64 * 1024
MINUTES_PER_DAY = 24 * 60

_RANGE = re.compile(r"^(?P<start>[0-9]{2}:[0-9]{2})-(?P<end>[0-9]{2}:[0-9]{2})$")
_DATE_ONLY = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_EXAMPLE_TIMESTAMP = "2026-12-18T00:00:00Z"
# Files in some zoneinfo directories that load but name the machine's setting, not a zone.
_MACHINE_ZONES = frozenset({"localtime", "posixrules"})


# --- change windows -------------------------------------------------------------------


def _weekday(value: Any) -> Any:
    """One clear message for an unknown weekday key (before the Literal check)."""
    if isinstance(value, str) and value not in WEEKDAYS:
        hint = difflib.get_close_matches(value.lower()[:3], WEEKDAYS, n=1, cutoff=0.6)
        suggestion = f"; did you mean {hint[0]!r}?" if hint else ""
        raise ValueError(f"{value[:40]!r} is not a weekday; use {', '.join(WEEKDAYS)}{suggestion}")
    return value


def _ranges_list(value: Any) -> Any:
    if isinstance(value, str):
        raise ValueError(f'write a list of ranges, e.g. ["{value[:40]}"]')
    return value


WeekdayKey = Annotated[Weekday, BeforeValidator(_weekday)]
DayRanges = Annotated[list[str], BeforeValidator(_ranges_list), Field(max_length=24)]


def _minutes(text: str, *, allow_midnight_end: bool) -> int | None:
    hours, minutes = int(text[:2]), int(text[3:])
    if allow_midnight_end and (hours, minutes) == (24, 0):
        return MINUTES_PER_DAY
    if hours > 23 or minutes > 59:
        return None
    return hours * 60 + minutes


def parse_range(text: str) -> tuple[int, int] | None:
    """``"09:00-16:00"`` → ``(540, 960)`` minutes after midnight; ``None`` if malformed.

    The range must be non-empty (start before end); only the end may be ``24:00``.
    """
    match = _RANGE.match(text)
    if not match:
        return None
    start = _minutes(match["start"], allow_midnight_end=False)
    end = _minutes(match["end"], allow_midnight_end=True)
    if start is None or end is None or start >= end:
        return None
    return start, end


def _format_minutes(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _format_range(span: tuple[int, int]) -> str:
    return f"{_format_minutes(span[0])}-{_format_minutes(span[1])}"


def _range_problem(day: str, text: str) -> str:
    shown = text[:40]
    match = _RANGE.match(text)
    if not match:
        return (
            f"{day}: {shown!r} is not a time range like '09:00-16:00' "
            "(HH:MM-HH:MM, 24-hour clock with leading zeros)"
        )
    start = _minutes(match["start"], allow_midnight_end=False)
    end = _minutes(match["end"], allow_midnight_end=True)
    if start is None:
        return f"{day}: {shown!r} starts at {match['start']}, not a time of day (00:00-23:59)"
    if end is None:
        return f"{day}: {shown!r} ends at {match['end']}, not a time of day (00:01-24:00)"
    return (
        f"{day}: {shown!r} does not end after it starts; a range cannot be empty or cross "
        "midnight (split it: '22:00-24:00' and the next day '00:00-02:00')"
    )


@lru_cache(maxsize=1)
def _known_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def _zone_suggestion(value: str) -> str | None:
    """A likely meant zone: same name in other case, or a near miss of an Area/City name.

    Abbreviations (CEST, PST) get no suggestion: the closest name (EST) would be wrong.
    """
    zones = _known_zones() - _MACHINE_ZONES
    same = [zone for zone in zones if zone.lower() == value.lower()]
    if same:
        return same[0]
    if "/" not in value:
        return None
    close = difflib.get_close_matches(value, [z for z in zones if "/" in z], n=1, cutoff=0.8)
    return close[0] if close else None


def _require_aware(when: datetime) -> None:
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(f"{when.isoformat()} has no time zone; pass a timezone-aware datetime")


class ChangeWindows(BaseModel):
    """The weekly hours in which changes may be applied, in one IANA time zone."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    timezone: Annotated[
        str,
        Field(
            max_length=64,
            description="IANA time zone the hours are in, e.g. Europe/Berlin or UTC.",
        ),
    ]
    hours: Annotated[
        dict[WeekdayKey, DayRanges],
        Field(
            description=(
                "Per weekday (mon..sun), a list of HH:MM-HH:MM ranges, start inclusive, end "
                "exclusive (end may be 24:00). A weekday not listed has no window."
            )
        ),
    ]

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            if value in _MACHINE_ZONES:
                raise ValueError(value)
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            close = _zone_suggestion(value)
            hint = f"; did you mean {close!r}?" if close else ""
            raise ValueError(
                f"{value[:64]!r} is not a known time zone; it must be an IANA name like "
                f"Europe/Berlin, America/New_York or UTC{hint}"
            ) from None
        return value

    @field_validator("hours")
    @classmethod
    def _valid_ranges(cls, hours: dict[Weekday, list[str]]) -> dict[Weekday, list[str]]:
        """Every range well-formed, no two of a day overlapping; all problems at once.

        A field validator, not a model one, so it also runs when ``timezone`` is wrong.
        """
        errors: list[InitErrorDetails] = []

        def fail(day: str, index: int, text: str, message: str) -> None:
            errors.append(
                InitErrorDetails(
                    type=PydanticCustomError("change_window", message),
                    loc=(day, index),
                    input=text,
                )
            )

        for day, texts in hours.items():
            parsed: list[tuple[tuple[int, int], int]] = []
            for index, text in enumerate(texts):
                span = parse_range(text)
                if span is None:
                    fail(day, index, text, _range_problem(day, text))
                else:
                    parsed.append((span, index))
            parsed.sort()
            reach: tuple[int, int] | None = None  # (end, index) of the range reaching furthest
            for (start, end), index in parsed:
                if reach is not None and start < reach[0]:
                    fail(
                        day,
                        index,
                        texts[index],
                        f"{day}: {texts[index]!r} overlaps {texts[reach[1]]!r}; "
                        "ranges of one day must not overlap (merge them)",
                    )
                if reach is None or end > reach[0]:
                    reach = (end, index)
        if errors:
            raise ValidationError.from_exception_data("hours", errors)
        return hours

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def ranges(self, day: Weekday) -> list[tuple[int, int]]:
        """The day's ranges as sorted ``(start, end)`` minutes after local midnight."""
        spans = (parse_range(text) for text in self.hours.get(day, []))
        return sorted(span for span in spans if span is not None)

    def local(self, when: datetime) -> datetime:
        """``when`` (timezone-aware) as wall-clock time in the windows' zone."""
        _require_aware(when)
        return when.astimezone(self.zone)

    def contains(self, when: datetime) -> bool:
        """Whether ``when`` (timezone-aware) falls inside a window; start in, end out."""
        local = self.local(when)
        minute = local.hour * 60 + local.minute
        return any(start <= minute < end for start, end in self.ranges(WEEKDAYS[local.weekday()]))

    def describe(self, when: datetime) -> str:
        """One sentence on where ``when`` stands, in local time, for humans and CI logs.

        e.g. ``Fri 17:42 Europe/Berlin is outside the change windows (Fri 09:00-16:00)``.
        """
        local = self.local(when)
        day = WEEKDAYS[local.weekday()]
        label = day.capitalize()
        moment = f"{label} {local:%H:%M} {self.timezone}"
        minute = local.hour * 60 + local.minute
        spans = self.ranges(day)
        for span in spans:
            if span[0] <= minute < span[1]:
                return f"{moment} is inside the change window {label} {_format_range(span)}"
        if not spans:
            return f"{moment} is outside the change windows (none on {label})"
        listed = ", ".join(_format_range(span) for span in spans)
        return f"{moment} is outside the change windows ({label} {listed})"


# --- freezes --------------------------------------------------------------------------


def _moment(value: Any) -> Any:
    """A timezone-aware instant in UTC; a plain date is midnight UTC of that day."""
    if isinstance(value, datetime):
        moment, shown = value, value.isoformat()
    elif isinstance(value, date):
        return datetime.combine(value, time(), UTC)
    elif isinstance(value, str):
        shown = value.strip()
        try:
            if _DATE_ONLY.match(shown):
                return datetime.combine(date.fromisoformat(shown), time(), UTC)
            moment = datetime.fromisoformat(shown)
        except ValueError:
            raise ValueError(
                f"{shown[:40]!r} is not a timestamp like {_EXAMPLE_TIMESTAMP} "
                "or a date like 2026-12-18"
            ) from None
    else:
        raise ValueError(
            f"must be a timestamp like {_EXAMPLE_TIMESTAMP} or a date like 2026-12-18, "
            f"found {type(value).__name__}"
        )
    if moment.utcoffset() is None:
        raise ValueError(
            f"{shown!r} has no time zone; add an offset or Z, "
            f"e.g. {shown}Z for UTC or {shown}+01:00"
        )
    return moment.astimezone(UTC)


def _non_blank(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("must not be empty; say why changes are frozen")
    return value


Moment = Annotated[AwareDatetime, BeforeValidator(_moment)]


class Freeze(BaseModel):
    """A period in which no change may be applied: ``start`` inclusive, ``end`` exclusive."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[
        str | None,
        Field(
            pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
            max_length=64,
            description="Optional short name (letters, digits, '.', '_', '-'), unique per file.",
        ),
    ] = None
    start: Annotated[
        Moment,
        Field(description="First frozen moment, with a time zone (e.g. 2026-12-18T00:00:00Z)."),
    ]
    end: Annotated[
        Moment,
        Field(description="First moment after the freeze (exclusive); after start."),
    ]
    reason: Annotated[
        str,
        AfterValidator(_non_blank),
        Field(max_length=300, description="Why changes are frozen; shown to whoever is blocked."),
    ]

    @field_validator("end")
    @classmethod
    def _after_start(cls, value: datetime, info: ValidationInfo) -> datetime:
        start = info.data.get("start")
        if isinstance(start, datetime) and value <= start:
            raise ValueError(
                f"{_iso(value)} is not after start {_iso(start)}; a freeze must last a while"
            )
        return value

    def contains(self, when: datetime) -> bool:
        """Whether the freeze is in force at ``when`` (timezone-aware)."""
        _require_aware(when)
        return self.start <= when < self.end

    def describe(self) -> str:
        """e.g. ``year-end: Year-end freeze (2026-12-18T00:00:00Z to 2027-01-04T00:00:00Z)``."""
        name = f"{self.id}: " if self.id else ""
        return f"{name}{self.reason} ({_iso(self.start)} to {_iso(self.end)})"


class FreezeCalendar(BaseModel):
    """Every planned freeze; a file of its own (see the module documentation)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    freezes: Annotated[
        list[Freeze],
        Field(max_length=500, description="The freezes; they may overlap."),
    ]

    @field_validator("freezes")
    @classmethod
    def _unique_ids(cls, value: list[Freeze]) -> list[Freeze]:
        seen: dict[str, int] = {}
        errors: list[InitErrorDetails] = []
        for index, freeze in enumerate(value):
            if freeze.id is None:
                continue
            if freeze.id in seen:
                errors.append(
                    InitErrorDetails(
                        type=PydanticCustomError(
                            "duplicate_id",
                            f"{freeze.id!r} is already the id of freezes[{seen[freeze.id]}]; "
                            "ids must be unique",
                        ),
                        loc=(index, "id"),
                        input=freeze.id,
                    )
                )
            else:
                seen[freeze.id] = index
        if errors:
            raise ValidationError.from_exception_data("freezes", errors)
        return value

    def active(self, when: datetime) -> list[Freeze]:
        """The freezes in force at ``when`` (timezone-aware), in file order."""
        _require_aware(when)
        return [freeze for freeze in self.freezes if freeze.contains(when)]


def load_freeze_calendar(path: Path, *, display_path: str | None = None) -> FreezeCalendar:
    """Load and validate a freeze calendar; ``DocumentError`` lists every problem with its line."""
    document = load_yaml_mapping(path, display_path=display_path, max_bytes=MAX_CALENDAR_BYTES)
    try:
        return FreezeCalendar.model_validate(document.data)
    except ValidationError as exc:
        raise DocumentError(validation_problems(exc, document, FreezeCalendar)) from None


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
