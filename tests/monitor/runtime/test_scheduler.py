"""The probe scheduler: canaries first in each round and never queued behind the targets."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

from monitor import config
from monitor.runtime.daemon import scheduled_checks
from monitor.runtime.scheduler import ProbeScheduler, Scheduled, spread

CONFIG = """vantage:
  name: unit
  canaries: [{kind: tcp, target: "127.0.0.1:1", id: c1, interval: 30s}]
scheduler: {max_concurrency: 1}
services:
""" + "".join(
    f'  - {{name: s{i}, checks: [{{kind: tcp, target: "127.0.0.1:1", id: t, interval: 30s}}]}}\n'
    for i in range(60)
    if spread(f"s{i}/t", 30) > 1  # not due before the scheduler has even started
)


async def test_canaries_take_the_first_slot_and_skip_the_cap(tmp_path: Path) -> None:
    cfg = config.parse(CONFIG, "config.yaml", tmp_path)
    items = scheduled_checks(cfg)
    assert items[0].first and not any(i.first for i in items[1:])
    ran: list[str] = []
    hold, held = asyncio.Event(), asyncio.Event()

    async def run(item: Scheduled, at: datetime) -> None:
        ran.append(item.key)
        if not item.first:
            held.set()
            await hold.wait()  # a target holding the only slot

    sched = ProbeScheduler(run, cfg.scheduler.max_concurrency)
    sched.apply(items)
    sched.start()
    try:
        canary = sched.next_run("_vantage/c1")
        targets = [sched.next_run(i.key) for i in items[1:]]
        assert canary is not None and all(t is not None and canary <= t for t in targets)
        # the cap is taken by a target; the canary runs anyway
        sched.set_interval(items[1].key, 0.05)
        sched.set_interval("_vantage/c1", 0.05)
        async with asyncio.timeout(5):
            await held.wait()
            before = ran.count("_vantage/c1")
            while ran.count("_vantage/c1") < before + 2:
                await asyncio.sleep(0.01)
    finally:
        hold.set()
        await sched.stop(1)
