"""A wave of hundreds of services: the indexed correlator decides exactly as a scan of all did."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from monitor.config import Correlation
from monitor.core.base import Announcement, Classification, Message, Outage
from monitor.core.campaigns import CampaignBook, CampaignChange, Member, _campaign
from monitor.core.correlate import Correlator
from monitor.core.incidents import Campaign, Change

T0 = datetime(2022, 2, 24, 4, 0, tzinfo=UTC)
CFG = Correlation()  # 30m campaign window, 3 services, 30m boost


class ScanAll(Correlator):
    """The former decisions: every tick looks at every incident, every wave step boosts all."""

    def _due_by(self, now: datetime) -> list[str]:
        return sorted(self._current)

    @property  # type: ignore[override]
    def _all_boosted(self) -> None:
        return None

    @_all_boosted.setter
    def _all_boosted(self, value: datetime | None) -> None:
        pass


def services(n: int) -> dict[str, str]:
    """PrivatBank, Oschadbank, the MoD and the Armed Forces, and n - 4 more."""
    named = {"privatbank": "bank", "oschadbank": "bank", "mod": "government", "zsu": "government"}
    return {**named, **{f"s{i:03d}": f"g{i % 7}" for i in range(n - len(named))}}


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def wave(c: Correlator, names: list[str], start: float = 0) -> list[Change]:
    """All go down within a minute: status, outage opened, evidence, as a round feeds them."""
    out: list[Change] = []
    for i, svc in enumerate(names):
        when = at(start + 60 * i // len(names))
        o = Outage(svc, when, signature={"timeout": 3}, failing_checks=("http:x",))
        out += c.status(svc, "down", when) + c.outage_opened(o, when) + c.outage_updated(o, when)
    return out


def notice(c: Correlator, mid: str, kind: str, svcs: tuple[str, ...], s: float) -> list[Change]:
    msg = Message("dsszzi", mid, at(s), "text")
    return c.announcement(Announcement(msg, Classification(kind, svcs)), at(s))  # type: ignore[arg-type]


def recover(c: Correlator, names: list[str], end: float, start: float = 0) -> list[Change]:
    out: list[Change] = []
    for i, svc in enumerate(names):
        o = Outage(svc, at(start + 60 * i // len(names)), ended_at=at(end), signature={"http": 1})
        out += c.status(svc, "up", at(end)) + c.outage_closed(o, at(end))
    return out


def plain(c: Correlator, names: list[str]) -> list[Change]:
    return wave(c, names) + c.tick(at(3600))


def announced(c: Correlator, names: list[str]) -> list[Change]:
    out = notice(c, "1", "attack", ("privatbank", "oschadbank", "mod", "zsu"), -600)
    out += wave(c, names) + notice(c, "2", "outage", tuple(names[4:40]), 300)
    out += recover(c, names, 1200) + notice(c, "2", "restored", tuple(names[4:40]), 1300)
    return out + c.tick(at(3 * 3600)) + c.tick(at(9 * 3600))


def offline(c: Correlator, names: list[str]) -> list[Change]:
    out = wave(c, names[:250]) + c.vantage(True, at(90), at(30)) + wave(c, names[250:], 100)
    out += c.vantage(False, at(200)) + c.tick(at(200 + 15 * 60))
    return out + recover(c, names, 3000) + c.tick(at(3000 + 16 * 60))


def shrink(c: Correlator, names: list[str]) -> list[Change]:
    out = wave(c, names) + notice(c, "3", "attack", ("mod",), 120)
    half = {s: g for s, g in services(len(names)).items() if s in names[::2]}
    out += c.reconfigure(half, at(600)) + c.tick(at(2400))
    return out + recover(c, names[::2], 2500) + c.tick(at(2500 + 15 * 60))


Scenario = Callable[[Correlator, list[str]], list[Change]]


@pytest.mark.parametrize("scenario", [plain, announced, offline, shrink])
def test_a_500_service_wave_decides_as_the_scan_of_all_did(scenario: Scenario) -> None:
    new, old = Correlator(CFG, services(500), "kyiv-1"), ScanAll(CFG, services(500), "kyiv-1")
    names = sorted(services(500))
    assert scenario(new, names) == scenario(old, names)
    assert new.incidents() == old.incidents()
    assert new.campaigns() == old.campaigns()
    assert new.snapshot() == old.snapshot()
    for s in (60, 1800, 3600):
        assert new.boosts(at(s)) == old.boosts(at(s))


def test_the_founding_wave_is_one_campaign_and_boosts_every_service() -> None:
    c = Correlator(CFG, services(500), "kyiv-1")
    changes = wave(c, sorted(services(500)))
    (campaign,) = c.campaigns()
    assert {"privatbank", "oschadbank", "mod", "zsu"} <= set(campaign.services)
    assert len(campaign.incidents) == 500 == len(c.incidents())
    assert {i.campaign for i in c.incidents()} == {campaign.id}
    assert [x.kind for x in changes].count("campaign_opened") == 1
    # boosted until boost_for after the last instant the campaign grew
    assert set(c.boosts(at(59)).values()) == {at(59) + timedelta(seconds=CFG.boost_for)}
    assert len(c.boosts(at(59))) == 500


def test_a_restored_memory_decides_as_the_scan_of_all_did() -> None:
    names = sorted(services(500))
    first = Correlator(CFG, services(500), "kyiv-1")
    wave(first, names)
    new, old = Correlator(CFG, services(500), "kyiv-1"), ScanAll(CFG, services(500), "kyiv-1")
    new.restore(first.snapshot())
    old.restore(first.snapshot())
    rest = [*recover(new, names, 1200), *new.tick(at(1200 + 15 * 60))]
    assert rest == [*recover(old, names, 1200), *old.tick(at(1200 + 15 * 60))]
    assert new.snapshot() == old.snapshot()


class RebuildBook(CampaignBook):
    """The former book: a join re-sorts every member, the last start is a scan of them."""

    def _join(self, c: Campaign, m: Member) -> CampaignChange:
        self._members[m.incident] = m
        new = _campaign(c.id, [self._members[i] for i in (*c.incidents, m.incident)])
        self._open[c.id] = new
        return CampaignChange("campaign_updated", new, (m.incident,))

    def _last_start(self, c: Campaign) -> datetime:
        return max(self._members[i].started_at for i in c.incidents)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_campaign_book_decides_as_the_rebuilding_one_did(seed: int) -> None:
    """Starts out of order, equal, a service twice; withdrawals, resolutions, a restore."""
    rnd = random.Random(seed)
    new, old = CampaignBook(1800, 3), RebuildBook(1800, 3)
    opened: list[str] = []
    for n in range(400):
        now = at(20 * n + 7200 * (n // 60))  # a quiet two hours every 60 starts
        m = Member(
            f"INC-{n}",
            f"s{rnd.randrange(150)}",
            f"g{n % 5}",
            now - timedelta(minutes=10 * rnd.randrange(3)),
        )
        ops: list[Callable[[CampaignBook], object]] = [lambda b, m=m, now=now: b.opened(m, now)]
        opened.append(m.incident)
        if n % 7 == 3:
            gone = rnd.choice(opened)
            ops.append(lambda b, gone=gone: b.withdrawn(gone))
        if n % 5 == 1:
            done = rnd.choice(opened)
            ops.append(lambda b, done=done, now=now: b.resolved(done, now))
        if n == 200:
            snap = new.snapshot()
            ops.append(lambda b, snap=snap: b.restore(snap))
        for op in ops:
            assert op(new) == op(old)
        assert new.open() == old.open()
    assert new.snapshot() == old.snapshot()
