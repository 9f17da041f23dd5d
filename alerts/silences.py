"""Silences (one-off, from the API or config) and recurring maintenance windows; their table."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

import sqlite_utils

from alerts.config import WEEKDAYS, AlertsConfig, MaintenanceConfig
from alerts.matchers import Matcher, from_maps, matches_all

TABLE = "alert_silences"
SilenceState = Literal["pending", "active", "expired"]
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Silence:
    """Mutes alerts matching all its matchers between starts_at and ends_at (None: forever)."""

    id: str
    matchers: tuple[Matcher, ...]
    starts_at: datetime = EPOCH
    ends_at: datetime | None = None
    created_by: str = ""
    comment: str = ""
    created_at: datetime = EPOCH

    def state(self, now: datetime) -> SilenceState:
        """pending before it starts, active while it runs, expired after."""
        if now < self.starts_at:
            return "pending"
        if self.ends_at is not None and now >= self.ends_at:
            return "expired"
        return "active"

    def mutes(self, labels: Mapping[str, str], now: datetime) -> bool:
        """Whether it silences these labels at `now`."""
        return self.state(now) == "active" and matches_all(self.matchers, labels)

    def to_api(self, now: datetime) -> dict[str, Any]:
        """Alertmanager-like JSON."""
        return {
            "id": self.id,
            "matchers": [
                {"name": m.name, "value": m.value, "isRegex": m.is_regex, "isEqual": m.is_equal}
                for m in self.matchers
            ],
            "startsAt": self.starts_at.isoformat(),
            "endsAt": self.ends_at.isoformat() if self.ends_at else None,
            "createdBy": self.created_by,
            "comment": self.comment,
            "status": {"state": self.state(now)},
        }


@dataclass(frozen=True)
class MaintenanceWindow:
    """A weekly window in a time zone; a window ending before it starts runs past midnight."""

    id: str
    weekdays: frozenset[int]  # 0 = Monday
    start: Any  # datetime.time
    end: Any
    zone: ZoneInfo
    matchers: tuple[Matcher, ...] = field(default=())
    comment: str = ""

    @classmethod
    def from_config(cls, index: int, cfg: MaintenanceConfig) -> MaintenanceWindow:
        """Build from a `maintenance` entry."""
        return cls(
            id=f"maintenance:{cfg.name or index}",
            weekdays=frozenset(WEEKDAYS.index(d) for d in cfg.weekdays),
            start=cfg.start,
            end=cfg.end,
            zone=ZoneInfo(cfg.time_zone),
            matchers=from_maps(cfg.match, cfg.match_re),
            comment=cfg.comment,
        )

    def active(self, now: datetime) -> bool:
        """Whether `now` falls in the window (in the window's own zone, DST included)."""
        local = now.astimezone(self.zone)
        t = local.time().replace(tzinfo=None)
        if self.start < self.end:
            return local.weekday() in self.weekdays and self.start <= t < self.end
        yesterday = (local - timedelta(days=1)).weekday()
        return (local.weekday() in self.weekdays and t >= self.start) or (
            yesterday in self.weekdays and t < self.end
        )

    def mutes(self, labels: Mapping[str, str], now: datetime) -> bool:
        """Whether it mutes these labels at `now`."""
        return self.active(now) and matches_all(self.matchers, labels)


def from_config(cfg: AlertsConfig) -> tuple[list[Silence], list[MaintenanceWindow]]:
    """The static silences and maintenance windows written in the config."""
    silences = [
        Silence(
            id=f"config:{i}",
            matchers=from_maps(s.match, s.match_re),
            starts_at=s.starts_at or EPOCH,
            ends_at=s.ends_at,
            created_by="config",
            comment=s.comment,
        )
        for i, s in enumerate(cfg.silences)
    ]
    windows = [MaintenanceWindow.from_config(i, m) for i, m in enumerate(cfg.maintenance)]
    return silences, windows


def muted_by(
    labels: Mapping[str, str],
    now: datetime,
    silences: Iterable[Silence],
    windows: Iterable[MaintenanceWindow] = (),
) -> list[str]:
    """Ids of the silences and maintenance windows muting these labels now."""
    return [s.id for s in silences if s.mutes(labels, now)] + [
        w.id for w in windows if w.mutes(labels, now)
    ]


# -- the table -------------------------------------------------------------------------------


def create_table(db: sqlite_utils.Database) -> None:
    """Create the silences table if missing."""
    db.table(TABLE).create(
        {
            "id": str,
            "matchers": str,
            "starts_at": str,
            "ends_at": str,
            "created_by": str,
            "comment": str,
            "created_at": str,
        },
        pk="id",
        if_not_exists=True,
    )


def save(db: sqlite_utils.Database, s: Silence) -> None:
    """Insert or replace a silence."""
    matchers = [[m.name, m.value, m.is_regex, m.is_equal] for m in s.matchers]
    db.table(TABLE).upsert(
        {
            "id": s.id,
            "matchers": json.dumps(matchers),
            "starts_at": s.starts_at.isoformat(),
            "ends_at": s.ends_at.isoformat() if s.ends_at else None,
            "created_by": s.created_by,
            "comment": s.comment,
            "created_at": s.created_at.isoformat(),
        },
        pk="id",
    )


def load(db: sqlite_utils.Database) -> list[Silence]:
    """Every stored silence, oldest first."""
    out = []
    for r in db.query(f"SELECT * FROM {TABLE} ORDER BY created_at"):
        out.append(
            Silence(
                id=r["id"],
                matchers=tuple(
                    Matcher(n, v, bool(rx), bool(eq)) for n, v, rx, eq in json.loads(r["matchers"])
                ),
                starts_at=datetime.fromisoformat(r["starts_at"]),
                ends_at=datetime.fromisoformat(r["ends_at"]) if r["ends_at"] else None,
                created_by=r["created_by"] or "",
                comment=r["comment"] or "",
                created_at=datetime.fromisoformat(r["created_at"]),
            )
        )
    return out


def prune(db: sqlite_utils.Database, before: datetime) -> int:
    """Forget silences that expired before `before`."""
    cur = db.execute(
        f"DELETE FROM {TABLE} WHERE ends_at IS NOT NULL AND ends_at < ?", [before.isoformat()]
    )
    return int(cur.rowcount or 0)
