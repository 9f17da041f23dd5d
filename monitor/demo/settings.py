"""The config the demo runs the real daemon on: its sites, and every timing scaled to the speed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from monitor.demo.sites import SERVICES, SiteInfo
from monitor.demo.timeline import scaled

VANTAGE = "demo"
SOURCE = "dsszzi"  # the channel name the demo's notices come from

# Timings as they would be on the real day (seconds of the day), scaled by timeline.scaled.
INTERVAL = 180.0  # 3 minutes: Monobank's 4.5-minute blip spans 1.5 intervals
TIMEOUT = 90.0
HANG = 4 * TIMEOUT  # a "timeout" site answers only after the probe has given up
CORRELATION = {
    "window_before": 3600.0,
    "window_after": 3600.0,
    "quiet_period": 900.0,
    "announce_grace": 1800.0,
    "campaign_window": 1800.0,
    "boost_interval": 120.0,  # longer than the timeout: a boosted check never overlaps itself
    "boost_for": 3600.0,
}
ALERT_TIMING = {"group_wait": 90.0, "group_interval": 360.0, "repeat_interval": 86400.0}


def _duration(seconds: float) -> str:
    """Milliseconds, so that any speed gives a valid duration."""
    return f"{max(1, round(seconds * 1000))}ms"


def _service(info: SiteInfo, url: str) -> dict[str, Any]:
    return {
        "name": info.name,
        "title": info.title,
        "group": info.group,
        "aliases": list(info.aliases),
        "labels": {"site": info.host},
        "checks": [{"kind": "http", "id": "web", "url": url}],
    }


def config_data(
    urls: Mapping[str, str], webhook_url: str, db_path: str, speed: float
) -> dict[str, Any]:
    """The demo config as data: vantage `demo`, loopback checks, scaled windows, two receivers."""
    return {
        "vantage": VANTAGE,
        "storage": {"path": db_path},
        "web": {"listen": "127.0.0.1:0"},
        "defaults": {
            "interval": _duration(scaled(INTERVAL, speed)),
            "timeout": _duration(scaled(TIMEOUT, speed)),
            "failures_before_down": 3,
            "successes_before_up": 2,
        },
        "services": [_service(s, urls[s.name]) for s in SERVICES if s.name in urls],
        "correlation": {
            **{k: _duration(scaled(v, speed)) for k, v in CORRELATION.items()},
            "campaign_min_services": 3,
        },
        "alerts": {
            "route": {
                "receiver": "console",
                "group_by": ["alertname", "service"],
                **{k: _duration(scaled(v, speed)) for k, v in ALERT_TIMING.items()},
                # both children match everything: the webhook, and then the console
                "routes": [{"receiver": "webhook", "continue": True}, {"receiver": "console"}],
            },
            "receivers": [
                {"name": "console", "kind": "console"},
                {"name": "webhook", "kind": "webhook", "url": webhook_url},
            ],
        },
    }


def config_text(urls: Mapping[str, str], webhook_url: str, db_path: str, speed: float) -> str:
    """The demo config as YAML, as a user would write it."""
    data = config_data(urls, webhook_url, db_path, speed)
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
