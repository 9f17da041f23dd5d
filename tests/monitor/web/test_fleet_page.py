"""The fleet page: which vantages see what, escaped throughout."""

from __future__ import annotations

from monitor.web.fleet import render_fleet_page


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
    assert "down from kyiv, lviv" in page and "up from odesa" in page
    assert "<b>x</b>" not in page and "&lt;b&gt;x&lt;/b&gt;" in page
    assert 's-unknown"' in page  # an unknown status word is shown as unknown
    assert "Campaign: bank, gov" in page and "1 down" in page
