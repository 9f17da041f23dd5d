"""The decider sends the alerts not about services (sources, vantages offline, certificates) once
for the fleet, from what each live instance publishes; against a real PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest

from monitor import config
from monitor.config import Config
from monitor.core.alertrules import CertFacts, SourceFacts
from monitor.core.base import SystemClock
from monitor.core.fleet import facts_dict
from monitor.runtime.dbcalls import Calls
from monitor.runtime.decider import Decider
from monitor.store import fleet as q
from monitor.store import pg
from tests.monitor.runtime.fleet_helpers import Hook


def fleet_config(dsn: str, hook: Hook, tmp: Path, route: str = "", service: str = "bank") -> Config:
    text = f"""vantage: {{name: kyiv}}
storage: {{path: ./kyiv.db, url: "{dsn}"}}
fleet: {{quorum: 2, spool_path: ./kyiv.spool, stale_after: 30s}}
alerts:
  route: {{receiver: hook, group_wait: 0s, group_interval: 0s{route}}}
  receivers:
    - {{name: hook, kind: webhook, url: "http://127.0.0.1:{hook.port}/"}}
    - {{name: quiet, kind: webhook, url: "http://127.0.0.1:{hook.port}/", send_resolved: false}}
services:
  - name: {service}
    checks: [{{kind: http, url: "http://127.0.0.1:9/", id: web}}]
"""
    return config.parse(text, str(tmp / "kyiv.yaml"), tmp)


@pytest.fixture
async def hook() -> AsyncIterator[Hook]:
    h = Hook()
    await h.start()
    yield h
    await h.stop()


async def publish(
    dsn: str, instance: str, vantage: str, offline: datetime | None, **facts: object
) -> None:
    """What an instance's sync loop writes: its heartbeat with its facts."""
    conn = await pg.connect(dsn, instance)
    try:
        await pg.migrate(conn)
        now = datetime.now(UTC)
        await q.heartbeat(
            conn,
            instance,
            vantage,
            offline,
            now,
            facts_dict(
                facts.get("sources", ()),  # type: ignore[arg-type]
                facts.get("certs", ()),  # type: ignore[arg-type]
            ),
        )
    finally:
        await conn.close()


async def rounds(decider: Decider, n: int) -> None:
    """`n` decision rounds (each decides, then sends what is due)."""
    if decider.session is None:
        decider.session = aiohttp.ClientSession()
    for _ in range(n):
        await decider.step()
    assert decider.is_decider


async def test_source_vantage_and_cert_alerts_fire_once_for_the_fleet(
    pg_dsn: str, hook: Hook, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    long_ago = now - timedelta(hours=1)
    cert = CertFacts("bank", "bank", "tls", now + timedelta(days=5), 14 * 86400.0)
    earlier = CertFacts("bank", "bank", "tls", now + timedelta(days=3), 14 * 86400.0)
    down = SourceFacts("bank_official", "telegram", False, long_ago, long_ago, None)
    quiet = SourceFacts("feeds", "feed", True, long_ago, None, 600.0)
    fine = SourceFacts("bank_official", "telegram", True, now, None, None)
    # kyiv's two instances both find their canaries failing: the vantage is offline
    await publish(pg_dsn, "kyiv-0", "kyiv", long_ago, sources=[down], certs=[cert])
    await publish(pg_dsn, "kyiv-1", "kyiv", now, certs=[earlier])
    # lviv is online and sees the same certificate; one of its sources is silent
    await publish(pg_dsn, "lviv-0", "lviv", None, sources=[fine, quiet], certs=[cert])
    # odesa: one instance offline, the other not, so the vantage is not offline
    await publish(pg_dsn, "odesa-0", "odesa", long_ago)
    await publish(pg_dsn, "odesa-1", "odesa", None)

    cfg = fleet_config(pg_dsn, hook, tmp_path)
    decider = Decider(cfg, SystemClock(), pg_dsn, "kyiv-0", Calls())

    def sent() -> list[dict[str, object]]:
        return [a for p in hook.posts for a in p["alerts"]]

    try:
        await rounds(decider, 3)  # the first sends; the next two send nothing again
    finally:
        await decider.close()
    got = sorted(
        (a["labels"]["alertname"], a["labels"]["vantage"], a["labels"].get("instance", ""))  # type: ignore[index]
        for a in sent()
    )
    assert got == [
        ("cert_expiring", "fleet", ""),
        ("source_disconnected", "kyiv", "kyiv-0"),
        ("source_stale", "lviv", "lviv-0"),
        ("vantage_offline", "kyiv", ""),
    ]
    notes = {a["labels"]["alertname"]: a["annotations"] for a in sent()}  # type: ignore[index]
    assert notes["vantage_offline"]["instances"] == "kyiv-0,kyiv-1"  # type: ignore[index]
    # the earliest expiry any vantage saw, with the vantages that saw the certificate
    assert notes["cert_expiring"]["vantages"] == "kyiv,lviv"  # type: ignore[index]
    assert "expires in 3.0 days" in notes["cert_expiring"]["summary"]  # type: ignore[index]


async def test_alerts_of_one_group_due_in_one_round_go_out_together(
    pg_dsn: str, hook: Hook, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    long_ago = now - timedelta(hours=1)
    down = SourceFacts("bank_official", "telegram", False, long_ago, long_ago, None)
    cert = CertFacts("bank", "bank", "tls", now + timedelta(days=3), 14 * 86400.0)
    await publish(pg_dsn, "kyiv-0", "kyiv", None, sources=[down], certs=[cert])
    await publish(pg_dsn, "lviv-0", "lviv", None, sources=[down])
    # the group's alerts to two receivers; `quiet` does not want resolved ones
    route = ", group_by: [alertname], routes: [{receiver: hook, continue: true}, {receiver: quiet}]"
    decider = Decider(
        fleet_config(pg_dsn, hook, tmp_path, route), SystemClock(), pg_dsn, "kyiv-0", Calls()
    )

    def told(receiver: str = "hook") -> list[tuple[str, dict[str, str], list[str]]]:
        return [
            (
                p["status"],
                p["groupLabels"],
                sorted(a["labels"].get("instance", "") for a in p["alerts"]),
            )
            for p in hook.posts
            if p["receiver"] == receiver
        ]

    try:
        await rounds(decider, 2)
        assert sorted(told(), key=str) == [
            ("firing", {"alertname": "cert_expiring"}, [""]),
            ("firing", {"alertname": "source_disconnected"}, ["kyiv-0", "lviv-0"]),
        ]
        # both sources come back in the same round: one resolved notification for the group
        fine = SourceFacts("bank_official", "telegram", True, now, None, None)
        await publish(pg_dsn, "kyiv-0", "kyiv", None, sources=[fine], certs=[cert])
        await publish(pg_dsn, "lviv-0", "lviv", None, sources=[fine])
        await rounds(decider, 2)
        assert told()[2:] == [
            ("resolved", {"alertname": "source_disconnected"}, ["kyiv-0", "lviv-0"])
        ]
        assert [t[0] for t in told("quiet")] == ["firing", "firing"]
    finally:
        await decider.close()


async def test_a_reload_adds_a_service_at_the_next_round(
    pg_dsn: str, hook: Hook, tmp_path: Path
) -> None:
    """A service added by a reload is judged from the check states already published, and
    pages once the fleet sees it down; the one removed leaves the verdicts."""
    now = datetime.now(UTC)
    conn = await pg.connect(pg_dsn, "publisher")
    try:
        await pg.migrate(conn)
        for v in ("kyiv", "lviv"):
            await q.heartbeat(conn, f"{v}-0", v, None, now)
            await q.put_checks(
                conn,
                [
                    q.check_row(v, f"{v}-0", "bank", "web", "up", None, now, now),
                    q.check_row(v, f"{v}-0", "gov", "web", "down", "HTTP 503", now, now),
                ],
            )
    finally:
        await conn.close()
    cfg = fleet_config(pg_dsn, hook, tmp_path)
    decider = Decider(cfg, SystemClock(), pg_dsn, "kyiv-0", Calls())
    try:
        await rounds(decider, 1)
        assert {s: v.status for s, v in decider.verdicts.items()} == {"bank": "up"}
        decider.reconfigure(fleet_config(pg_dsn, hook, tmp_path, service="gov"))
        await rounds(decider, 2)
        assert {s: v.status for s, v in decider.verdicts.items()} == {"gov": "down"}
    finally:
        await decider.close()
    assert ("firing", "gov", "kyiv,lviv") in hook.alerts()
