"""Alertmanager's time intervals: named sets of times, weekdays, days, months and years.

Same syntax and meaning as alertmanager's timeinterval package (0.25): `times` are
`start_time`/`end_time` in hh:mm with the end excluded; `weekdays`, `days_of_month` (negative
counts from the month's end), `months` and `years` are single values or inclusive `a:b` ranges;
`location` is an IANA zone (UTC by default). A field left out matches everything.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema, model_validator

Range = tuple[int, int]
# what the YAML holds (`monday:friday`, `-7:-1`, `09:00`), not the parsed numbers
_RANGE_SCHEMA = WithJsonSchema({"type": ["string", "integer"]})
_TIME_SCHEMA = WithJsonSchema(
    {"type": "string", "pattern": r"^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$"}
)

WEEKDAYS = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
_TIME = re.compile(r"^(?:([01][0-9]|2[0-3]):([0-5][0-9])|(24):(00))$")


def _split(value: object, member: Callable[[str], int]) -> Range:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError("expected a value or a range like a:b")
    text = str(value).lower()
    parts = text.split(":")
    if len(parts) > 2:
        raise ValueError(f"couldn't parse range {text}, invalid format")
    return member(parts[0]), member(parts[-1])


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number") from None


def _weekday(text: str) -> int:
    if text not in WEEKDAYS:
        raise ValueError(f"{text} is not a valid weekday")
    return WEEKDAYS.index(text)


def _month(text: str) -> int:
    if text in MONTHS:
        return MONTHS.index(text) + 1
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{text} is not a valid month") from None


def _weekdays(value: object) -> Range:
    begin, end = _split(value, _weekday)
    if begin > end:
        raise ValueError("start day cannot be before end day")
    return begin, end


def _days(value: object) -> Range:
    begin, end = _split(value, _int)
    for day in (begin, end):
        if day == 0 or not -31 <= day <= 31:
            raise ValueError(f"{day} is not a valid day of the month: out of range")
    if begin < 0 < end:
        raise ValueError("end day must be negative if start day is negative")
    if (28 + begin if begin < 0 else begin) > (28 + end if end < 0 else end):
        raise ValueError(f"end day {end} is always before start day {begin}")
    return begin, end


def _months(value: object) -> Range:
    begin, end = _split(value, _month)
    if not (1 <= begin <= 12 and 1 <= end <= 12):
        raise ValueError(f"{value} is not a valid month: out of range")
    if begin > end:
        raise ValueError(f"end month {MONTHS[end - 1]} is before start month {MONTHS[begin - 1]}")
    return begin, end


def _years(value: object) -> Range:
    begin, end = _split(value, _int)
    if begin > end:
        raise ValueError(f"end year {end} is before start year {begin}")
    return begin, end


def _minute(text: object) -> int:
    # YAML 1.1 reads an unquoted 09:00 as the base-60 integer 540: minutes already
    if isinstance(text, int) and not isinstance(text, bool) and 0 <= text <= 24 * 60:
        return text
    found = _TIME.match(text) if isinstance(text, str) else None
    if found is None:
        raise ValueError(f"couldn't parse timestamp {text}, invalid format (use hh:mm)")
    hours, minutes = (int(g) for g in found.groups() if g is not None)
    return hours * 60 + minutes


def _location(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError("expected a time zone name like Europe/Kyiv")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {value!r} (use an IANA name like Europe/Kyiv)"
        ) from None
    return value


class TimeRange(BaseModel):
    """`start_time`/`end_time` in hh:mm (24:00 allowed as an end); the end is excluded."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    start_time: Annotated[int, BeforeValidator(_minute), _TIME_SCHEMA]
    end_time: Annotated[int, BeforeValidator(_minute), _TIME_SCHEMA]

    @model_validator(mode="after")
    def _ordered(self) -> TimeRange:
        if self.start_time >= self.end_time:
            raise ValueError("start time cannot be equal or greater than end time")
        return self


class TimeIntervalSpec(BaseModel):
    """One entry of a named interval's `time_intervals`; every given field must match."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    times: list[TimeRange] | None = None
    weekdays: list[Annotated[Range, BeforeValidator(_weekdays), _RANGE_SCHEMA]] | None = None
    days_of_month: list[Annotated[Range, BeforeValidator(_days), _RANGE_SCHEMA]] | None = None
    months: list[Annotated[Range, BeforeValidator(_months), _RANGE_SCHEMA]] | None = None
    years: list[Annotated[Range, BeforeValidator(_years), _RANGE_SCHEMA]] | None = None
    location: Annotated[str, BeforeValidator(_location)] | None = None

    def contains(self, when: datetime) -> bool:
        """Whether `when` (aware) falls inside, judged in `location` (ContainsTime in Go)."""
        t = when.astimezone(ZoneInfo(self.location or "UTC"))
        minute = t.hour * 60 + t.minute
        weekday = (t.weekday() + 1) % 7  # Go counts from Sunday
        checks = (
            (
                self.times,
                lambda: any(r.start_time <= minute < r.end_time for r in self.times or ()),
            ),
            (self.days_of_month, lambda: _in_days(t, self.days_of_month or ())),
            (self.months, lambda: _within(t.month, self.months or ())),
            (self.weekdays, lambda: _within(weekday, self.weekdays or ())),
            (self.years, lambda: _within(t.year, self.years or ())),
        )
        return all(given is None or test() for given, test in checks)


def _within(value: int, ranges: Iterable[Range]) -> bool:
    return any(begin <= value <= end for begin, end in ranges)


def _in_days(t: datetime, ranges: Iterable[Range]) -> bool:
    size = calendar.monthrange(t.year, t.month)[1]
    for begin, end in ranges:
        first = size + begin + 1 if begin < 0 else begin
        last = size + end + 1 if end < 0 else end
        if first > size:
            continue
        if max(-size, min(first, size)) <= t.day <= max(-size, min(last, size)):
            return True
    return False


class NamedTimeInterval(BaseModel):
    """A top-level `time_intervals` entry: a name routes refer to, and its intervals."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    time_intervals: list[TimeIntervalSpec] = Field(default_factory=list)


def active(intervals: Iterable[TimeIntervalSpec], when: datetime) -> bool:
    """Whether any of the intervals contains `when`."""
    return any(i.contains(when) for i in intervals)
