"""Incidents and campaigns persist, filter, and resume after a restart without duplicates."""

from __future__ import annotations

from pathlib import Path

from monitor.config import Correlation
from monitor.core.base import Announcement, Classification, Message, Outage
from monitor.core.correlate import Correlator
from monitor.core.incidents import Change
from monitor.store import incidents as ist
from monitor.store.db import Store
from tests.monitor.core.test_correlate import SERVICES, t


def _wave(corr: Correlator) -> list[Change]:
    out: list[Change] = []
    for i, svc in enumerate(("privatbank", "oschadbank", "mod")):
        sig = {"timeout": 4, "http_status": 2}
        out += corr.outage_opened(
            Outage(svc, t(i * 5), signature=sig, failing_checks=("h",)), t(i * 5)
        )
    msg = Message("dsszzi", "7", t(12), "DDoS")
    out += corr.announcement(Announcement(msg, Classification("attack", ("privatbank",))), t(12))
    return out


def test_store_round_trip_and_filters(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "o.db"))
    corr = Correlator(Correlation(), SERVICES, "kyiv-1")
    changes = _wave(corr)
    closed = Outage("mod", t(10), ended_at=t(20), signature={"timeout": 9})
    changes += corr.outage_closed(closed, t(20)) + corr.tick(t(40))
    store.run_sync(lambda db: ist.apply_changes(db, changes))

    rows = store.run_sync(lambda db: ist.list_incidents(db))
    assert [r["service"] for r in rows] == ["mod", "oschadbank", "privatbank"]
    assert store.run_sync(
        lambda db: [r["id"] for r in ist.list_incidents(db, status="resolved")]
    ) == [f"mod@{t(10).isoformat()}"]
    assert [
        r["service"]
        for r in store.run_sync(lambda db: ist.list_incidents(db, service="privatbank"))
    ] == ["privatbank"]
    assert len(store.run_sync(lambda db: ist.list_incidents(db, since=t(30)))) == 2
    one = store.run_sync(lambda db: ist.get_incident(db, f"privatbank@{t(0).isoformat()}"))
    assert one is not None
    assert one["confirmed"] is True and one["announcements"] == {"dsszzi/7": "attack"}
    assert one["evidence"]["shares"] == {"http_status": 0.333, "timeout": 0.667}
    assert one["evidence"]["hints"] == ["timeouts+5xx surge: likely volumetric/DDoS"]
    assert one["campaign"] == f"campaign@{t(0).isoformat()}"
    assert store.run_sync(lambda db: ist.get_incident(db, "nope@x")) is None
    (camp,) = store.run_sync(lambda db: ist.list_campaigns(db))
    assert camp["services"] == ["privatbank", "oschadbank", "mod"] and camp["status"] == "open"
    store.close()


def test_restart_resumes_without_duplicates(tmp_path: Path) -> None:
    path = str(tmp_path / "o.db")
    store = Store(path)
    corr = Correlator(Correlation(), SERVICES, "kyiv-1")
    changes = _wave(corr)

    def persist(db, ch=changes, c=corr):  # type: ignore[no-untyped-def]
        ist.apply_changes(db, ch)
        ist.save_snapshot(db, c)

    store.run_sync(persist)
    store.close()

    store = Store(path)
    again = Correlator(Correlation(), SERVICES, "kyiv-1")
    assert store.run_sync(lambda db: ist.load_snapshot(db, again))
    # the daemon's state machine resumes too, so the same outage may be offered again
    more = again.outage_opened(Outage("privatbank", t(0)), t(30))
    more += again.outage_opened(Outage("zsu", t(20)), t(20))
    store.run_sync(lambda db: ist.apply_changes(db, more))
    rows = store.run_sync(lambda db: ist.list_incidents(db))
    assert sorted(r["service"] for r in rows) == ["mod", "oschadbank", "privatbank", "zsu"]
    assert [c.services for c in again.campaigns()] == [("privatbank", "oschadbank", "mod", "zsu")]
    (camp,) = store.run_sync(lambda db: ist.list_campaigns(db))
    assert len(camp["incidents"]) == 4
    store.close()
    fresh = Correlator(Correlation(), SERVICES, "kyiv-1")
    empty = Store(str(tmp_path / "empty.db"))
    assert not empty.run_sync(lambda db: ist.load_snapshot(db, fresh))
    empty.close()
