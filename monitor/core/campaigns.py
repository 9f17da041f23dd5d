"""Campaigns: several services whose incidents start within a window of each other (pure logic)."""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from monitor.core.incidents import (
    CAMPAIGN_PREFIX,
    Campaign,
    ChangeKind,
    IdBook,
    campaign_dict,
    campaign_from,
)
from monitor.core.timebounds import all_usable


@dataclass(frozen=True)
class Member:
    """What the campaign book needs to know about an incident."""

    incident: str
    service: str
    group: str
    started_at: datetime


@dataclass(frozen=True)
class CampaignChange:
    """A campaign opened, grew, closed or was withdrawn; `tagged` are incidents now in it."""

    kind: ChangeKind
    campaign: Campaign
    tagged: tuple[str, ...] = ()


@dataclass
class _Roll:
    """An open campaign's members in order, kept so that one joining costs no re-sort."""

    keys: list[tuple[datetime, str]] = field(default_factory=list)  # (start, service)
    incidents: list[str] = field(default_factory=list)
    services: list[str] = field(default_factory=list)
    groups: set[str] = field(default_factory=set)

    def add(self, m: Member) -> None:
        """Insert after any equal key, where a stable sort would put it."""
        at = bisect_right(self.keys, (m.started_at, m.service))
        self.keys.insert(at, (m.started_at, m.service))
        self.incidents.insert(at, m.incident)
        self.services.insert(at, m.service)
        self.groups.add(m.group)


class CampaignBook:
    """Forms campaigns from incident starts; later incidents within the window of the last join."""

    def __init__(self, window: float, min_services: int) -> None:
        self.window = timedelta(seconds=window)
        self.min_services = min_services
        self._open: dict[str, Campaign] = {}
        self._loose: dict[str, Member] = {}  # recent incidents in no campaign
        self._members: dict[str, Member] = {}  # incident id -> member, for open campaigns
        self._resolved: set[str] = set()
        self._last: dict[str, datetime] = {}  # campaign id -> its latest member start (a cache)
        self._rolls: dict[str, _Roll] = {}  # campaign id -> its members in order (a cache)
        self.ids = IdBook(CAMPAIGN_PREFIX, 2)

    def open(self) -> list[Campaign]:
        """Open campaigns, oldest first."""
        return sorted(self._open.values(), key=lambda c: c.started_at)

    def campaign_of(self, incident: str) -> str | None:
        """The open campaign an incident belongs to, if any."""
        return next((c.id for c in self._open.values() if incident in c.incidents), None)

    def service_of(self, incident: str) -> str | None:
        """The service of an incident in an open campaign."""
        m = self._members.get(incident)
        return None if m is None else m.service

    def _last_start(self, c: Campaign) -> datetime:
        last = self._last.get(c.id)
        if last is None:
            last = self._last[c.id] = max(self._members[i].started_at for i in c.incidents)
        return last

    def opened(self, m: Member, now: datetime) -> CampaignChange | None:
        """An incident opened: join a campaign, form one, or wait loose."""
        self._prune(now)
        for c in self.open():
            if c.started_at - self.window <= m.started_at <= self._last_start(c) + self.window:
                return self._join(c, m)
        self._loose[m.incident] = m
        group = self._best_group(m)
        if group is None:
            return None
        return self._form(group)

    def _join(self, c: Campaign, m: Member) -> CampaignChange:
        roll = self._rolls.get(c.id)
        if roll is None:
            roll = self._rolls[c.id] = _roll([self._members[i] for i in c.incidents])
        roll.add(m)
        self._members[m.incident] = m
        new = Campaign(
            id=c.id,
            started_at=roll.keys[0][0],
            services=tuple(dict.fromkeys(roll.services)),
            incidents=tuple(roll.incidents),
            groups=tuple(sorted(roll.groups)),
        )
        self._open[c.id] = new
        self._last[c.id] = max(self._last_start(c), m.started_at)
        return CampaignChange("campaign_updated", new, (m.incident,))

    def _best_group(self, m: Member) -> list[Member] | None:
        pts = sorted(self._loose.values(), key=lambda x: (x.started_at, x.service))
        best: list[Member] | None = None
        for p in pts:
            grp = [q for q in pts if p.started_at <= q.started_at <= p.started_at + self.window]
            if m not in grp or len({q.service for q in grp}) < self.min_services:
                continue
            if best is None or len(grp) > len(best):
                best = grp
        return best

    def _form(self, group: list[Member]) -> CampaignChange:
        start = min(x.started_at for x in group)
        for x in group:
            self._loose.pop(x.incident, None)
            self._members[x.incident] = x
        c = _campaign(self.ids.next(start), group)
        self._open[c.id] = c
        return CampaignChange("campaign_opened", c, tuple(x.incident for x in group))

    def resolved(self, incident: str, ended_at: datetime) -> CampaignChange | None:
        """An incident resolved: close its campaign when every member has.

        A loose incident stays loose: membership is decided by start times alone, so a later
        start within the window still forms a campaign with it."""
        self._resolved.add(incident)
        cid = self.campaign_of(incident)
        if cid is None:
            return None
        c = self._open[cid]
        if not all(i in self._resolved for i in c.incidents):
            return None
        closed = replace(c, status="closed", ended_at=max(ended_at, c.ended_at or ended_at))
        self._drop(c)
        return CampaignChange("campaign_closed", closed)

    def withdrawn(self, incident: str) -> CampaignChange | None:
        """An incident was withdrawn (the vantage was offline): shrink or withdraw its campaign."""
        self._loose.pop(incident, None)
        cid = self.campaign_of(incident)
        if cid is None:
            return None
        c = self._open[cid]
        self._last.pop(cid, None)
        self._rolls.pop(cid, None)
        rest = [self._members[i] for i in c.incidents if i != incident]
        self._members.pop(incident, None)
        self._resolved.discard(incident)
        if len({m.service for m in rest}) >= self.min_services:
            new = replace(_campaign(c.id, rest), started_at=c.started_at)
            self._open[cid] = new
            return CampaignChange("campaign_updated", new)
        self._drop(c)
        for m in rest:  # they may still form a campaign with others later
            self._loose[m.incident] = m
        return CampaignChange("campaign_withdrawn", replace(c, status="closed"))

    def _drop(self, c: Campaign) -> None:
        del self._open[c.id]
        self._last.pop(c.id, None)
        self._rolls.pop(c.id, None)
        for i in c.incidents:
            self._members.pop(i, None)
            self._resolved.discard(i)

    def _prune(self, now: datetime) -> None:
        # loose incidents older than two windows can no longer be within a window of a new one
        cutoff = now - 2 * self.window
        for k in [k for k, m in self._loose.items() if m.started_at < cutoff]:
            del self._loose[k]
            self._resolved.discard(k)

    def snapshot(self) -> dict[str, Any]:
        """Plain data to resume from."""
        return {
            "open": [campaign_dict(c) for c in self.open()],
            "members": [_member_dict(m) for m in self._members.values()],
            "loose": [_member_dict(m) for m in self._loose.values()],
            "resolved": sorted(self._resolved),
            "ids": self.ids.snapshot(),
        }

    def restore(self, snap: dict[str, Any]) -> int:
        """Resume from snapshot(); returns how many parts with unusable times it dropped."""
        opened = [campaign_from(c) for c in snap.get("open") or []]
        members = [_member_from(m) for m in snap.get("members") or []]
        loose = [_member_from(m) for m in snap.get("loose") or []]
        self._open = {c.id: c for c in opened if all_usable(c)}
        self._last, self._rolls = {}, {}
        self._members = {m.incident: m for m in members if all_usable(m)}
        self._loose = {m.incident: m for m in loose if all_usable(m)}
        self._resolved = set(snap.get("resolved") or [])
        self.ids.restore(snap.get("ids"))
        kept = len(self._open) + len(self._members) + len(self._loose)
        return len(opened) + len(members) + len(loose) - kept


def _roll(members: list[Member]) -> _Roll:
    roll = _Roll()
    for m in sorted(members, key=lambda m: (m.started_at, m.service)):
        roll.add(m)
    return roll


def _campaign(cid: str, members: list[Member]) -> Campaign:
    ordered = sorted(members, key=lambda m: (m.started_at, m.service))
    return Campaign(
        id=cid,
        started_at=ordered[0].started_at,
        services=tuple(dict.fromkeys(m.service for m in ordered)),
        incidents=tuple(m.incident for m in ordered),
        groups=tuple(sorted({m.group for m in ordered})),
    )


def _member_dict(m: Member) -> dict[str, Any]:
    return {
        "incident": m.incident,
        "service": m.service,
        "group": m.group,
        "started_at": m.started_at.isoformat(),
    }


def _member_from(d: dict[str, Any]) -> Member:
    return Member(d["incident"], d["service"], d["group"], datetime.fromisoformat(d["started_at"]))
