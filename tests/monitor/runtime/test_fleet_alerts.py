"""Every instance of a fleet serves the fleet's alerts at /api/v1/alerts, as the decider last
published them; against a real PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.integration.helpers import wait_for
from tests.monitor.runtime.test_fleet_silences import Guarded, call


async def test_a_non_decider_lists_the_fleets_firing_alert_with_its_vantages(
    tmp_path: Path, pg_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    two = Guarded()
    await two.start(tmp_path, {"kyiv": pg_dsn, "lviv": pg_dsn}, first="kyiv")
    lviv = two.daemons["lviv"]
    try:
        assert lviv.fleet is not None and not lviv.fleet.is_decider
        for v in ("kyiv", "lviv"):
            await two.targets[v]["bank"].stop()
        found: list[dict[str, Any]] = []

        async def listed() -> bool:
            found[:] = [
                a
                for a in await call(lviv, "GET", "/api/v1/alerts")
                if a["labels"].get("alertname") == "service_down"
            ]
            return bool(found)

        await wait_for(listed, 15, "lviv never listed the fleet's service_down")
        (alert,) = found
        assert alert["labels"]["service"] == "bank"
        assert alert["labels"]["vantage"] == "fleet"
        assert alert["annotations"]["vantages_down"] == "kyiv,lviv"
        assert alert["status"] == {"state": "active", "silencedBy": [], "inhibitedBy": []}
        assert alert["receivers"] == ["hook", "oncall"]
        assert not lviv.fleet.is_decider
    finally:
        await two.stop()
