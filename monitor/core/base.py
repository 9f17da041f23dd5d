"""Shared monitor types: the clock, observations, outages and announcements."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from monitor.vocabulary import (
    ANNOUNCEMENT_KINDS,
    CLAIM_KINDS,
    AnnouncementKind,
    Cause,
    CheckState,
    ClaimKind,
    ClaimTime,
    Polarity,
    ServiceStatus,
)

# a notice's overall kind is its most telling live claim: an attack beats an outage, and so on
_KIND_ORDER: tuple[ClaimKind, ...] = ("attack", "outage", "restored", "advisory")


class Clock(Protocol):
    """Where every decision takes its time from: UTC wall time for records, monotonic for spans."""

    def now(self) -> datetime: ...

    def monotonic(self) -> float: ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()


@dataclass
class FakeClock:
    """A clock tests and replay move by hand."""

    current: datetime = field(default_factory=lambda: datetime(2022, 2, 15, tzinfo=UTC))
    mono: float = 0.0

    def now(self) -> datetime:
        return self.current

    def monotonic(self) -> float:
        return self.mono

    def set(self, when: datetime) -> None:
        """Move to `when` (never backwards)."""
        if when > self.current:
            self.mono += (when - self.current).total_seconds()
            self.current = when


# not frozen: one is built per probe result, and a frozen dataclass's __init__ (object.__setattr__
# per field) costs five times as much; nothing changes one after it is built
@dataclass(slots=True)
class Observation:
    """A probe result placed in time and attributed to its service and check."""

    service: str
    check: str
    kind: str
    ts: datetime
    ok: bool
    error: str | None = None
    duration: float = 0.0
    detail: str = ""
    status_code: int | None = None
    mono: float | None = None  # the clock's monotonic reading at `ts`, for durations


@dataclass(frozen=True)
class Outage:
    """A stretch of time a service was not up, with what its failures looked like."""

    service: str
    started_at: datetime
    ended_at: datetime | None = None
    worst: ServiceStatus = "down"
    signature: Mapping[str, int] = field(default_factory=dict)  # error class -> count
    failing_checks: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        """Stable identity: service and start time."""
        return f"{self.service}@{self.started_at.isoformat()}"


@dataclass(frozen=True)
class Claim:
    """What a notice asserts (or denies) about one service, when, and the words that decided it."""

    service: str  # "" when the notice names no service
    kind: ClaimKind
    polarity: Polarity = "asserted"
    time: ClaimTime = "now"
    evidence: tuple[str, ...] = ()
    cause: Cause = "unknown"

    @property
    def live(self) -> bool:
        """Asserted and current: the only claims that announce or confirm an incident."""
        return self.polarity == "asserted" and self.time == "now"


def overall_kind(claims: tuple[Claim, ...]) -> AnnouncementKind:
    """A notice's kind for display: its most telling live claim, or "other"."""
    live = {c.kind for c in claims if c.live}
    return next((k for k in _KIND_ORDER if k in live), "other")


def claim_dict(c: Claim) -> dict[str, object]:
    """A claim as JSON-ready data."""
    return {
        "service": c.service,
        "kind": c.kind,
        "polarity": c.polarity,
        "time": c.time,
        "cause": c.cause,
        "evidence": list(c.evidence),
    }


def claim_from(d: Mapping[str, object]) -> Claim | None:
    """The inverse of claim_dict; None for a record that is not a claim (a stored row is data)."""
    kind, polarity, time = d.get("kind"), d.get("polarity", "asserted"), d.get("time", "now")
    cause, evidence = d.get("cause", "unknown"), d.get("evidence") or []
    if (
        kind not in CLAIM_KINDS
        or polarity not in ("asserted", "denied")
        or time not in ("now", "past", "planned")
        or cause not in ("attack", "technical", "unknown")
        or not isinstance(d.get("service", ""), str)
        or not isinstance(evidence, list)
    ):
        return None
    return Claim(
        str(d.get("service", "")),
        kind,
        polarity,
        time,
        tuple(str(e) for e in evidence),
        cause,
    )


@dataclass(frozen=True)
class Classification:
    """What the classifier decided about a notice, and the words that decided it."""

    kind: AnnouncementKind
    services: tuple[str, ...] = ()
    confidence: float = 0.0
    evidence: tuple[str, ...] = ()
    claims: tuple[Claim, ...] = ()

    def claims_or_kind(self) -> tuple[Claim, ...]:
        """The claims, or for a classification made without them (older records, tests) the
        kind as a live claim about each named service."""
        if self.claims or self.kind not in CLAIM_KINDS:
            return self.claims
        kind = self.kind
        return tuple(Claim(s, kind) for s in self.services)


@dataclass(frozen=True)
class Message:
    """One raw message from a source, before classification."""

    source: str  # configured source name, e.g. the Telegram channel username or feed name
    id: str  # unique within the source (Telegram message id, feed entry id)
    published_at: datetime
    text: str
    url: str | None = None
    edited_at: datetime | None = None
    deleted: bool = False


@dataclass(frozen=True)
class Announcement:
    """A classified message from a source, linked to the services it names."""

    message: Message
    classification: Classification

    @property
    def key(self) -> str:
        """`<source>/<id>`, the announcement's identity everywhere."""
        return f"{self.message.source}/{self.message.id}"

    @property
    def kind(self) -> AnnouncementKind:
        return self.classification.kind

    @property
    def services(self) -> tuple[str, ...]:
        return self.classification.services

    @property
    def claims(self) -> tuple[Claim, ...]:
        """What the message asserts or denies about each service (see Classification.claims_or_kind)."""
        return self.classification.claims_or_kind()


__all__ = [
    "ANNOUNCEMENT_KINDS",
    "CLAIM_KINDS",
    "AnnouncementKind",
    "Cause",
    "CheckState",
    "ClaimKind",
    "ClaimTime",
    "Polarity",
    "ServiceStatus",
]
