"""Change windows and freeze periods: boundaries, time zones, DST and file errors."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from change_mgmt.documents import DocumentError, load_yaml_mapping, validation_problems
from change_mgmt.risk.calendar import (
    ChangeWindows,
    Freeze,
    FreezeCalendar,
    load_freeze_calendar,
    parse_range,
)

BERLIN = ZoneInfo("Europe/Berlin")
# 2026-07-17 is a Friday (summer time in Berlin, UTC+2).
FRIDAY = datetime(2026, 7, 17, tzinfo=BERLIN)

OFFICE = ChangeWindows(
    timezone="Europe/Berlin",
    hours={
        "mon": ["09:00-16:00"],
        "tue": ["09:00-12:00", "13:00-16:00"],
        "wed": ["09:00-16:00"],
        "thu": ["09:00-16:00"],
        "fri": ["09:00-16:00"],
        "sat": [],
    },
)


def _at(day: datetime, hh: int, mm: int, ss: int = 0) -> datetime:
    return day.replace(hour=hh, minute=mm, second=ss)


def _errors(exc: pytest.ExceptionInfo[ValidationError]) -> list[tuple[str, str]]:
    return [
        (".".join(str(p) for p in e["loc"]), e["msg"].removeprefix("Value error, "))
        for e in exc.value.errors(include_url=False)
    ]


def _windows_error(**fields: Any) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as exc:
        ChangeWindows.model_validate(fields)
    return _errors(exc)


# --- change windows: inside and outside ------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "inside"),
    [
        (_at(FRIDAY, 9, 0), True),  # start is inclusive
        (_at(FRIDAY, 8, 59, 59), False),
        (_at(FRIDAY, 12, 30), True),
        (_at(FRIDAY, 15, 59, 59), True),
        (_at(FRIDAY, 16, 0), False),  # end is exclusive
        (_at(FRIDAY, 23, 59), False),
    ],
)
def test_window_boundaries_start_inclusive_end_exclusive(moment: datetime, inside: bool) -> None:
    assert OFFICE.contains(moment) is inside
    # The same instant expressed in UTC gives the same answer.
    assert OFFICE.contains(moment.astimezone(UTC)) is inside


def test_gap_between_two_ranges_of_a_day_is_outside() -> None:
    tuesday = FRIDAY - timedelta(days=3)
    assert OFFICE.contains(_at(tuesday, 11, 59))
    assert not OFFICE.contains(_at(tuesday, 12, 0))
    assert not OFFICE.contains(_at(tuesday, 12, 59))
    assert OFFICE.contains(_at(tuesday, 13, 0))


def test_weekday_without_entry_or_with_empty_list_has_no_window() -> None:
    saturday, sunday = FRIDAY + timedelta(days=1), FRIDAY + timedelta(days=2)
    for day in (saturday, sunday):  # sat: [] and sun missing
        assert not any(OFFICE.contains(day + timedelta(minutes=m)) for m in range(0, 24 * 60, 15))


def test_end_of_day_2400_includes_the_last_minute_only() -> None:
    late = ChangeWindows(timezone="Europe/Berlin", hours={"fri": ["22:00-24:00"]})
    assert late.contains(_at(FRIDAY, 23, 59, 59))
    assert not late.contains(FRIDAY + timedelta(days=1))  # Saturday 00:00


def test_summer_time_moves_the_window_in_utc() -> None:
    # 09:30 Berlin is 08:30 UTC before the switch (CET) and 07:30 UTC after it (CEST).
    friday_before = datetime(2026, 3, 27, 8, 30, tzinfo=UTC)
    monday_after = datetime(2026, 3, 30, 7, 30, tzinfo=UTC)
    assert OFFICE.contains(friday_before)
    assert OFFICE.contains(monday_after)
    # The same UTC times on the other side of the switch fall outside.
    assert not OFFICE.contains(datetime(2026, 3, 27, 7, 30, tzinfo=UTC))  # 08:30 CET
    assert not OFFICE.contains(datetime(2026, 3, 30, 6, 59, tzinfo=UTC))  # 08:59 CEST


def test_spring_forward_day_skips_the_missing_hour() -> None:
    # 2026-03-29: Berlin clocks jump from 02:00 CET to 03:00 CEST (01:00 UTC).
    windows = ChangeWindows(timezone="Europe/Berlin", hours={"sun": ["02:00-03:00"]})
    night = datetime(2026, 3, 28, 22, 0, tzinfo=UTC)
    assert not any(windows.contains(night + timedelta(minutes=m)) for m in range(6 * 60))
    around = ChangeWindows(timezone="Europe/Berlin", hours={"sun": ["01:00-04:00"]})
    assert around.contains(datetime(2026, 3, 29, 0, 59, tzinfo=UTC))  # 01:59 CET
    assert around.contains(datetime(2026, 3, 29, 1, 0, tzinfo=UTC))  # 03:00 CEST
    assert not around.contains(datetime(2026, 3, 29, 2, 0, tzinfo=UTC))  # 04:00 CEST
    assert around.describe(datetime(2026, 3, 29, 1, 0, tzinfo=UTC)) == (
        "Sun 03:00 Europe/Berlin is inside the change window Sun 01:00-04:00"
    )


def test_fall_back_day_repeated_hour_is_inside_twice() -> None:
    # 2026-10-25: 03:00 CEST falls back to 02:00 CET; 02:30 local happens at 00:30 and 01:30 UTC.
    windows = ChangeWindows(timezone="Europe/Berlin", hours={"sun": ["02:00-03:00"]})
    assert windows.contains(datetime(2026, 10, 25, 0, 30, tzinfo=UTC))
    assert windows.contains(datetime(2026, 10, 25, 1, 30, tzinfo=UTC))
    assert not windows.contains(datetime(2026, 10, 25, 2, 0, tzinfo=UTC))  # 03:00 CET


def test_utc_moment_is_converted_across_midnight() -> None:
    friday_late_utc = datetime(2026, 7, 17, 23, 30, tzinfo=UTC)  # Saturday 08:30 in Tokyo
    tokyo_saturday = ChangeWindows(timezone="Asia/Tokyo", hours={"sat": ["08:00-09:00"]})
    tokyo_friday = ChangeWindows(timezone="Asia/Tokyo", hours={"fri": ["00:00-24:00"]})
    assert tokyo_saturday.contains(friday_late_utc)
    assert not tokyo_friday.contains(friday_late_utc)

    saturday_early_utc = datetime(2026, 7, 18, 3, 0, tzinfo=UTC)  # Friday 20:00 in Los Angeles
    la_friday = ChangeWindows(timezone="America/Los_Angeles", hours={"fri": ["19:00-21:00"]})
    assert la_friday.contains(saturday_early_utc)
    assert la_friday.describe(saturday_early_utc) == (
        "Fri 20:00 America/Los_Angeles is inside the change window Fri 19:00-21:00"
    )


def test_naive_moment_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="no time zone"):
        OFFICE.contains(datetime(2026, 7, 17, 10, 0))


def test_describe_outside_names_the_local_time_and_the_days_windows() -> None:
    assert OFFICE.describe(datetime(2026, 7, 17, 15, 42, tzinfo=UTC)) == (
        "Fri 17:42 Europe/Berlin is outside the change windows (Fri 09:00-16:00)"
    )
    assert OFFICE.describe(_at(FRIDAY - timedelta(days=3), 12, 15)) == (
        "Tue 12:15 Europe/Berlin is outside the change windows (Tue 09:00-12:00, 13:00-16:00)"
    )
    assert OFFICE.describe(_at(FRIDAY + timedelta(days=1), 10, 0)) == (
        "Sat 10:00 Europe/Berlin is outside the change windows (none on Sat)"
    )
    assert OFFICE.describe(_at(FRIDAY, 9, 0)) == (
        "Fri 09:00 Europe/Berlin is inside the change window Fri 09:00-16:00"
    )


def test_ranges_are_listed_sorted_whatever_the_file_order() -> None:
    windows = ChangeWindows(timezone="UTC", hours={"mon": ["13:00-14:00", "09:00-10:00"]})
    assert windows.ranges("mon") == [(540, 600), (780, 840)]
    assert windows.ranges("tue") == []


@pytest.mark.parametrize(
    ("text", "span"),
    [
        ("00:00-24:00", (0, 1440)),
        ("09:00-16:00", (540, 960)),
        ("23:59-24:00", (1439, 1440)),
        ("9:00-16:00", None),
        ("09:00 - 16:00", None),
        ("16:00-09:00", None),
        ("09:00-09:00", None),
        ("24:00-24:00", None),
        ("09:60-10:00", None),
        ("09:00-24:30", None),
    ],
)
def test_parse_range(text: str, span: tuple[int, int] | None) -> None:
    assert parse_range(text) == span


# --- change windows: validation messages ----------------------------------------------


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "9:00-16:00",
            "fri: '9:00-16:00' is not a time range like '09:00-16:00' "
            "(HH:MM-HH:MM, 24-hour clock with leading zeros)",
        ),
        ("9-5", "fri: '9-5' is not a time range like '09:00-16:00'"),
        ("25:00-26:00", "fri: '25:00-26:00' starts at 25:00, not a time of day (00:00-23:59)"),
        ("09:00-24:01", "fri: '09:00-24:01' ends at 24:01, not a time of day (00:01-24:00)"),
        ("16:00-09:00", "fri: '16:00-09:00' does not end after it starts"),
        ("09:00-09:00", "fri: '09:00-09:00' does not end after it starts"),
    ],
)
def test_bad_time_range_names_day_and_value(value: str, message: str) -> None:
    [(loc, msg)] = _windows_error(timezone="UTC", hours={"fri": ["06:00-07:00", value]})
    assert loc == "hours.fri.1"
    assert msg.startswith(message)


def test_overlapping_ranges_are_refused_every_one_reported() -> None:
    errors = _windows_error(
        timezone="UTC",
        hours={"mon": ["09:00-17:00", "10:00-11:00", "12:00-13:00", "17:00-18:00"]},
    )
    assert errors == [
        ("hours.mon.1", "mon: '10:00-11:00' overlaps '09:00-17:00'; "
         "ranges of one day must not overlap (merge them)"),
        ("hours.mon.2", "mon: '12:00-13:00' overlaps '09:00-17:00'; "
         "ranges of one day must not overlap (merge them)"),
    ]  # fmt: skip


def test_bad_timezone_and_bad_ranges_are_reported_together() -> None:
    errors = _windows_error(timezone="Berlin", hours={"mon": ["9-5"], "tue": ["10:00-09:00"]})
    assert [loc for loc, _ in errors] == ["timezone", "hours.mon.0", "hours.tue.0"]


def test_touching_ranges_are_not_overlapping() -> None:
    windows = ChangeWindows(timezone="UTC", hours={"mon": ["09:00-12:00", "12:00-14:00"]})
    assert windows.contains(datetime(2026, 7, 13, 12, 0, tzinfo=UTC))


def test_unknown_weekday_is_refused_with_the_allowed_names() -> None:
    [(loc, msg)] = _windows_error(timezone="UTC", hours={"monday": ["09:00-10:00"]})
    assert loc == "hours.monday.[key]"
    assert msg == (
        "'monday' is not a weekday; use mon, tue, wed, thu, fri, sat, sun; did you mean 'mon'?"
    )


def test_single_range_not_in_a_list_is_refused_with_the_fix() -> None:
    [(loc, msg)] = _windows_error(timezone="UTC", hours={"fri": "09:00-16:00"})
    assert loc == "hours.fri"
    assert msg == 'write a list of ranges, e.g. ["09:00-16:00"]'


@pytest.mark.parametrize(
    ("zone", "hint"),
    [
        ("Europe/Berln", "; did you mean 'Europe/Berlin'?"),
        ("CEST", ""),  # an abbreviation: no misleading "EST"
        ("utc", "; did you mean 'UTC'?"),
        ("Europe/berlin", "; did you mean 'Europe/Berlin'?"),
        ("", ""),
        ("../../etc/passwd", ""),
        ("localtime", ""),
    ],
)
def test_bad_timezone_must_be_an_iana_name(zone: str, hint: str) -> None:
    [(loc, msg)] = _windows_error(timezone=zone, hours={})
    assert loc == "timezone"
    assert msg == (
        f"{zone!r} is not a known time zone; it must be an IANA name like "
        f"Europe/Berlin, America/New_York or UTC{hint}"
    )


def test_unknown_field_is_refused() -> None:
    errors = _windows_error(timezone="UTC", hours={}, zone="UTC")
    assert errors == [("zone", "Extra inputs are not permitted")]


def test_windows_embedded_in_a_yaml_document_point_at_the_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(
        textwrap.dedent(
            """\
            timezone: Europe/Berlin
            hours:
              mon: [09:00-16:00]
              fri:
                - 09:00-12:00
                - 11:00-16:00
            """
        )
    )
    document = load_yaml_mapping(path, display_path="policy.yaml")
    with pytest.raises(ValidationError) as exc:
        ChangeWindows.model_validate(document.data)
    problems = validation_problems(exc.value, document, ChangeWindows)
    assert [str(p) for p in problems] == [
        "policy.yaml:6:7: hours.fri[1]: fri: '11:00-16:00' overlaps '09:00-12:00'; "
        "ranges of one day must not overlap (merge them)"
    ]


# --- freezes ---------------------------------------------------------------------------

YEAR_END = Freeze(
    id="year-end",
    start=datetime(2026, 12, 18, tzinfo=UTC),
    end=datetime(2027, 1, 4, tzinfo=UTC),
    reason="Year-end freeze",
)


def _freeze_error(**fields: Any) -> list[tuple[str, str]]:
    base: dict[str, Any] = {
        "start": "2026-12-18T00:00:00Z",
        "end": "2027-01-04T00:00:00Z",
        "reason": "Year-end freeze",
    }
    with pytest.raises(ValidationError) as exc:
        Freeze.model_validate(base | fields)
    return _errors(exc)


def test_freeze_active_from_start_until_just_before_end() -> None:
    calendar = FreezeCalendar(freezes=[YEAR_END])
    assert calendar.active(datetime(2026, 12, 17, 23, 59, 59, tzinfo=UTC)) == []
    assert calendar.active(datetime(2026, 12, 18, tzinfo=UTC)) == [YEAR_END]  # start inclusive
    assert calendar.active(datetime(2027, 1, 3, 23, 59, 59, tzinfo=UTC)) == [YEAR_END]
    assert calendar.active(datetime(2027, 1, 4, tzinfo=UTC)) == []  # end exclusive


def test_freeze_compares_instants_not_wall_clocks() -> None:
    # 00:30 in Berlin on 18 December is still 17 December in UTC: not yet frozen.
    assert not YEAR_END.contains(datetime(2026, 12, 18, 0, 30, tzinfo=BERLIN))
    assert YEAR_END.contains(datetime(2026, 12, 18, 1, 0, tzinfo=BERLIN))


def test_overlapping_freezes_are_all_active_in_file_order() -> None:
    launch = Freeze(
        start=datetime(2026, 12, 1, tzinfo=UTC),
        end=datetime(2026, 12, 20, tzinfo=UTC),
        reason="Launch",
    )
    calendar = FreezeCalendar(freezes=[launch, YEAR_END])
    assert calendar.active(datetime(2026, 12, 19, tzinfo=UTC)) == [launch, YEAR_END]
    assert calendar.active(datetime(2026, 12, 20, tzinfo=UTC)) == [YEAR_END]


def test_active_refuses_a_naive_moment() -> None:
    with pytest.raises(ValueError, match="no time zone"):
        FreezeCalendar(freezes=[YEAR_END]).active(datetime(2026, 12, 19))


def test_offsets_are_normalised_to_utc_and_dates_mean_midnight_utc() -> None:
    freeze = Freeze(start="2026-12-18T01:00:00+01:00", end="2027-01-04", reason="x")
    assert freeze.start == datetime(2026, 12, 18, tzinfo=UTC)
    assert freeze.start.tzinfo is UTC
    assert freeze.end == datetime(2027, 1, 4, tzinfo=UTC)
    assert freeze.describe() == "x (2026-12-18T00:00:00Z to 2027-01-04T00:00:00Z)"
    assert YEAR_END.describe() == (
        "year-end: Year-end freeze (2026-12-18T00:00:00Z to 2027-01-04T00:00:00Z)"
    )


def test_naive_timestamp_is_refused_with_the_fix() -> None:
    assert _freeze_error(start="2026-12-18T00:00:00") == [
        (
            "start",
            "'2026-12-18T00:00:00' has no time zone; add an offset or Z, "
            "e.g. 2026-12-18T00:00:00Z for UTC or 2026-12-18T00:00:00+01:00",
        )
    ]
    naive = datetime(2027, 1, 4)
    [(loc, msg)] = _freeze_error(end=naive)
    assert loc == "end"
    assert msg.startswith("'2027-01-04T00:00:00' has no time zone; add an offset or Z")


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            {"end": "2026-12-18T00:00:00Z"},
            [("end", "2026-12-18T00:00:00Z is not after start 2026-12-18T00:00:00Z; "
                     "a freeze must last a while")],
        ),
        (
            {"end": "2026-12-01"},
            [("end", "2026-12-01T00:00:00Z is not after start 2026-12-18T00:00:00Z; "
                     "a freeze must last a while")],
        ),
        ({"reason": "  "}, [("reason", "must not be empty; say why changes are frozen")]),
        (
            {"start": "next friday"},
            [("start", "'next friday' is not a timestamp like 2026-12-18T00:00:00Z "
                       "or a date like 2026-12-18")],
        ),
        (
            {"start": 1781740800},
            [("start", "must be a timestamp like 2026-12-18T00:00:00Z or a date like "
                       "2026-12-18, found int")],
        ),
        ({"id": "year end"}, [("id", "String should match pattern '^[A-Za-z0-9][A-Za-z0-9._-]*$'")]),
        ({"until": "2027-01-04"}, [("until", "Extra inputs are not permitted")]),
    ],
)  # fmt: skip
def test_bad_freeze_fields(fields: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    assert _freeze_error(**fields) == expected


def test_duplicate_freeze_ids_are_refused() -> None:
    with pytest.raises(ValidationError) as exc:
        FreezeCalendar(freezes=[YEAR_END, YEAR_END])
    assert _errors(exc) == [
        ("freezes.1.id", "'year-end' is already the id of freezes[0]; ids must be unique")
    ]


# --- the calendar file -----------------------------------------------------------------


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "freezes.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def _problems(path: Path) -> list[str]:
    with pytest.raises(DocumentError) as exc:
        load_freeze_calendar(path, display_path="calendar/freezes.yaml")
    return [str(p) for p in exc.value.problems]


def test_load_calendar_with_quoted_unquoted_and_date_timestamps(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """\
        freezes:
          - id: year-end
            start: 2026-12-18T00:00:00Z
            end: "2027-01-04T00:00:00Z"
            reason: Year-end freeze
          - start: '2026-11-26T18:00:00-05:00'
            end: 2026-11-28 00:00:00+01:00
            reason: Thanksgiving
          - id: board-meeting
            start: 2027-02-01
            end: 2027-02-02
            reason: Board meeting
        """,
    )
    calendar = load_freeze_calendar(path)
    assert calendar.freezes[0] == YEAR_END
    assert calendar.freezes[1].id is None
    assert calendar.freezes[1].start == datetime(2026, 11, 26, 23, 0, tzinfo=UTC)
    assert calendar.freezes[1].end == datetime(2026, 11, 27, 23, 0, tzinfo=UTC)
    assert calendar.freezes[2].start == datetime(2027, 2, 1, tzinfo=UTC)
    assert calendar.freezes[2].end == datetime(2027, 2, 2, tzinfo=UTC)
    assert [f.id for f in calendar.active(datetime(2027, 1, 1, tzinfo=UTC))] == ["year-end"]
    assert calendar.active(datetime(2027, 2, 2, tzinfo=UTC)) == []


def test_empty_freeze_list_is_a_valid_calendar(tmp_path: Path) -> None:
    calendar = load_freeze_calendar(_write(tmp_path, "freezes: []\n"))
    assert calendar.active(datetime(2026, 12, 24, tzinfo=UTC)) == []


def test_missing_reason_is_reported_with_file_and_line(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """\
        freezes:
          - id: year-end
            start: 2026-12-18T00:00:00Z
            end: 2027-01-04T00:00:00Z
            reason: Year-end freeze
          - id: launch
            start: 2027-03-01T00:00:00Z
            end: 2027-03-02T00:00:00Z
        """,
    )
    assert _problems(path) == [
        "calendar/freezes.yaml:6:5: freezes[1].reason: required field is missing"
    ]


def test_unquoted_naive_timestamp_in_file_is_refused(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """\
        freezes:
          - start: 2026-12-18T00:00:00
            end: 2027-01-04T00:00:00Z
            reason: Year-end freeze
        """,
    )
    assert _problems(path) == [
        "calendar/freezes.yaml:2:12: freezes[0].start: '2026-12-18T00:00:00' has no time zone; "
        "add an offset or Z, e.g. 2026-12-18T00:00:00Z for UTC or 2026-12-18T00:00:00+01:00"
    ]


def test_every_problem_in_the_file_is_reported(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """\
        freezes:
          - id: year-end
            start: 2026-12-18T00:00:00Z
            end: 2026-12-01T00:00:00Z
            reason: Year-end freeze
          - id: year-end
            start: 2027-03-01T00:00:00Z
            ends: 2027-03-02T00:00:00Z
            reason: ""
        """,
    )
    assert _problems(path) == [
        "calendar/freezes.yaml:4:10: freezes[0].end: 2026-12-01T00:00:00Z is not after start "
        "2026-12-18T00:00:00Z; a freeze must last a while",
        "calendar/freezes.yaml:6:5: freezes[1].end: required field is missing",
        # documents.py offers "did you mean" only outside lists, for now.
        "calendar/freezes.yaml:8:5: freezes[1].ends: unknown field",
        "calendar/freezes.yaml:9:13: freezes[1].reason: must not be empty; "
        "say why changes are frozen",
    ]


def test_duplicate_id_in_file_points_at_the_second_id(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """\
        freezes:
          - id: year-end
            start: 2026-12-18
            end: 2027-01-04
            reason: Year-end freeze
          - id: year-end
            start: 2027-12-18
            end: 2028-01-04
            reason: Year-end freeze
        """,
    )
    assert _problems(path) == [
        "calendar/freezes.yaml:6:9: freezes[1].id: 'year-end' is already the id of "
        "freezes[0]; ids must be unique"
    ]


def test_calendar_file_must_hold_a_freezes_list(tmp_path: Path) -> None:
    assert _problems(_write(tmp_path, "freeze: []\n")) == [
        "calendar/freezes.yaml:1:1: freeze: unknown field; did you mean 'freezes'?",
        "calendar/freezes.yaml:1:1: freezes: required field is missing",
    ]
    assert _problems(tmp_path / "absent.yaml")[0].startswith(
        "calendar/freezes.yaml:1:1: (document): cannot read file"
    )
