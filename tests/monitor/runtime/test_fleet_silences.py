"""A silence made through /api/v1/silences on any instance mutes the fleet's notifications, and
any instance can expire it; against a real PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import psycopg
import pytest

from monitor.runtime.daemon import Daemon
from tests.integration.helpers import wait_for
from tests.monitor.runtime.test_fleet_cutoff import Two

TOKEN = "fleet-silences-token"


class Guarded(Two):
    """Two (kyiv, lviv) with an API token, which the silence API needs."""

    def config(self, v: str, dsn: str) -> str:
        return (
            super()
            .config(v, dsn)
            .replace(
                'web: {listen: "127.0.0.1:',
                f'web: {{auth: {{tokens: ["{TOKEN}"]}}, listen: "127.0.0.1:',
            )
        )


async def call(d: Daemon, method: str, path: str, body: Any = None) -> Any:
    async with (
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as s,
        s.request(method, f"http://127.0.0.1:{d.listen_port}{path}", json=body) as r,
    ):
        assert r.status == 200, await r.text()
        return await r.json()


async def test_a_silence_made_on_one_instance_holds_for_the_fleet(
    tmp_path: Path, pg_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    two = Guarded()
    await two.start(tmp_path, {"kyiv": pg_dsn, "lviv": pg_dsn}, first="kyiv")
    kyiv, lviv = two.daemons["kyiv"], two.daemons["lviv"]
    try:
        # made on lviv, which is not the decider
        ends = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
        matcher = {"name": "service", "value": "bank", "isRegex": False}
        made = await call(lviv, "POST", "/api/v1/silences", {"matchers": [matcher], "endsAt": ends})
        sid = made["silenceID"]

        async def listed_on_kyiv() -> bool:
            return sid in [s["id"] for s in await call(kyiv, "GET", "/api/v1/silences")]

        await wait_for(listed_on_kyiv, 10, "kyiv never listed lviv's silence")
        # bank goes down from both vantages: one fleet incident, and no notification queued
        for v in ("kyiv", "lviv"):
            await two.targets[v]["bank"].stop()

        def incidents() -> list[tuple[object, ...]]:
            with psycopg.connect(pg_dsn) as conn:
                return list(conn.execute("SELECT service FROM incidents").fetchall())

        async def opened() -> bool:
            return incidents() == [("bank",)]

        await wait_for(opened, 15, "no fleet incident for bank")
        with psycopg.connect(pg_dsn) as conn:  # queued in the round that opened the incident
            assert conn.execute("SELECT count(*) FROM outbox").fetchone() == (0,)
        assert two.hook.posts == []

        # expired on kyiv, where it was not made: the fleet pages now
        await call(kyiv, "DELETE", f"/api/v1/silences/{sid}")

        async def paged() -> bool:
            return len(two.hook.posts) >= 2

        await wait_for(paged, 15, "no notification after the silence expired")
        assert ("firing", "bank", "kyiv,lviv") in two.hook.alerts()

        async def expired_on_lviv() -> bool:  # and lviv, where it was made, takes the change
            listed = await call(lviv, "GET", "/api/v1/silences")
            return {s["id"]: s["status"]["state"] for s in listed}[sid] == "expired"

        await wait_for(expired_on_lviv, 10, "lviv never saw the silence expired")
    finally:
        await two.stop()
