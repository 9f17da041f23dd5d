"""Run a dispatcher in its own process (for the crash test): `python -m ... DB URL fire|resume`."""

from __future__ import annotations

import asyncio
import sys

from alerts.config import AlertsConfig
from alerts.dispatcher import Dispatcher
from monitor.core.base import SystemClock
from monitor.store.db import Store
from tests.alerts.conftest import alert


async def main(db: str, url: str, mode: str) -> None:
    cfg = AlertsConfig.model_validate(
        {
            "route": {"receiver": "hook", "group_wait": "0s", "group_interval": "1h"},
            "receivers": [{"name": "hook", "kind": "webhook", "url": url}],
            "delivery": {"initial_backoff": "50ms", "max_backoff": "100ms"},
        }
    )
    d = Dispatcher(cfg, Store(db), clock=SystemClock(), vantage="kyiv-1")
    await d.start()
    if mode == "fire":
        await d.update([alert(service="privatbank")])
    print("started", flush=True)
    await asyncio.sleep(3600)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
