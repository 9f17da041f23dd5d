"""Cut off, not lost: an instance behind a proxy the test controls, and PostgreSQL restarted."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from monitor.runtime.daemon import Daemon
from monitor.store import fleet as q
from monitor.store import pg
from tests.conftest import free_port
from tests.integration.helpers import Target, wait_for
from tests.monitor.runtime.fleet_helpers import SERVICES, Hook, config_text, start_daemon
from tests.postgres import PostgresServer
from tests.tcpproxy import TcpProxy


def rows(dsn: str, sql: str) -> list[tuple[object, ...]]:
    with psycopg.connect(dsn) as conn:
        return list(conn.execute(sql.encode()).fetchall())


class Two:
    """kyiv straight to the database, lviv through the proxy."""

    def __init__(self) -> None:
        self.targets = {v: {s: Target(free_port()) for s in SERVICES} for v in ("kyiv", "lviv")}
        self.canaries = {v: Target(free_port()) for v in ("kyiv", "lviv")}
        self.hook = Hook()
        self.daemons: dict[str, Daemon] = {}

    def servers(self) -> list[Target]:
        return [*self.canaries.values(), *(t for v in self.targets.values() for t in v.values())]

    def config(self, v: str, dsn: str) -> str:
        """Vantage `v`'s config text."""
        return config_text(v, 0, 1, dsn, self.hook, self.targets[v], self.canaries[v])

    async def start(self, tmp: Path, dsns: dict[str, str], first: str) -> None:
        for t in self.servers():
            await t.start()
        await self.hook.start()
        for v in [first, *(x for x in dsns if x != first)]:
            self.daemons[v] = await start_daemon(tmp, self.config(v, dsns[v]), v)

            async def decider(d: Daemon = self.daemons[v], must: bool = v == first) -> bool:
                return d.fleet is not None and (d.fleet.is_decider or not must)

            await wait_for(decider, 10, f"{v} did not become decider")

    async def stop(self) -> None:
        for d in self.daemons.values():
            await d.stop(grace=1.0)
        await self.hook.stop()
        for t in self.servers():
            await t.stop()


@pytest.mark.parametrize("how", ["blackhole", "cut"])
async def test_a_cut_off_decider_stops_and_its_spool_replays(
    tmp_path: Path, pg_dsn: str, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    monkeypatch.chdir(tmp_path)
    port = int(pg_dsn.rsplit(":", 1)[1].split("/")[0])
    proxy = TcpProxy(port)
    await proxy.start()
    via_proxy = pg_dsn.replace(f":{port}/", f":{proxy.port}/")
    two = Two()
    await two.start(tmp_path, {"lviv": via_proxy, "kyiv": pg_dsn}, first="lviv")
    lviv, kyiv = two.daemons["lviv"].fleet, two.daemons["kyiv"].fleet
    assert lviv is not None and kyiv is not None
    try:

        async def published() -> bool:
            return len(rows(pg_dsn, "SELECT 1 FROM check_states WHERE vantage = 'lviv'")) == 2

        await wait_for(published, 10, "lviv never published")
        getattr(proxy, how)()
        # the decider that lost the database stops at once; kyiv takes over within 15 s
        await wait_for(lambda: _false(lviv.is_decider), 5, "lviv still deciding")
        took = await wait_for(lambda: _true(kyiv.is_decider), 15, "kyiv never took over")
        assert took < 15
        # lviv keeps probing and deciding locally, and spools what changed
        probes = sum(two.daemons["lviv"].pipeline.probes.values())
        await two.targets["lviv"]["bank"].stop()
        await wait_for(lambda: _true(lviv.spool.size() > 0), 10, "nothing spooled")
        assert lviv.cut_off_since is not None
        # reads answer at once from the known cut-off state: no connection, no query tried
        tried: list[str] = []
        connect = pg.connect

        async def counted(url: str, name: str) -> q.Conn:
            tried.append(name)
            return await connect(url, name)

        monkeypatch.setattr(pg, "connect", counted)
        for what in ("services", "incidents", "campaigns", "announcements"):
            with pytest.raises(ConnectionError, match="fleet database unreachable"):
                await lviv.read(what)
        with pytest.raises(ConnectionError, match="fleet database unreachable"):
            await lviv.alerts()
        assert not [n for n in tried if n.endswith("reader")]
        assert sum(two.daemons["lviv"].pipeline.probes.values()) > probes
        assert two.daemons["lviv"].pipeline.machine.status("bank") == "down"
        await two.targets["lviv"]["bank"].start()
        proxy.forward()

        async def replayed() -> bool:
            return lviv.cut_off_since is None and lviv.spool.size() == 0

        await wait_for(replayed, 15, "spool never replayed")
        assert {r["service"] for r in await lviv.read("services")} == set(SERVICES)
        got = rows(
            pg_dsn,
            "SELECT new, count(*) FROM check_transitions WHERE vantage = 'lviv'"
            " AND service = 'bank' GROUP BY new ORDER BY new",
        )
        # up at start, down while cut off, up again: each once, none lost, none doubled
        assert got == [("down", 1), ("up", 2)]
        assert rows(pg_dsn, "SELECT count(*) FROM outages WHERE vantage = 'lviv'") == [(1,)]
    finally:
        await two.stop()
        await proxy.stop()


async def test_postgres_restart_under_load(
    tmp_path: Path, pg_own: PostgresServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with psycopg.connect(pg_own.dsn(), autocommit=True) as conn:
        conn.execute("CREATE DATABASE fleet")
    dsn = pg_own.dsn("fleet")
    two = Two()
    await two.start(tmp_path, {"kyiv": dsn, "lviv": dsn}, first="kyiv")
    try:

        async def published() -> bool:
            return len(rows(dsn, "SELECT 1 FROM check_states")) == 4

        await wait_for(published, 10, "never published")
        pg_own.stop()
        for v in ("kyiv", "lviv"):
            await two.targets[v]["gov"].stop()
        fleets = [d.fleet for d in two.daemons.values() if d.fleet is not None]
        await wait_for(lambda: _true(all(f.spool.size() > 0 for f in fleets)), 10, "not spooled")
        assert not any(f.is_decider for f in fleets)
        pg_own.start()

        async def back() -> bool:
            return all(f.cut_off_since is None and f.spool.size() == 0 for f in fleets) and any(
                f.is_decider for f in fleets
            )

        await wait_for(back, 15, "not back after the restart")

        async def incident() -> bool:
            return rows(dsn, "SELECT service, status FROM incidents") == [("gov", "open")]

        await wait_for(incident, 15, "the fleet incident from the downtime never opened")
        dup = rows(
            dsn,
            "SELECT vantage, service, check_id, new, count(*) FROM check_transitions"
            " GROUP BY 1, 2, 3, 4 HAVING count(*) > 1",
        )
        assert dup == []
        assert rows(
            dsn,
            "SELECT vantage, count(*) FROM check_transitions WHERE service = 'gov'"
            " AND new = 'down' GROUP BY 1 ORDER BY 1",
        ) == [("kyiv", 1), ("lviv", 1)]
    finally:
        await two.stop()


async def _true(value: bool) -> bool:
    return value


async def _false(value: bool) -> bool:
    return not value
