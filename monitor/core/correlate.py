"""Outages + announcements -> incidents, campaigns, vantage gaps and boosts (pure logic, no I/O).

Every method takes the time it happens at; time-based decisions due by then (quiet period,
announce grace, window expiry) are applied first, so replay and the daemon decide the same way.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from monitor.config import Correlation
from monitor.core.base import Announcement, AnnouncementKind, Cause, Outage, ServiceStatus
from monitor.core.campaigns import CampaignBook, CampaignChange, Member
from monitor.core.codec import dt, iso, outage_dict, outage_from
from monitor.core.incidents import (
    INCIDENT_PREFIX,
    Campaign,
    Change,
    ChangeKind,
    Flag,
    Gap,
    IdBook,
    Incident,
    incident_dict,
    incident_from,
    volumetric,
)
from monitor.core.timebounds import all_usable, usable

# Only a live (asserted, current) attack or outage claim announces or confirms an incident; a
# live restored or advisory claim links to one; denied, past and planned claims never act.
_CLAIM: frozenset[AnnouncementKind] = frozenset({"attack", "outage"})
_LINKED: frozenset[AnnouncementKind] = frozenset({"attack", "outage", "restored", "advisory"})
_Said = dict[str, tuple[AnnouncementKind, Cause]]  # service -> its live claim in one notice


@dataclass
class _Track:
    """The mutable side of one incident."""

    inc: Incident
    open_outage: Outage | None = None
    closed_sig: Counter[str] = field(default_factory=Counter)
    observed_since: datetime | None = None  # earliest outage start
    up_since: datetime | None = None  # last outage end, while none is open
    first_claim_at: datetime | None = None
    last_claim_at: datetime | None = None
    heard: dict[str, _Heard] = field(default_factory=dict)  # linked announcements, by key


@dataclass(frozen=True)
class _Heard:
    """A live claim of one announcement about one service, linked or waiting for an incident."""

    published_at: datetime
    key: str
    kind: AnnouncementKind
    cause: Cause = "unknown"


class Correlator:
    """Joins outages and announcements into incidents and campaigns; returns what changed."""

    def __init__(self, cfg: Correlation, services: Mapping[str, str], vantage: str) -> None:
        self.vantage_name = vantage
        self._groups = dict(services)  # service -> group
        self._book = CampaignBook(cfg.campaign_window, cfg.campaign_min_services)
        self._settings(cfg)
        self._current: dict[str, _Track] = {}  # service -> its latest incident (open or recent)
        self._heard: dict[str, list[_Heard]] = {}
        self._status: dict[str, ServiceStatus] = {}
        self._ids = IdBook(INCIDENT_PREFIX, 3)
        self._offline = False
        self._gap: Gap | None = None
        self._gaps: list[Gap] = []
        # outages opened while offline; any still open a quiet period after the vantage came
        # back were real, and open their incidents then
        self._suppressed: dict[str, Outage] = {}
        self._online_at: datetime | None = None
        self._boosts: dict[str, datetime] = {}
        # every configured service is boosted until at least this (a wave boosts them all once
        # per instant, not once per incident joining it); None when not known for all of them
        self._all_boosted: datetime | None = None
        # when each incident may next be due for a time-based decision (resolve, flag, forget):
        # a tick looks only at those due, not at every incident, and recomputes the deadlines of
        # the services touched since (`_stale`; all of them when `_rescan`)
        self._deadline: dict[str, datetime] = {}
        self._deadlines: list[tuple[datetime, str]] = []  # heap; entries may be outdated
        self._stale: set[str] = set()
        self._rescan = True
        self._ticked: datetime | None = None
        self._dirty = True
        # what each announcement last said, to replace it on an edit and withdraw it on deletion
        self._said: dict[str, tuple[datetime, _Said]] = {}

    def _settings(self, cfg: Correlation) -> None:
        self.cfg = cfg
        self._before = timedelta(seconds=cfg.window_before)
        self._after = timedelta(seconds=cfg.window_after)
        self._quiet = timedelta(seconds=cfg.quiet_period)
        self._grace = timedelta(seconds=cfg.announce_grace)
        self._boost_for = timedelta(seconds=cfg.boost_for)
        self._said_for = 2 * (self._before + self._after)  # no incident a notice can speak of
        self._book.window = timedelta(seconds=cfg.campaign_window)
        self._book.min_services = cfg.campaign_min_services

    def reconfigure(
        self,
        services: Mapping[str, str],
        at: datetime,
        cfg: Correlation | None = None,
        vantage: str | None = None,
    ) -> list[Change]:
        """New services, windows and vantage name; open incidents of a service no longer
        configured end now: resolved when observed, withdrawn when only announced."""
        out = self._begin(at)
        self._groups = dict(services)
        self._all_boosted = None
        self._rescan = True
        if cfg is not None:
            self._settings(cfg)
        self.vantage_name = vantage or self.vantage_name
        for svc in sorted(set(self._current) - set(self._groups)):
            track = self._current[svc]
            if track.inc.status != "open":
                continue
            if track.inc.observed:
                track.open_outage = None
                out.extend(self._resolve(track, max(at, track.inc.started_at), at))
            else:
                del self._current[svc]
                out.append(Change("incident_withdrawn", at, incident=track.inc))
                cc = self._book.withdrawn(track.inc.id)
                if cc is not None:
                    out.extend(self._campaign_changes(cc, at))
        gone = [k for k, o in self._suppressed.items() if o.service not in self._groups]
        for key in gone:
            del self._suppressed[key]
        for table in (self._heard, self._boosts, self._status):
            for svc in [s for s in table if s not in self._groups]:
                del table[svc]
        return out

    # -- inputs --------------------------------------------------------------------------------

    def outage_opened(self, outage: Outage, at: datetime) -> list[Change]:
        """The state machine opened an outage."""
        out = self._begin(at)
        svc = outage.service
        self._stale.add(svc)
        if svc not in self._groups:
            return out
        if self._offline:
            self._suppressed[outage.id] = outage
            if self._gap is not None:
                self._gap = replace(self._gap, outages=(*self._gap.outages, outage.id))
            return out
        return out + self._observed(outage, at)

    def _observed(self, outage: Outage, at: datetime) -> list[Change]:
        out: list[Change] = []
        svc = outage.service
        track = self._current.get(svc)
        if track is not None and outage.id in track.inc.outages:
            return out  # already seen (a restart replays it)
        if track is None or track.inc.status == "resolved":
            track = self._new_track(svc, outage.started_at)
            self._attach(track, outage)
            self._link_heard(track)
            return out + self._opened(track, at)
        was_confirmed = track.inc.confirmed
        self._attach(track, outage)
        cleared = self._clear(track, "announced_not_observed")
        out.append(self._changed("incident_updated", track, at, cleared=cleared, was=was_confirmed))
        return out

    def outage_updated(self, outage: Outage, at: datetime) -> list[Change]:
        """An open outage's signature or failing checks moved; evidence follows."""
        out = self.tick(at)  # evidence changes no deadline
        self._stale.add(outage.service)
        track = self._current.get(outage.service)
        if track is None or track.open_outage is None or track.open_outage.id != outage.id:
            return out
        before = track.inc.failing_checks
        track.open_outage = outage
        self._refresh_evidence(track)
        disputed = self._disputed(track) != ("cause_disputed" in track.inc.flags)
        if track.inc.failing_checks != before or disputed:
            out.append(self._changed("incident_updated", track, at))
        return out

    def outage_closed(self, outage: Outage, at: datetime) -> list[Change]:
        """The state machine closed an outage; the incident resolves after the quiet period."""
        out = self._begin(at)
        self._stale.add(outage.service)
        if self._suppressed.pop(outage.id, None) is not None:
            return out
        track = self._current.get(outage.service)
        if track is None or outage.id not in track.inc.outages or track.open_outage is None:
            return out
        track.open_outage = None
        track.closed_sig.update(outage.signature)
        track.up_since = outage.ended_at or at
        track.inc = replace(track.inc, failing_checks=tuple(outage.failing_checks))
        self._refresh_evidence(track)
        out.append(self._changed("incident_updated", track, at))
        return out + self.tick(at)

    def status(self, service: str, status: ServiceStatus, at: datetime) -> list[Change]:
        """The service's current status (for the restored/announced contradictions)."""
        out = self._begin(at)
        self._stale.add(service)
        self._status[service] = status
        return out

    def announcement(self, ann: Announcement, at: datetime) -> list[Change]:
        """A classified announcement, new, edited or deleted: link, open, re-link or withdraw."""
        out = self._begin(at)
        key, published = ann.key, ann.message.published_at
        if not usable(published):
            return out  # sources bound times at the border; this guards what a store held
        known = self._said.get(key)
        before = known[1] if known else {}
        says = {} if ann.message.deleted else _live(ann, self._groups)
        if says == before:
            return out  # a restart, a duplicate, or an edit that changed no claim
        self._said[key] = (published, says)
        self._stale.update(before, says)
        # an edit says its new claims when it was edited
        heard_at = published if known is None else max(published, ann.message.edited_at or at)
        for svc in before:
            if svc not in says:
                out.extend(self._unsay(svc, key, at))
        for svc, (kind, cause) in says.items():
            if before.get(svc) == (kind, cause):
                continue
            self._boost(svc, at + self._boost_for)
            out.extend(self._announce(svc, _Heard(heard_at, key, kind, cause), at))
        return out

    def vantage(self, offline: bool, at: datetime, since: datetime | None = None) -> list[Change]:
        """The vantage went offline (since: when its canaries began failing) or came back."""
        out = self._begin(at)
        if offline == self._offline:
            return out
        self._offline = offline
        self._rescan = True
        self._online_at = None if offline else at
        if offline:
            start = since or at
            withdrawn, outages = self._withdraw_since(start, at)
            self._gap = Gap(started_at=start, outages=outages)
            return [*out, *withdrawn, Change("vantage_offline", at, gap=self._gap)]
        gap = self._gap or Gap(started_at=at)
        gap = replace(gap, ended_at=at)
        self._gaps.append(gap)
        self._gap = None
        return [*out, Change("vantage_online", at, gap=gap)]

    def _begin(self, at: datetime) -> list[Change]:
        out = self.tick(at)
        self._dirty = True  # the caller is about to change something deadlines depend on
        return out

    def tick(self, now: datetime) -> list[Change]:
        """Apply the time-based decisions due by `now`."""
        if now == self._ticked and not self._dirty:
            return []  # replay feeds many results per instant: decide once per instant
        self._ticked, self._dirty = now, False
        # this runs for every probe result: the empty cases cost no list and no sort
        if self._said:
            horizon = now - self._said_for
            for key in [k for k, (when, _) in self._said.items() if when < horizon]:
                del self._said[key]  # no incident it could still speak of
        out = self._settled(now)
        if not self._current:
            return out
        for svc in self._due_by(now):  # in service order, as a scan of all would
            track = self._current[svc]
            self._stale.add(svc)
            if track.inc.status == "open":
                out.extend(self._due(track, now))
            elif track.inc.ended_at is not None and track.inc.ended_at + self._after < now:
                del self._current[svc]  # no later notice can link to it
        return out

    def _due_by(self, now: datetime) -> list[str]:
        """Services whose incident may have a time-based decision due by now, sorted."""
        if self._rescan:
            self._rescan = False
            self._stale.clear()
            self._deadline.clear()
            self._deadlines = []
            for svc in self._current:
                self._schedule(svc)
        else:
            for svc in self._stale:
                self._schedule(svc)
            self._stale.clear()
        due: set[str] = set()
        heap = self._deadlines
        while heap and heap[0][0] <= now:
            when, svc = heapq.heappop(heap)
            if self._deadline.get(svc) == when:
                del self._deadline[svc]
                due.add(svc)
        return sorted(due)

    def _schedule(self, svc: str) -> None:
        track = self._current.get(svc)
        when = None if track is None else self._next_due(track)
        if when is None:
            self._deadline.pop(svc, None)
        elif self._deadline.get(svc) != when:
            self._deadline[svc] = when
            heapq.heappush(self._deadlines, (when, svc))
            if len(self._deadlines) > 2 * len(self._deadline) + 64:  # outdated entries pile up
                self._deadlines = [(w, s) for s, w in self._deadline.items()]
                heapq.heapify(self._deadlines)

    def _next_due(self, track: _Track) -> datetime | None:
        """The earliest time _due (or forgetting a resolved incident) can act on this track as
        it is now; never later than it would, sometimes earlier (then _due just finds nothing)."""
        inc, outage = track.inc, track.open_outage
        if inc.status != "open":
            return None if inc.ended_at is None else inc.ended_at + self._after
        times: list[datetime] = []
        if inc.observed and outage is None and track.up_since is not None:
            times.append(track.up_since + self._quiet)
        if not inc.observed and track.last_claim_at is not None:
            times.append(track.last_claim_at + self._after)
        if not inc.announced and outage is not None and "observed_not_announced" not in inc.flags:
            times.append(outage.started_at + self._grace)
        claim = track.first_claim_at
        if not inc.observed and claim is not None and "announced_not_observed" not in inc.flags:
            times.append(claim + self._grace)  # due only while the service is up: a status call
        return min(times, default=None)

    def _settled(self, now: datetime) -> list[Change]:
        """Outages from the offline gap still open a quiet period after it are real."""
        if self._online_at is None or self._online_at + self._quiet > now:
            return []
        self._online_at = None
        out: list[Change] = []
        pending, self._suppressed = self._suppressed, {}
        for _, outage in sorted(pending.items()):
            self._stale.add(outage.service)
            if outage.service in self._groups:
                out += self._observed(outage, now)
        return out

    # -- views ---------------------------------------------------------------------------------

    def incidents(self) -> list[Incident]:
        """Incidents still in memory (open, or resolved and still linkable), oldest first."""
        return sorted((t.inc for t in self._current.values()), key=_order)

    def campaigns(self) -> list[Campaign]:
        """Open campaigns."""
        return self._book.open()

    def boosts(self, now: datetime) -> dict[str, datetime]:
        """Services whose checks should run at boost_interval, and until when."""
        return {s: u for s, u in sorted(self._boosts.items()) if u > now}

    @property
    def offline(self) -> bool:
        """Whether the vantage is offline now."""
        return self._offline

    def gaps(self) -> list[Gap]:
        """Closed offline gaps, plus the open one."""
        return [*self._gaps, *([self._gap] if self._gap else [])]

    # -- incident mechanics --------------------------------------------------------------------

    def _new_track(self, svc: str, start: datetime) -> _Track:
        inc = Incident(
            id=self._ids.next(start),
            service=svc,
            group=self._groups.get(svc, "other"),
            started_at=start,
        )
        track = _Track(inc)
        self._current[svc] = track
        return track

    def _attach(self, track: _Track, outage: Outage) -> None:
        track.open_outage = outage
        track.up_since = None
        start = outage.started_at
        track.observed_since = min(track.observed_since or start, start)
        track.inc = replace(
            track.inc,
            observed=True,
            outages=(*track.inc.outages, outage.id),
            started_at=min(track.inc.started_at, start),
        )
        self._refresh_evidence(track)

    def _refresh_evidence(self, track: _Track) -> None:
        sig = Counter(track.closed_sig)
        if track.open_outage is not None:
            sig.update(track.open_outage.signature)
            track.inc = replace(track.inc, failing_checks=tuple(track.open_outage.failing_checks))
        track.inc = replace(track.inc, signature=dict(sorted(sig.items())))

    def _opened(self, track: _Track, at: datetime) -> list[Change]:
        if self._disputed(track):
            self._raise(track, "cause_disputed", at)
        inc = track.inc
        lag = self._lag(track) if inc.confirmed else None
        member = Member(inc.id, inc.service, inc.group, inc.started_at)
        cc = self._book.opened(member, at)
        if cc is not None:
            track.inc = replace(track.inc, campaign=cc.campaign.id)
        out = [Change("incident_opened", at, incident=track.inc, announcement_lag=lag)]
        if cc is not None:
            out.extend(self._campaign_changes(cc, at, skip=inc.id))
        return out

    def _campaign_changes(self, cc: CampaignChange, at: datetime, skip: str = "") -> list[Change]:
        out = [Change(cc.kind, at, campaign=cc.campaign)]
        until = at + self._boost_for
        if cc.kind in ("campaign_opened", "campaign_updated") and (
            self._all_boosted is None or until > self._all_boosted
        ):
            for svc in self._groups:  # a wave is on: probe everything harder
                self._boost(svc, until)
            self._all_boosted = until
        for iid in cc.tagged:
            track = self._track_by_id(iid, self._book.service_of(iid))
            if track is None:
                continue
            track.inc = replace(track.inc, campaign=cc.campaign.id)
            if iid != skip:
                out.append(Change("incident_updated", at, incident=track.inc))
        return out

    def _track_by_id(self, iid: str, svc: str | None) -> _Track | None:
        # an incident's track is the current one of its service, if any (no scan of them all)
        track = self._current.get(svc) if svc is not None else None
        if track is not None and track.inc.id == iid:
            return track
        if svc is not None:
            return None
        return next((t for t in self._current.values() if t.inc.id == iid), None)

    def _announce(self, svc: str, h: _Heard, at: datetime) -> list[Change]:
        track = self._current.get(svc)
        self._forget(svc, h.key)
        if track is not None and h.key in track.heard:
            return self._link_new(track, h, at)  # an edit: the new claim replaces the old
        if track is not None and self._linkable(track, h.published_at):
            return self._link_new(track, h, at)
        if h.kind in _CLAIM:
            track = self._new_track(svc, h.published_at)
            self._link_heard(track)
            self._link(track, h)
            return self._opened(track, at)
        self._heard.setdefault(svc, []).append(h)
        return []

    def _forget(self, svc: str, key: str) -> None:
        heard = [x for x in self._heard.get(svc, []) if x.key != key]
        if heard:
            self._heard[svc] = heard
        else:
            self._heard.pop(svc, None)

    def _unsay(self, svc: str, key: str, at: datetime) -> list[Change]:
        """An announcement no longer claims anything live about svc (edited or deleted)."""
        self._forget(svc, key)
        track = self._current.get(svc)
        if track is None or key not in track.heard:
            return []
        del track.heard[key]
        track.inc = replace(track.inc, withdrawn=(*track.inc.withdrawn, key))
        self._recount(track)
        inc = track.inc
        out = [self._changed("incident_updated", track, at)]
        if inc.status == "open" and not inc.observed and not inc.announced:
            # nothing else supports it: close it, and keep in its history what was withdrawn
            out.extend(self._resolve(track, at, at))
        return out

    def _linkable(self, track: _Track, when: datetime) -> bool:
        inc = track.inc
        if when < inc.started_at - self._before:
            return False
        return inc.status == "open" or (
            inc.ended_at is not None and when <= inc.ended_at + self._after
        )

    def _link_new(self, track: _Track, h: _Heard, at: datetime) -> list[Change]:
        was_confirmed = track.inc.confirmed
        self._link(track, h)
        raised: tuple[Flag, ...] = ()
        cleared: tuple[Flag, ...] = ()
        if track.inc.announced:
            cleared = self._clear(track, "observed_not_announced")
        resolve = False
        if h.kind == "restored" and track.inc.status == "open":
            # a restoration speaks only for the services it names: this one
            if self._status.get(track.inc.service) == "down":
                raised = self._raise(track, "restored_claim_while_down", at)
            elif not track.inc.observed:
                resolve = True
        out = [self._changed("incident_updated", track, at, raised, cleared, was_confirmed)]
        if resolve:
            out.extend(self._resolve(track, h.published_at, at))
        elif track.inc.status == "open" and not track.inc.observed and not track.inc.announced:
            out.extend(self._resolve(track, at, at))  # an attack edited into an advisory
        return out

    def _link(self, track: _Track, h: _Heard) -> None:
        track.heard[h.key] = h
        self._recount(track)

    def _recount(self, track: _Track) -> None:
        """Announced, first notice, claim times and cause, from the linked claims."""
        heard = sorted(track.heard.values(), key=lambda x: (x.published_at, x.key))
        claims = [x.published_at for x in heard if x.kind in _CLAIM]
        track.first_claim_at = min(claims, default=None)
        track.last_claim_at = max(claims, default=None)
        kinds = {x.kind for x in heard}
        cause: Cause = "unknown"
        if "attack" in kinds:
            cause = "attack"
        elif any(x.cause == "technical" for x in heard):
            cause = "technical"
        track.inc = replace(
            track.inc,
            announcements={x.key: x.kind for x in heard},
            announced=bool(claims),
            first_notice_at=track.first_claim_at,
            cause=cause,
        )

    def _link_heard(self, track: _Track) -> None:
        """Link what was heard about the service from window_before before the start; a
        restoration heard before the outage began is about an earlier one, never this."""
        svc = track.inc.service
        since = track.inc.started_at - self._before
        keep = []
        for h in self._heard.pop(svc, []):
            if h.published_at >= since and (
                h.kind != "restored" or h.published_at >= track.inc.started_at
            ):
                self._link(track, h)
            elif h.published_at > since - self._before:
                keep.append(h)  # maybe still within the window of a backdated start
        if keep:
            self._heard[svc] = keep

    def _lag(self, track: _Track) -> float | None:
        first, start = track.inc.first_notice_at, track.observed_since
        if first is None or start is None:
            return None
        return max(0.0, (first - start).total_seconds())  # a notice before the outage counts 0

    def _changed(
        self,
        kind: ChangeKind,
        track: _Track,
        at: datetime,
        raised: tuple[Flag, ...] = (),
        cleared: tuple[Flag, ...] = (),
        was: bool = True,
    ) -> Change:
        lag = self._lag(track) if track.inc.confirmed and not was else None
        if self._disputed(track):
            raised = (*raised, *self._raise(track, "cause_disputed", at))
        else:
            cleared = (*cleared, *self._clear(track, "cause_disputed"))
        return Change(
            kind,
            at,
            incident=track.inc,
            flags_raised=raised,
            flags_cleared=cleared,
            announcement_lag=lag,
        )

    @staticmethod
    def _disputed(track: _Track) -> bool:
        """An official "technical failure" or "not an attack" against DDoS-shaped failures; an
        attack claim with refused connections is no dispute (servers are taken offline on
        purpose)."""
        return track.inc.cause == "technical" and volumetric(track.inc.signature)

    def _raise(self, track: _Track, flag: Flag, at: datetime) -> tuple[Flag, ...]:
        if flag in track.inc.flags:
            return ()
        flags_at = {**track.inc.flags_at, flag: at}
        track.inc = replace(track.inc, flags=(*track.inc.flags, flag), flags_at=flags_at)
        return (flag,)

    def _clear(self, track: _Track, flag: Flag) -> tuple[Flag, ...]:
        if flag not in track.inc.flags:
            return ()
        flags = tuple(f for f in track.inc.flags if f != flag)
        flags_at = {f: t for f, t in track.inc.flags_at.items() if f != flag}
        track.inc = replace(track.inc, flags=flags, flags_at=flags_at)
        return (flag,)

    def _due(self, track: _Track, now: datetime) -> list[Change]:
        inc = track.inc
        up, claim = track.up_since, track.last_claim_at
        if inc.observed and track.open_outage is None and up and up + self._quiet <= now:
            return self._resolve(track, up, now)
        if not inc.observed and claim and claim + self._after <= now:
            return self._resolve(track, claim + self._after, now)
        flag = self._flag_due(track, now)
        if flag is None:
            return []
        return [self._changed("incident_updated", track, now, self._raise(track, flag, now))]

    def _flag_due(self, track: _Track, now: datetime) -> Flag | None:
        inc, outage = track.inc, track.open_outage
        if (
            not inc.announced
            and outage is not None
            and outage.started_at + self._grace <= now
            and "observed_not_announced" not in inc.flags
        ):
            return "observed_not_announced"
        if (
            not inc.observed
            and track.first_claim_at is not None
            and track.first_claim_at + self._grace <= now
            and self._status.get(inc.service) == "up"
            and "announced_not_observed" not in inc.flags
        ):
            return "announced_not_observed"
        return None

    def _resolve(self, track: _Track, ended: datetime, at: datetime) -> list[Change]:
        track.inc = replace(track.inc, status="resolved", ended_at=ended)
        out = [Change("incident_resolved", at, incident=track.inc)]
        cc = self._book.resolved(track.inc.id, ended)
        if cc is not None:
            out.extend(self._campaign_changes(cc, at))
        return out

    def _withdraw_since(
        self, since: datetime, at: datetime
    ) -> tuple[list[Change], tuple[str, ...]]:
        """Withdraw what was observed since the vantage did go dark: observed-only incidents
        whole, announced ones back to announced-only; (changes, the outages withdrawn)."""
        out: list[Change] = []
        outages: list[str] = []
        for svc in sorted(self._current):
            track = self._current[svc]
            inc = track.inc
            if inc.status != "open" or track.observed_since is None:
                continue
            if track.observed_since < since:
                continue
            if track.open_outage is not None:
                self._suppressed[track.open_outage.id] = track.open_outage
            outages += inc.outages
            if inc.announced:
                out.append(self._unobserve(track, at))
                continue
            del self._current[svc]
            out.append(Change("incident_withdrawn", at, incident=inc))
            cc = self._book.withdrawn(inc.id)
            if cc is not None:
                out.extend(self._campaign_changes(cc, at))
        return out, tuple(outages)

    def _unobserve(self, track: _Track, at: datetime) -> Change:
        """The observation was the vantage's own: the incident is announced-only again."""
        track.open_outage = None
        track.observed_since = track.up_since = None
        track.closed_sig = Counter()
        track.inc = replace(
            track.inc,
            observed=False,
            outages=(),
            signature={},
            failing_checks=(),
            started_at=track.inc.first_notice_at or track.inc.started_at,
        )
        return self._changed(
            "incident_updated", track, at, self._raise(track, "announced_not_observed", at)
        )

    def _boost(self, svc: str, until: datetime) -> None:
        if until > self._boosts.get(svc, until - timedelta(seconds=1)):
            self._boosts[svc] = until

    # -- restart safety --------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """Everything needed to resume after a restart, as plain JSON-ready data."""
        return {
            "version": 1,
            "current": {s: _track_dict(t) for s, t in sorted(self._current.items())},
            "heard": {s: [_heard_list(h) for h in hs] for s, hs in sorted(self._heard.items())},
            "said": {
                k: [when.isoformat(), {s: list(v) for s, v in says.items()}]
                for k, (when, says) in sorted(self._said.items())
            },
            "status": dict(self._status),
            "campaigns": self._book.snapshot(),
            "offline": self._offline,
            "gap": _gap_dict(self._gap),
            "suppressed": [outage_dict(o) for _, o in sorted(self._suppressed.items())],
            "online_at": iso(self._online_at),
            "boosts": {s: u.isoformat() for s, u in sorted(self._boosts.items())},
            "ids": self._ids.snapshot(),
        }

    def restore(self, snap: Mapping[str, Any]) -> int:
        """Resume from snapshot(); replaces the current memory; returns how many parts it dropped.

        A part holding a time no window can be added to (year 9999, year 1: written before such
        times were bounded at the border) is dropped; a malformed snapshot raises ValueError
        and leaves the memory as it was.
        """
        try:
            parts = _parts(snap)
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
            raise ValueError(
                f"unreadable correlator snapshot: {type(exc).__name__}: {exc}"
            ) from None
        current, heard, gap, suppressed, online_at, boosts, said = parts
        dropped = 0
        for svc, track in list(current.items()):
            if not all_usable(track):
                dropped += 1
                del current[svc]
        for svc, hs in list(heard.items()):
            kept = [h for h in hs if usable(h.published_at)]
            dropped += len(hs) - len(kept)
            heard[svc] = kept
            if not kept:
                del heard[svc]
        self._dirty = True
        self._current, self._heard = current, heard
        self._said = {k: v for k, v in said.items() if usable(v[0])}
        self._status = dict(snap.get("status") or {})
        dropped += self._book.restore(snap.get("campaigns") or {})
        self._offline = bool(snap.get("offline"))
        self._gap = gap if all_usable(gap) else None
        self._suppressed = {o.id: o for o in suppressed if o is not None and all_usable(o)}
        self._online_at = online_at if usable(online_at) else None
        self._boosts = {s: u for s, u in boosts.items() if usable(u)}
        self._all_boosted = None
        self._rescan = True
        self._ids.restore(snap.get("ids"))
        return dropped

    def reserve_ids(self, ids: Iterable[str]) -> None:
        """Ids already stored (incidents and campaigns): never hand them out again."""
        taken = list(ids)
        self._ids.reserve(taken)
        self._book.ids.reserve(taken)


def _parts(snap: Mapping[str, Any]) -> tuple[Any, ...]:
    """The parsed parts of a snapshot (raises on anything malformed)."""
    current = {s: _track_from(d) for s, d in (snap.get("current") or {}).items()}
    heard = {s: [_heard_from(h) for h in hs] for s, hs in (snap.get("heard") or {}).items()}
    suppressed = [outage_from(d) for d in snap.get("suppressed") or ()]
    boosts = {s: datetime.fromisoformat(u) for s, u in (snap.get("boosts") or {}).items()}
    gap = _gap_from(snap.get("gap"))
    said = _said_from(snap.get("said") or {})
    return current, heard, gap, suppressed, dt(snap.get("online_at")), boosts, said


def _said_from(rows: Mapping[str, Any]) -> dict[str, tuple[datetime, _Said]]:
    return {
        k: (datetime.fromisoformat(when), {s: (v[0], v[1]) for s, v in says.items()})
        for k, (when, says) in rows.items()
    }


def _live(ann: Announcement, groups: Mapping[str, str]) -> _Said:
    """The live claim the announcement makes about each configured service."""
    out: _Said = {}
    for claim in ann.claims:
        if not claim.live or claim.service not in groups or claim.kind not in _LINKED:
            continue
        had = out.get(claim.service)
        if had is None or _WINS.index(claim.kind) < _WINS.index(had[0]):
            out[claim.service] = (claim.kind, claim.cause)
    return out


# one notice, one service: the classifier's own order (good news is news that it is over)
_WINS: tuple[AnnouncementKind, ...] = ("restored", "attack", "outage", "advisory")


def _heard_list(h: _Heard) -> list[str]:
    return [h.published_at.isoformat(), h.key, h.kind, h.cause]


def _heard_from(row: list[str]) -> _Heard:
    when, key, kind, *rest = row
    return _Heard(datetime.fromisoformat(when), key, kind, rest[0] if rest else "unknown")  # type: ignore[arg-type]


def _order(i: Incident) -> tuple[datetime, str]:
    return (i.started_at, i.service)


def _track_dict(t: _Track) -> dict[str, Any]:
    return {
        "incident": incident_dict(t.inc),
        "open_outage": outage_dict(t.open_outage),
        "closed_sig": dict(t.closed_sig),
        "observed_since": iso(t.observed_since),
        "up_since": iso(t.up_since),
        "first_claim_at": iso(t.first_claim_at),
        "last_claim_at": iso(t.last_claim_at),
        "heard": [_heard_list(h) for h in t.heard.values()],
    }


def _track_from(d: Mapping[str, Any]) -> _Track:
    inc = incident_from(d["incident"])
    rows = d.get("heard")
    if rows is None:  # a snapshot from before claims: the links as they were
        when = inc.first_notice_at or inc.started_at
        heard = [_Heard(when, k, kind) for k, kind in inc.announcements.items()]
    else:
        heard = [_heard_from(r) for r in rows]
    return _Track(
        inc=inc,
        heard={h.key: h for h in heard},
        open_outage=outage_from(d.get("open_outage")),
        closed_sig=Counter(d.get("closed_sig") or {}),
        observed_since=dt(d.get("observed_since")),
        up_since=dt(d.get("up_since")),
        first_claim_at=dt(d.get("first_claim_at")),
        last_claim_at=dt(d.get("last_claim_at")),
    )


def _gap_dict(g: Gap | None) -> dict[str, Any] | None:
    if g is None:
        return None
    return {
        "started_at": g.started_at.isoformat(),
        "ended_at": iso(g.ended_at),
        "outages": list(g.outages),
    }


def _gap_from(d: Mapping[str, Any] | None) -> Gap | None:
    if not d:
        return None
    return Gap(
        started_at=datetime.fromisoformat(d["started_at"]),
        ended_at=dt(d.get("ended_at")),
        outages=tuple(d.get("outages") or ()),
    )
