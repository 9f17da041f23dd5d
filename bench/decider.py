"""The fleet decider's rounds in-process: N checks from 3 vantages published in one PostgreSQL.

Run from the repository root: `python bench/decider.py [--checks 10000] [--down 500]`.

A throwaway PostgreSQL cluster (as the tests start one) holds the check states three vantages
published (10 checks a service, all up); one Decider takes the role and runs rounds with a clock
moved one second each. Per round: its wall time, and the longest stretch the event loop could not
run anything else (a 1 ms ticker beside it): the takeover round that reads every state, rounds
where nothing changed, the round where `--down` services go down from two vantages (a wave:
incidents and a campaign), and rounds during that wave. The loop stall is what makes probes late
on the decider; the round's own time runs partly in a worker thread.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp
import psycopg

from monitor import config
from monitor.core.base import FakeClock
from monitor.runtime.dbcalls import Calls
from monitor.runtime.decider import Decider
from monitor.store import fleet as q
from monitor.store import pg
from tests.postgres import PostgresServer

VANTAGES = ("v1", "v2", "v3")
PER_SERVICE = 10


def config_text(dsn: str, services: int) -> str:
    lines = [
        "vantage: {name: v1}",
        f'storage: {{path: ./v1.db, url: "{dsn}"}}',
        "fleet: {quorum: 2, stale_after: 1h}",
        "alerts:",
        "  route: {receiver: hook}",
        '  receivers: [{name: hook, kind: webhook, url: "http://127.0.0.1:9/"}]',
        "services:",
    ]
    for s in range(services):
        checks = ", ".join(
            f'{{kind: http, url: "http://127.0.0.1:9/{s}/{c}", id: c{c}}}'
            for c in range(PER_SERVICE)
        )
        lines += [f"  - name: s{s}", f"    group: g{s % 7}", f"    checks: [{checks}]"]
    return "\n".join(lines) + "\n"


async def publish(dsn: str, states: dict[tuple[str, int, int], str]) -> None:
    """What the vantages' sync loops write: heartbeats and these check states."""
    now = datetime.now(UTC)
    rows = [
        q.check_row(v, f"{v}-0", f"s{s}", f"c{c}", st, None if st == "up" else "HTTP 503", now, now)
        for (v, s, c), st in states.items()
    ]
    conn = await pg.connect(dsn, "bench")
    try:
        await pg.migrate(conn)
        for v in VANTAGES:
            await q.heartbeat(conn, f"{v}-0", v, None, now, {})
        await q.put_checks(conn, rows)
    finally:
        await conn.close()


class Rounds:
    """Runs rounds and prints, per round, its time and the longest event-loop stall."""

    def __init__(self, decider: Decider, clock: FakeClock) -> None:
        self.decider = decider
        self.clock = clock
        self.stall = 0.0

    async def ticker(self) -> None:
        while True:
            t = time.perf_counter()
            await asyncio.sleep(0.001)
            self.stall = max(self.stall, time.perf_counter() - t)

    async def run(self, label: str, n: int = 1) -> None:
        took: list[float] = []
        stalls: list[float] = []
        for _ in range(n):
            self.clock.set(self.clock.now() + timedelta(seconds=1))
            await asyncio.sleep(0.01)
            self.stall = 0.0
            t = time.perf_counter()
            await self.decider.step()
            took.append((time.perf_counter() - t) * 1e3)
            stalls.append(self.stall * 1e3)
        assert self.decider.is_decider
        print(
            f"{label:<36} round ms {' '.join(f'{x:.0f}' for x in took):<24}"
            f" longest loop stall ms {' '.join(f'{x:.0f}' for x in stalls)}",
            flush=True,
        )


async def bench(args: argparse.Namespace, dsn: str, tmp: Path) -> None:
    services = args.checks // PER_SERVICE
    cfg = config.parse(config_text(dsn, services), str(tmp / "v1.yaml"), tmp)
    states = {
        (v, s, c): "up" for v in VANTAGES for s in range(services) for c in range(PER_SERVICE)
    }
    await publish(dsn, states)
    clock = FakeClock(datetime.now(UTC))
    decider = Decider(cfg, clock, dsn, "v1-0", Calls())
    decider.session = aiohttp.ClientSession()
    rounds = Rounds(decider, clock)
    tick = asyncio.create_task(rounds.ticker())
    try:
        await rounds.run("takeover (every state read)")
        await rounds.run("nothing changed", 5)
        wave: dict[tuple[str, int, int], Any] = {
            (v, s, c): "down" for v in VANTAGES[:2] for s in range(args.down) for c in range(10)
        }
        await publish(dsn, wave)
        await rounds.run(f"{args.down} services go down")
        await rounds.run(f"during the wave ({args.down} down)", 5)
    finally:
        tick.cancel()
        await decider.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--checks", type=int, default=10_000)
    ap.add_argument("--down", type=int, default=500)
    args = ap.parse_args()
    logging.disable(logging.WARNING)  # a wave logs each incident it opens
    server = PostgresServer()
    server.start()
    try:
        with psycopg.connect(server.dsn(), autocommit=True) as conn:
            conn.execute("CREATE DATABASE fleet")
        print(
            f"{args.checks} checks x {len(VANTAGES)} vantages ({args.checks // PER_SERVICE} services)"
        )
        with tempfile.TemporaryDirectory(prefix="outwatch-decider-") as d:
            asyncio.run(bench(args, server.dsn("fleet"), Path(d)))
        return 0
    finally:
        server.close()


if __name__ == "__main__":
    sys.exit(main())
