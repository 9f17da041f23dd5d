"""The fleet page: which vantages see what, escaped throughout."""

from __future__ import annotations

from typing import Any

import pytest

from monitor.web.fleet import FailFast, fail_fast, render_fleet_page


def test_fleet_page_names_vantages_and_escapes() -> None:
    services = [
        {
            "service": "bank",
            "status": "down",
            "vantages": {"down": ["kyiv", "lviv"], "up": ["odesa"], "absent": ["<b>x</b>"]},
        },
        {"service": "gov", "status": "bogus", "vantages": None},
    ]
    incidents = [{"service": "bank", "status": "open", "observed": True, "started_at": "t"}]
    campaigns = [{"status": "open", "services": ["bank", "gov"], "started_at": "t"}]
    page = render_fleet_page(services, incidents, campaigns)
    assert "down: kyiv, lviv" in page and "up: odesa" in page
    assert "<b>x</b>" not in page and "&lt;b&gt;x&lt;/b&gt;" in page
    assert 's-unknown"' in page  # an unknown status word is shown as unknown
    assert "Campaign: bank, gov" in page and "1 down" in page


async def test_fail_fast_waits_out_one_timeout_per_pause() -> None:
    now = [0.0]
    calls: list[str] = []
    up = [False]

    async def read(what: str, **filters: Any) -> list[dict[str, Any]]:
        calls.append(what)
        if not up[0]:
            raise ConnectionError("fleet database unreachable: no answer in 5s")
        return [{"what": what}]

    guarded = FailFast(read, pause=5.0, clock=lambda: now[0])
    for what in ("services", "incidents", "campaigns"):  # one status page
        with pytest.raises(ConnectionError, match="no answer in 5s"):
            await guarded(what)
    assert calls == ["services"]  # the other two failed at once with the same reason
    up[0] = True
    now[0] = 5.0  # the pause is over: the database is asked again
    assert await guarded("incidents") == [{"what": "incidents"}]
    assert await guarded("campaigns") == [{"what": "campaigns"}]
    assert calls == ["services", "incidents", "campaigns"]
    assert fail_fast(None) is None and fail_fast(guarded) is guarded
