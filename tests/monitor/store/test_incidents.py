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
    ) == ["INC-20220215-003"]
    assert [
        r["service"]
        for r in store.run_sync(lambda db: ist.list_incidents(db, service="privatbank"))
    ] == ["privatbank"]
    assert len(store.run_sync(lambda db: ist.list_incidents(db, since=t(30)))) == 2
    one = store.run_sync(lambda db: ist.get_incident(db, "INC-20220215-001"))
    assert one is not None
    assert one["confirmed"] is True and one["announcements"] == {"dsszzi/7": "attack"}
    assert one["evidence"]["shares"] == {"http_status": 0.333, "timeout": 0.667}
    assert one["evidence"]["hints"] == ["timeouts+5xx surge: likely volumetric/DDoS"]
    assert one["campaign"] == "CMP-20220215-01"
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


def _ids(store: Store) -> list[str]:
    def q(db):  # type: ignore[no-untyped-def]
        return [
            r[0] for r in db.execute("SELECT id FROM incidents UNION ALL SELECT id FROM campaigns")
        ]

    return store.run_sync(q)


def _episode(corr: Correlator, svc: str, minutes: float) -> list[Change]:
    """One short outage of `svc`, opened and resolved."""
    o = Outage(svc, t(minutes), signature={"timeout": 1})
    out = corr.outage_opened(o, t(minutes))
    closed = Outage(svc, t(minutes), ended_at=t(minutes + 1), signature={"timeout": 1})
    return out + corr.outage_closed(closed, t(minutes + 1)) + corr.tick(t(minutes + 400))


def test_ids_unique_and_sortable_across_restarts(tmp_path: Path) -> None:
    """Ids stay unique and sort in start order across restarts, even with the snapshot lost."""
    path = str(tmp_path / "o.db")
    starts = [0, 500, 1000, 1500, 2000, 2500]
    for n, minutes in enumerate(starts):
        store = Store(path)
        corr = Correlator(Correlation(), SERVICES, "kyiv-1")
        store.run_sync(lambda db, c=corr: ist.load_snapshot(db, c))
        changes = _episode(corr, "mod", minutes)

        def persist(db, ch=changes, c=corr, keep=n % 2 == 0):  # type: ignore[no-untyped-def]
            ist.apply_changes(db, ch)
            if keep:  # every other run loses its snapshot: the stored ids must still count
                ist.save_snapshot(db, c)
            else:
                db.execute("DELETE FROM state WHERE key = ?", [ist.SNAPSHOT_KEY])

        store.run_sync(persist)
        store.close()
    store = Store(path)
    rows = store.run_sync(lambda db: ist.list_incidents(db))
    store.close()
    ids = [r["id"] for r in sorted(rows, key=lambda r: r["started_at"])]
    assert len(set(ids)) == len(starts)
    assert ids == sorted(ids)
    # 12:00 on the 15th, then 20:20, then into the 16th
    assert ids[:2] == ["INC-20220215-001", "INC-20220215-002"]
    assert ids[2].startswith("INC-20220216-")


def test_replay_of_the_same_input_names_the_same(tmp_path: Path) -> None:
    """Ids come from the input alone: two fresh correlators fed the same name everything alike."""
    first = [c.incident.id for c in _wave(Correlator(Correlation(), SERVICES, "k")) if c.incident]
    second = [c.incident.id for c in _wave(Correlator(Correlation(), SERVICES, "k")) if c.incident]
    assert first == second and first[0] == "INC-20220215-001"


def test_old_ids_still_found(tmp_path: Path) -> None:
    """Rows stored before sayable ids keep their `<service>@<iso>` ids, and the API finds them."""
    store = Store(str(tmp_path / "o.db"))
    corr = Correlator(Correlation(), SERVICES, "kyiv-1")
    changes = _wave(corr)
    old = f"privatbank@{t(0).isoformat()}"

    def rename(db):  # type: ignore[no-untyped-def]
        ist.apply_changes(db, changes)
        db.execute("UPDATE incidents SET id = ? WHERE id = 'INC-20220215-001'", [old])

    store.run_sync(rename)
    one = store.run_sync(lambda db: ist.get_incident(db, old))
    assert one is not None and one["service"] == "privatbank"
    fresh = Correlator(Correlation(), SERVICES, "kyiv-1")
    store.run_sync(lambda db: ist.load_snapshot(db, fresh))
    assert set(_ids(store)) >= {old, "INC-20220215-002", "CMP-20220215-01"}
    store.close()
