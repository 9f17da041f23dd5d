"""The founding day, 15 February 2022, as a compressed timeline (pure: elapsed time in, modes out).

Everything is written in the day's own UTC times and compressed so that, at speed 1, one
story second is COMPRESSION seconds of the day; `--speed` compresses it further.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

Mode = Literal["up", "timeout", "error", "refused"]
"""How a site answers: normally, not before the probe gives up, 503, or not at all."""

DAY_START = datetime(2022, 2, 15, 12, 0, tzinfo=UTC)
COMPRESSION = 90.0  # day seconds per story second at speed 1: 2.5 hours in 100 s
DAY_END = datetime(2022, 2, 15, 14, 45, tzinfo=UTC)  # incidents resolved and their alerts sent


@dataclass(frozen=True)
class Phase:
    """One site answering in one mode from `start` until `end` (day times, UTC)."""

    site: str
    start: datetime
    end: datetime
    mode: Mode


def _at(hhmm: str) -> datetime:
    parts = [int(p) for p in hhmm.split(":")] + [0]
    return DAY_START.replace(hour=parts[0], minute=parts[1], second=parts[2])


def _phase(site: str, start: str, end: str, mode: Mode) -> Phase:
    return Phase(site, _at(start), _at(end), mode)


# The day as seen from outside: each bank and ministry site fails in its own way (a DDoS looks
# like timeouts, 503s from an overloaded front and refused connections); Monobank's blip is
# 4.5 minutes, 1.5 probe intervals, so it fails one or two probes, never the three that make an
# outage; Diia stays up; Oschadbank recovers 27 minutes after the notice saying it had.
PHASES: tuple[Phase, ...] = (
    _phase("monobank", "12:10", "12:14:30", "error"),
    _phase("privatbank", "12:15", "12:45", "timeout"),
    _phase("privatbank", "12:45", "13:20", "error"),
    _phase("oschadbank", "12:21", "13:10", "error"),
    _phase("oschadbank", "13:10", "14:06", "timeout"),
    _phase("mod", "12:33", "13:45", "refused"),
    _phase("zsu", "12:39", "13:05", "timeout"),
    _phase("zsu", "13:05", "13:45", "error"),
)


def story_seconds(when: datetime, speed: float = 1.0) -> float:
    """Seconds from the start of the replay at which a moment of the day is played."""
    return (when - DAY_START).total_seconds() / COMPRESSION / speed


def day_time(elapsed: float, speed: float = 1.0) -> datetime:
    """The moment of the day being played `elapsed` seconds into the replay."""
    return DAY_START + timedelta(seconds=elapsed * speed * COMPRESSION)


def length(speed: float = 1.0) -> float:
    """How long the replay runs, in seconds."""
    return story_seconds(DAY_END, speed)


def mode_at(
    site: str, elapsed: float, speed: float = 1.0, phases: tuple[Phase, ...] = PHASES
) -> Mode:
    """How `site` answers `elapsed` seconds into the replay."""
    now = day_time(elapsed, speed)
    for p in phases:
        if p.site == site and p.start <= now < p.end:
            return p.mode
    return "up"


def scaled(day_seconds: float, speed: float = 1.0) -> float:
    """A span of the day (e.g. a probe interval of 3 minutes) in replay seconds."""
    return day_seconds / COMPRESSION / speed
