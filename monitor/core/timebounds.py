"""Times the core can add a window to: every time from outside is bounded here at the border."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

# No notice, probe or export predates the Unix epoch (Telegram and feeds speak Unix time), and
# none is published more than a day ahead of its receipt (a wrong zone is at most ~26 hours off).
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
FUTURE_SKEW = timedelta(days=1)
# Far enough from datetime.max that any configured window (a Duration is at most 100 years) fits:
# the bound for stored times that are read back without a receipt time to compare with.
LATEST = datetime(9000, 1, 1, tzinfo=UTC)
RANGE_TEXT = "between 1970-01-01 and one day after now"


class TimeRangeError(ValueError):
    """A time outside what the core can work with; the message says the allowed range."""


def bounded(when: datetime, now: datetime) -> datetime:
    """`when` in UTC if it lies between EARLIEST and now + FUTURE_SKEW, else TimeRangeError."""
    if when.tzinfo is None or when.utcoffset() is None:
        raise TimeRangeError("must have a time zone offset")
    try:
        # comparing first: astimezone itself overflows at year 1 with a positive offset
        ok = EARLIEST <= when <= now + FUTURE_SKEW
        utc = when.astimezone(UTC) if ok else None
    except OverflowError:
        utc = None
    if utc is None:
        raise TimeRangeError(f"{when.isoformat()} is out of range: must be {RANGE_TEXT}")
    return utc


def usable(when: datetime | None) -> bool:
    """Whether a stored time is one the core can add a window to (aware, 1970 to year 9000)."""
    if when is None or when.tzinfo is None or when.utcoffset() is None:
        return False
    try:
        return EARLIEST <= when <= LATEST
    except OverflowError:
        return False


def clamp(when: datetime, now: datetime) -> tuple[datetime, str | None]:
    """`when` in UTC when in range; else `now`, with the original as text for the log."""
    try:
        return bounded(when, now), None
    except TimeRangeError:
        return now, when.isoformat()


def from_unix(seconds: float, now: datetime) -> tuple[datetime, str | None]:
    """A Unix time from outside, clamped like clamp(); the original kept as text when it was."""
    try:
        return clamp(datetime.fromtimestamp(seconds, UTC), now)
    except (OverflowError, OSError, ValueError):
        return now, f"unix time {seconds!r:.40}"


def all_usable(value: object) -> bool:
    """Whether every time inside `value` (a dataclass, container or time) is usable()."""
    if isinstance(value, datetime):
        return usable(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return all(all_usable(getattr(value, f.name)) for f in dataclasses.fields(value))
    if isinstance(value, Mapping):
        return all(all_usable(v) for v in value.values())
    if isinstance(value, list | tuple | set | frozenset):
        return all(all_usable(v) for v in value)
    return True
