"""The dispatcher end to end against a real webhook server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import web

from alerts.matchers import Matcher
from monitor.core.base import FakeClock
from monitor.store.db import Store
from tests.alerts.conftest import T0, DispatcherFactory, Recorder, alert, until
from tests.conftest import free_port

FAST = {"group_wait": "0.1s", "group_interval": "0.2s", "repeat_interval": "1h"}
DELIVERY = {"initial_backoff": "50ms", "max_backoff": "200ms"}


def config(url: str, route: dict[str, Any] | None = None, **receiver: Any) -> dict[str, Any]:
    return {
        "route": {"receiver": "hook", "group_by": ["service"], **FAST, **(route or {})},
        "receivers": [{"name": "hook", "kind": "webhook", "url": url, **receiver}],
        "delivery": DELIVERY,
    }


def outbox_rows(store: Store) -> list[dict[str, Any]]:
    return store.run_sync(
        lambda db: list(db.query("SELECT * FROM alert_outbox ORDER BY created_at"))
    )


async def test_three_services_make_one_notification_per_receiver(
    recorder: Recorder, make_dispatcher: DispatcherFactory
) -> None:
    cfg = {
        "route": {
            "receiver": "a",
            "group_by": ["alertname"],
            **FAST,
            "routes": [
                {"match_re": {"service": ".+"}, "receiver": "a", "continue": True},
                {"match_re": {"service": ".+"}, "receiver": "b"},
            ],
        },
        "receivers": [
            {"name": "a", "kind": "webhook", "url": recorder.url + "/a"},
            {"name": "b", "kind": "webhook", "url": recorder.url + "/b"},
        ],
    }
    d = await make_dispatcher(cfg)
    await d.update([alert(service=s) for s in ("privatbank", "oschadbank", "mod")])
    await until(lambda: len(recorder.hits) == 2)
    await asyncio.sleep(0.4)  # a few group_intervals: nothing more is sent
    assert sorted(h.path for h in recorder.hits) == ["/a", "/b"]
    body = recorder.hits[0].json()
    assert body["version"] == "4" and body["status"] == "firing"
    assert body["groupLabels"] == {"alertname": "service_down"}
    assert sorted(a["labels"]["service"] for a in body["alerts"]) == [
        "mod",
        "oschadbank",
        "privatbank",
    ]
    assert body["commonLabels"] == {"alertname": "service_down", "vantage": "kyiv-1"}
    assert body["externalURL"] == "http://outwatch.test/"
    assert body["alerts"][0]["endsAt"] == "0001-01-01T00:00:00Z"
    assert d.stats.sent == {"a": 1, "b": 1}
    assert d.stats.latency["a"].count == 1


async def test_repeat_and_resolved_arrive_on_time(
    recorder: Recorder, make_dispatcher: DispatcherFactory
) -> None:
    d = await make_dispatcher(config(recorder.url, {"repeat_interval": "0.5s"}))
    t0 = time.monotonic()
    await d.update([alert(service="privatbank")])
    await until(lambda: len(recorder.hits) == 2)
    first, repeat = (h.at - t0 for h in recorder.hits)
    assert 0.09 <= first < 0.4
    assert 0.5 <= repeat - first < 1.0  # next group tick after repeat_interval
    t1 = time.monotonic()
    await d.update([])
    await until(lambda: len(recorder.hits) == 3)
    assert recorder.hits[2].at - t1 < 0.4  # the next group_interval tick
    body = recorder.hits[2].json()
    assert body["status"] == "resolved"
    assert body["alerts"][0]["status"] == "resolved"
    assert body["alerts"][0]["endsAt"] != "0001-01-01T00:00:00Z"
    await asyncio.sleep(0.5)
    assert len(recorder.hits) == 3  # the group is gone after its resolved notification


async def test_send_resolved_false_sends_no_resolution(
    recorder: Recorder, make_dispatcher: DispatcherFactory
) -> None:
    d = await make_dispatcher(config(recorder.url, send_resolved=False))
    await d.update([alert(service="privatbank")])
    await until(lambda: len(recorder.hits) == 1)
    await d.update([])
    await asyncio.sleep(0.5)
    assert len(recorder.hits) == 1


async def test_silenced_alert_is_listed_but_not_sent(
    recorder: Recorder, make_dispatcher: DispatcherFactory
) -> None:
    d = await make_dispatcher(config(recorder.url, {"group_by": ["alertname"]}))
    s = await d.add_silence(
        [Matcher("service", "mod")], ends_at=T0 + timedelta(days=36500), comment="drill"
    )
    await d.update([alert(service="mod"), alert(service="privatbank")])
    await until(lambda: len(recorder.hits) == 1)
    await asyncio.sleep(0.3)
    assert len(recorder.hits) == 1
    assert [a["labels"]["service"] for a in recorder.hits[0].json()["alerts"]] == ["privatbank"]
    views = {v.alert.labels["service"]: v for v in d.alert_views()}
    assert views["mod"].state == "suppressed" and views["mod"].silenced_by == (s.id,)
    assert views["privatbank"].state == "active"
    # expiring the silence lets the muted alert through on the next tick
    assert await d.expire_silence(s.id)
    await until(lambda: len(recorder.hits) == 2)
    assert len(recorder.hits[1].json()["alerts"]) == 2


async def test_vantage_offline_inhibits_service_alerts(
    recorder: Recorder, make_dispatcher: DispatcherFactory
) -> None:
    d = await make_dispatcher(config(recorder.url, {"group_by": ["alertname"]}))
    offline = alert("vantage_offline")
    await d.update([offline, alert(service="privatbank"), alert(service="mod", vantage="lviv-1")])
    await until(lambda: len(recorder.hits) == 2)
    await asyncio.sleep(0.3)
    sent = sorted(
        (a["labels"]["alertname"], a["labels"].get("service", ""))
        for h in recorder.hits
        for a in h.json()["alerts"]
    )
    assert sent == [("service_down", "mod"), ("vantage_offline", "")]
    views = {v.alert.labels.get("service", "-"): v for v in d.alert_views()}
    assert views["privatbank"].inhibited_by == (offline.fingerprint,)
    assert views["privatbank"].state == "suppressed"


async def test_campaign_is_one_page(recorder: Recorder, make_dispatcher: DispatcherFactory) -> None:
    d = await make_dispatcher(config(recorder.url))
    banks = [f"bank{i}" for i in range(12)]
    await d.update([alert(service=b, campaign="2022-02-15-ddos") for b in banks])
    await until(lambda: len(recorder.hits) >= 1)
    await asyncio.sleep(0.3)
    assert len(recorder.hits) == 1
    body = recorder.hits[0].json()
    # groupLabels keep the route's group_by key (service) beside the campaign that grouped them
    services = ",".join(sorted(banks))
    assert body["groupLabels"] == {"campaign": "2022-02-15-ddos", "service": services}
    assert body["groupKey"] == '{}:{campaign="2022-02-15-ddos"}'
    assert len(body["alerts"]) == 12


async def test_503_then_up_is_delivered_exactly_once(
    recorder: Recorder, make_dispatcher: DispatcherFactory, store: Store
) -> None:
    recorder.script = [(503, {}, "busy"), (503, {}, "busy")]
    d = await make_dispatcher(config(recorder.url))
    await d.update([alert(service="privatbank")])
    await until(lambda: d.stats.sent["hook"] == 1)
    await asyncio.sleep(0.3)
    assert len(recorder.hits) == 3
    ids = {h.headers["X-Outwatch-Notification-Id"] for h in recorder.hits}
    assert len(ids) == 1  # the same notification, retried
    assert d.stats.failed[("hook", "http_5xx")] == 2
    [row] = outbox_rows(store)
    assert (row["state"], row["attempts"]) == ("delivered", 3)
    assert d.stats.outbox_pending == 0


async def test_connection_refused_then_up(make_dispatcher: DispatcherFactory) -> None:
    port = free_port()
    d = await make_dispatcher(config(f"http://127.0.0.1:{port}/hook"))
    await d.update([alert(service="privatbank")])
    await until(lambda: d.stats.failed[("hook", "connection")] >= 2)
    hits: list[web.Request] = []

    async def ok(request: web.Request) -> web.Response:
        hits.append(request)
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", ok)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        await until(lambda: d.stats.sent["hook"] == 1)
        await asyncio.sleep(0.4)
        assert len(hits) == 1
    finally:
        await runner.cleanup()


async def test_400_is_final_with_its_reason(
    recorder: Recorder, make_dispatcher: DispatcherFactory, store: Store
) -> None:
    recorder.default = (400, {}, "invalid_payload\n<html>")
    d = await make_dispatcher(config(recorder.url))
    await d.update([alert(service="privatbank")])
    await until(lambda: d.stats.failed[("hook", "http_4xx")] == 1)
    await asyncio.sleep(0.4)
    assert len(recorder.hits) == 1
    [row] = outbox_rows(store)
    assert row["state"] == "failed"
    assert row["last_error"] == "HTTP 400: invalid_payload <html>"


async def test_429_retry_after_is_honoured(
    recorder: Recorder, make_dispatcher: DispatcherFactory
) -> None:
    recorder.script = [(429, {"Retry-After": "1"}, "slow down")]
    d = await make_dispatcher(config(recorder.url))
    await d.update([alert(service="privatbank")])
    await until(lambda: d.stats.sent["hook"] == 1, within=5)
    first, second = recorder.hits
    assert second.at - first.at >= 0.95  # not the 50ms backoff


async def test_restart_keeps_the_log_and_resolves_what_ended_meanwhile(
    recorder: Recorder, make_dispatcher: DispatcherFactory
) -> None:
    cfg = config(recorder.url)
    d1 = await make_dispatcher(cfg)
    await d1.update([alert(service="privatbank")])
    await until(lambda: d1.stats.sent["hook"] == 1)
    await d1.stop()
    d2 = await make_dispatcher(cfg)
    await d2.update([alert(service="privatbank")])  # still firing: no second page
    await asyncio.sleep(0.4)
    assert len(recorder.hits) == 1
    await d2.update([])
    await until(lambda: len(recorder.hits) == 2)
    assert recorder.hits[1].json()["status"] == "resolved"


async def test_timings_with_an_injected_clock(
    recorder: Recorder, make_dispatcher: DispatcherFactory
) -> None:
    clock = FakeClock(current=T0)
    cfg = config(
        recorder.url, {"group_wait": "30s", "group_interval": "5m", "repeat_interval": "4h"}
    )
    d = await make_dispatcher(cfg, clock=clock, start=False)

    async def step(seconds: float) -> int:
        clock.set(clock.now() + timedelta(seconds=seconds))
        queued = await d.flush_due()
        await asyncio.gather(*await d.deliver_due())
        return queued

    await d.update([alert(service="privatbank")])
    assert [await step(29), await step(1)] == [0, 1]  # group_wait
    await d.update([alert(service="privatbank"), alert(service="privatbank", check="dns")])
    assert [await step(299), await step(1)] == [0, 1]  # group_interval, not group_wait
    assert [await step(300) for _ in range(47)] == [0] * 47
    assert await step(300) == 1  # 4h after the last notification
    await d.update([])
    assert await step(300) == 1
    assert [h.json()["status"] for h in recorder.hits] == ["firing"] * 3 + ["resolved"]


async def test_time_intervals_mute_and_activate_routes(
    recorder: Recorder, make_dispatcher: DispatcherFactory
) -> None:
    clock = FakeClock(T0)  # Tuesday 10:00 UTC
    cfg = config(
        recorder.url,
        route={
            "group_wait": "0s",
            "routes": [
                {
                    "matchers": ["team=night"],
                    "active_time_intervals": ["nights"],
                    "receiver": "hook",
                },
                {"matchers": ["team=ops"], "mute_time_intervals": ["workdays"], "receiver": "hook"},
                {"matchers": ["team=soc"], "mute_time_intervals": ["nights"], "receiver": "hook"},
            ],
        },
    )
    cfg["time_intervals"] = [
        {"name": "workdays", "time_intervals": [{"weekdays": ["monday:friday"]}]},
        {
            "name": "nights",
            "time_intervals": [{"times": [{"start_time": "22:00", "end_time": "24:00"}]}],
        },
    ]
    d = await make_dispatcher(cfg, clock=clock, start=False)
    await d.update([alert(service=t, team=t) for t in ("night", "ops", "soc")])
    assert await d.flush_due() == 1  # only soc: night is outside its active time, ops is muted
    clock.set(T0 + timedelta(days=4, hours=13))  # Saturday 23:00
    assert await d.flush_due() == 2  # now night is active and ops is not muted; soc is muted


async def test_retry_after_is_capped(
    recorder: Recorder, make_dispatcher: DispatcherFactory, store: Store
) -> None:
    recorder.script = [(429, {"Retry-After": "99999999999"}, "come back in the year 5195")]
    d = await make_dispatcher(config(recorder.url))
    await d.update([alert(service="privatbank")])
    await until(lambda: d.stats.failed[("hook", "http_429")] == 1)
    await until(lambda: outbox_rows(store)[0]["attempts"] == 1)
    [row] = outbox_rows(store)
    assert row["next_attempt_at"] - row["created_at"] <= 3600 + 5  # the default cap, an hour
    await d.stop()
    cfg = config(recorder.url)
    cfg["delivery"] = {**DELIVERY, "max_retry_after": "100ms"}
    recorder.script = [(503, {"Retry-After": "99999999999"}, "busy")]
    d = await make_dispatcher(cfg)
    await d.update([alert(service="mod")])
    await until(lambda: d.stats.sent["hook"] >= 1, within=5)


async def test_notifications_past_their_maximum_age_are_dropped(
    recorder: Recorder,
    make_dispatcher: DispatcherFactory,
    store: Store,
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock(T0)
    cfg = config(recorder.url, route={"group_wait": "0s"})
    d = await make_dispatcher(cfg, clock=clock, start=False)
    await d.update([alert(service="privatbank"), alert(service="mod")])
    assert await d.flush_due() == 2
    # one waits for an attempt far off (a Retry-After from before the cap), one is due
    far = outbox_rows(store)[0]["id"]
    store.run_sync(
        lambda db: db.execute(
            "UPDATE alert_outbox SET next_attempt_at = 99999999999 WHERE id = ?", [far]
        )
    )
    clock.set(T0 + timedelta(days=1, seconds=1))  # past give_up_after (a day by default)
    await asyncio.gather(*await d.deliver_due())
    await d.prune()
    assert recorder.hits == []  # a day-old page is not sent late
    assert d.stats.expired["hook"] == 2
    rows = outbox_rows(store)
    assert [r["state"] for r in rows] == ["failed", "failed"]
    assert all(r["last_error"].startswith("expired") for r in rows)
    assert sum("dropped, expired" in r.getMessage() for r in caplog.records) == 2


async def test_outbox_and_log_are_pruned_while_running(
    recorder: Recorder, make_dispatcher: DispatcherFactory, store: Store
) -> None:
    await make_dispatcher(config(recorder.url), prune_interval=0.05)
    old = (datetime.now(UTC) - timedelta(days=8)).timestamp()
    old_iso = (datetime.now(UTC) - timedelta(days=8)).isoformat()

    def add_old(db: Any) -> None:
        db["alert_outbox"].insert(
            {
                "id": "old",
                "receiver": "hook",
                "group_key": "k",
                "payload": "{}",
                "state": "delivered",
                "attempts": 1,
                "created_at": old,
                "next_attempt_at": old,
                "last_error": "",
                "finished_at": old,
            }
        )
        db["alert_nflog"].insert(
            {"receiver": "hook", "group_key": "k", "firing": "[]", "resolved": "[]", "at": old_iso}
        )

    store.run_sync(add_old)

    def count() -> int:
        return store.run_sync(
            lambda db: db.execute(
                "SELECT (SELECT COUNT(*) FROM alert_outbox) + (SELECT COUNT(*) FROM alert_nflog)"
            ).fetchone()[0]
        )

    assert count() == 2
    await until(lambda: count() == 0, within=5)
