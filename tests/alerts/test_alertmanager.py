"""Push to a real Alertmanager (Debian's package) and read the alerts back from its API."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from alerts.alertmanager import alert_json as alertmanager_json
from alerts.base import Alert
from alerts.config import AlertsConfig, problems
from alerts.router import build
from tests.alerts.conftest import (
    T0,
    DispatcherFactory,
    Recorder,
    alert,
    alertmanager_binary,
    running_alertmanager,
    until,
)
from tests.conftest import free_port

AM_CONFIG = """
route: {receiver: blackhole, group_wait: 1h}
receivers: [{name: blackhole}]
"""


@pytest.fixture
async def alertmanager(tmp_path: Path) -> AsyncIterator[str]:
    async with running_alertmanager(tmp_path, AM_CONFIG) as url:
        yield url


async def _alerts(url: str) -> list[dict[str, Any]]:
    async with aiohttp.ClientSession() as s, s.get(f"{url}/api/v2/alerts") as r:
        return list(await r.json())


async def test_push_then_resolve(alertmanager: str, make_dispatcher: DispatcherFactory) -> None:
    cfg = {
        "route": {"receiver": "am", "group_wait": "0.1s", "group_interval": "0.2s"},
        "receivers": [
            # the second URL is down: an HA pair with one peer gone still gets the alerts through
            {
                "name": "am",
                "kind": "alertmanager",
                "urls": [alertmanager, f"http://127.0.0.1:{free_port()}"],
                "resend_interval": "0.5s",
            }
        ],
    }
    d = await make_dispatcher(cfg)
    await d.update([alert(service="privatbank"), alert(service="mod")])
    seen: list[dict[str, Any]] = []

    async def poll() -> bool:
        seen[:] = await _alerts(alertmanager)
        return len(seen) == 2

    for _ in range(100):
        if await poll():
            break
        await asyncio.sleep(0.1)
    assert sorted(a["labels"]["service"] for a in seen) == ["mod", "privatbank"]
    assert all(a["status"]["state"] == "active" for a in seen)
    assert seen[0]["labels"]["vantage"] == "kyiv-1"
    # firing alerts are re-sent (resend_interval) though nothing changed
    sent = d.stats.sent["am"]
    await until(lambda: d.stats.sent["am"] >= sent + 2, within=5)

    await d.update([alert(service="mod")])
    for _ in range(100):
        seen[:] = await _alerts(alertmanager)  # resolved alerts drop out of the default listing
        if [a["labels"]["service"] for a in seen] == ["mod"]:
            break
        await asyncio.sleep(0.1)
    assert [a["labels"]["service"] for a in seen] == ["mod"]


# -- fidelity: the same labels and routes give what Alertmanager gives -------------------------

LABEL_SETS = [
    {"alertname": "service_down", "service": "privatbank", "vantage": "kyiv-1"},
    {"alertname": "Ощадбанк недоступний", "service": "oschad", "note": 'say "hi"\n'},
    {"alertname": "empty_is_absent", "service": "", "vantage": "lviv-1"},
    {"alertname": "sorting", "a": "1", "a1": "2", "a_b": "3", "A": "4", "_": "5"},
]


async def test_fingerprint_equals_alertmanagers(alertmanager: str) -> None:
    ours = [
        alert(name=ls["alertname"], **{k: v for k, v in ls.items() if k != "alertname"})
        for ls in LABEL_SETS
    ]
    body = [alertmanager_json(a, "") for a in ours]
    async with (
        aiohttp.ClientSession() as s,
        s.post(f"{alertmanager}/api/v2/alerts", json=body) as r,
    ):
        assert r.status == 200, await r.text()
    theirs = {
        json.dumps(a["labels"], sort_keys=True): a["fingerprint"]
        for a in await _alerts(alertmanager)
    }
    for a in ours:
        key = json.dumps({k: v for k, v in a.labels.items() if v}, sort_keys=True)
        assert theirs[key] == a.fingerprint, a.labels


HOOK_ROUTE = {
    "receiver": "hook",
    "group_by": ["service"],
    # long enough that a loaded machine still gets both vantages' alerts into the first flush
    # on both sides (with 100ms Alertmanager once sent them apart under load)
    "group_wait": "1s",
    "group_interval": "1s",
    "routes": [
        {
            "matchers": ['severity="critical"', 'team=~"soc|noc"'],
            "group_by": ["alertname", "service"],
        }
    ],
}


def _shape(body: dict[str, Any]) -> tuple[Any, ...]:
    alerts = sorted((a["fingerprint"], a["status"]) for a in body["alerts"])
    return body["groupKey"], body["groupLabels"], body["status"], tuple(alerts)


async def _post_am(url: str, alerts: list[Alert]) -> None:
    body = [alertmanager_json(a, "") for a in alerts]
    async with aiohttp.ClientSession() as s, s.post(f"{url}/api/v2/alerts", json=body) as r:
        assert r.status == 200, await r.text()


async def test_notifications_match_alertmanagers(
    tmp_path: Path, recorder: Recorder, make_dispatcher: DispatcherFactory
) -> None:
    am_cfg = {
        "route": HOOK_ROUTE,
        "receivers": [{"name": "hook", "webhook_configs": [{"url": f"{recorder.url}/am"}]}],
    }
    ow_cfg = {
        "route": HOOK_ROUTE,
        "receivers": [{"name": "hook", "kind": "webhook", "url": f"{recorder.url}/ow"}],
    }
    page = {"severity": "critical", "team": "soc", "service": "privatbank"}
    a1, a2 = alert(vantage="kyiv-1", **page), alert(vantage="lviv-1", **page)
    a3 = alert("notice_contradicted", service='mod "ua"')

    def bodies(path: str) -> list[dict[str, Any]]:
        return [h.json() for h in recorder.hits if h.path == path]

    async with running_alertmanager(tmp_path, json.dumps(am_cfg)) as am:
        d = await make_dispatcher(ow_cfg)
        await _post_am(am, [a1, a2, a3])
        await d.update([a1, a2, a3])
        for path in ("/am", "/ow"):
            await until(lambda p=path: len(bodies(p)) == 2, within=10)  # type: ignore[misc]
        # one of the two vantages recovers: the group is told, as Alertmanager tells it
        await _post_am(am, [replace(a2, ends_at=datetime.now(UTC))])
        await d.update([a1, a3])
        for path in ("/am", "/ow"):
            await until(lambda p=path: len(bodies(p)) == 3, within=10)  # type: ignore[misc]
    am_bodies, ow_bodies = bodies("/am"), bodies("/ow")
    assert sorted(map(_shape, ow_bodies[:2])) == sorted(map(_shape, am_bodies[:2]))
    assert _shape(ow_bodies[2]) == _shape(am_bodies[2])
    key, labels, status, alerts = _shape(am_bodies[2])
    assert key == (
        '{}/{severity="critical",team=~"soc|noc"}:{alertname="service_down", service="privatbank"}'
    )
    assert labels == {"alertname": "service_down", "service": "privatbank"}
    # Alertmanager's status is the group's: firing while any alert fires, the resolved one inside
    assert status == "firing" and sorted(s for _, s in alerts) == ["firing", "resolved"]


DEPLOY_AM = Path(__file__).resolve().parents[2] / "deploy" / "alertmanager" / "alertmanager.yml"


def deploy_as_outwatch() -> dict[str, Any]:
    """The shipped Alertmanager config's route, inhibit rules and receivers as `alerts:`."""
    am = yaml.safe_load(DEPLOY_AM.read_text())
    receivers = [
        {"name": r["name"], "kind": "webhook", "url": r["webhook_configs"][0]["url"]}
        for r in am["receivers"]
    ]
    return {"route": am["route"], "inhibit_rules": am["inhibit_rules"], "receivers": receivers}


ROUTED = [
    {"severity": "critical", "group": "bank", "service": "privatbank"},
    {"severity": "critical", "group": "government"},
    {"severity": "critical"},
    {"severity": "warning", "group": "bank"},
    {"severity": "warning", "group": "government"},
    {"severity": "warning", "alertname": "OutwatchSourceDown"},
    {"severity": "warning", "alertname": "OutwatchSourceDownX"},
    {"severity": "warning", "group": "telecom", "alertname": "OutwatchInstanceDown"},
    {"severity": "warning"},
    {"severity": "info", "group": "bank"},
    {"severity": "page"},
    {"alertname": "OutwatchServiceDown", "service": "a b"},
    {},
]


def test_shipped_alertmanager_routes_load_and_route_like_amtool() -> None:
    cfg = AlertsConfig.model_validate(deploy_as_outwatch())
    assert problems(cfg) == []
    amtool = alertmanager_binary("amtool")
    root = build(cfg.route)
    for labels in ROUTED:
        args = [f"{k}={v}" for k, v in labels.items()] or ["alertname=x"]
        out = subprocess.run(
            [amtool, "config", "routes", "test", f"--config.file={DEPLOY_AM}", *args],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout.strip()
        ours = ",".join(r.receiver for r in root.match(labels or {"alertname": "x"}))
        assert ours == out, labels


async def test_shipped_inhibit_rules_inhibit_like_alertmanager(
    tmp_path: Path, make_dispatcher: DispatcherFactory
) -> None:
    labels = [
        {"alertname": "OutwatchCertExpiring", "severity": "critical", "service": "a", "check": "c"},
        {"alertname": "OutwatchCertExpiring", "severity": "warning", "service": "a", "check": "c"},
        {"alertname": "OutwatchCertExpiring", "severity": "warning", "service": "b", "check": "c"},
        {"alertname": "OutwatchServiceDown", "severity": "critical", "service": "a"},
        {"alertname": "OutwatchServiceDownPartial", "severity": "warning", "service": "a"},
        {"alertname": "OutwatchVantageOffline", "severity": "warning", "vantage": "v1"},
        {"alertname": "OutwatchSourceDown", "severity": "warning", "vantage": "v1"},
        {"alertname": "OutwatchSourceDown", "severity": "warning", "vantage": "v2"},
    ]
    alerts = [Alert(labels=ls, annotations={}, starts_at=T0) for ls in labels]
    d = await make_dispatcher(
        {**deploy_as_outwatch(), "inhibit_vantage_offline": False}, start=False
    )
    await d.update(alerts)
    ours = {v.alert.fingerprint: bool(v.inhibited_by) for v in d.alert_views()}
    async with running_alertmanager(tmp_path, DEPLOY_AM.read_text()) as am:
        await _post_am(am, [replace(a, starts_at=datetime.now(UTC)) for a in alerts])
        theirs: dict[str, bool] = {}
        for _ in range(50):  # Alertmanager's inhibitor runs asynchronously to the post
            got = await _alerts(am)
            theirs = {a["fingerprint"]: bool(a["status"]["inhibitedBy"]) for a in got}
            if theirs == ours:
                break
            await asyncio.sleep(0.1)
    assert theirs == ours
    assert sum(ours.values()) == 3
