from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from monitor.demo.summary import Record, Snapshot, alert_stats, summarise, text

DAY = datetime(2022, 2, 15, 12, 0, tzinfo=UTC)
CAMP = "campaign@2022-02-15T12:15:00+00:00"


def inc(service: str, flags: tuple[str, ...] = (), **kw: Any) -> dict[str, Any]:
    base = {
        "id": f"{service}@t",
        "service": service,
        "status": "open",
        "observed": True,
        "announced": True,
        "confirmed": True,
        "started_at": "2022-02-15T12:15:00+00:00",
        "flags": list(flags),
        "campaign": CAMP,
    }
    return {**base, **kw}


def good_incidents() -> list[dict[str, Any]]:
    return [
        inc("privatbank"),
        inc("oschadbank", ("restored_claim_while_down",)),
        inc("mod"),
        inc("zsu"),
    ]


CAMPAIGN = {"id": CAMP, "status": "open", "services": ["privatbank", "oschadbank", "mod", "zsu"]}
DELIVERY = {
    "status": "firing",
    "alerts": [
        {"status": "firing", "labels": {"alertname": "incident_confirmed", "service": "mod"}},
        {"status": "resolved", "labels": {"alertname": "service_down", "service": "mod"}},
    ],
}


def summary_of(
    incidents: list[dict[str, Any]],
    campaigns: list[dict[str, Any]],
    deliveries: list[dict[str, Any]],
) -> list[str]:
    record = Record()
    record.add(Snapshot(0.0, DAY, incidents=incidents, campaigns=campaigns))
    return summarise(record, deliveries).problems


def test_the_story_as_expected() -> None:
    assert summary_of(good_incidents(), [CAMPAIGN], [DELIVERY]) == []


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda i: i[:3], "no incident was opened for zsu"),
        (
            lambda i: [*i, inc("monobank")],
            "monobank's short blip (below failures_before_down) became an incident",
        ),
        (lambda i: [*i, inc("diia")], "unexpected incident for diia"),
        (
            lambda i: [inc("privatbank", announced=False, confirmed=False), *i[1:]],
            "the privatbank incident was not confirmed (observed=True, announced=False)",
        ),
        (
            lambda i: [i[0], inc("oschadbank"), *i[2:]],
            "oschadbank was not flagged restored_claim_while_down though the notice came while it was down",
        ),
        (
            lambda i: [inc("privatbank", ("restored_claim_while_down",)), *i[1:]],
            "privatbank was flagged restored_claim_while_down though it was up when the notice came",
        ),
    ],
)
def test_incident_problems(change: Any, problem: str) -> None:
    assert problem in summary_of(change(good_incidents()), [CAMPAIGN], [DELIVERY])


@pytest.mark.parametrize(
    ("campaigns", "problem"),
    [
        ([], "no campaign was formed"),
        ([CAMPAIGN, {**CAMPAIGN, "id": "c2"}], "2 campaigns were formed instead of one"),
        (
            [{**CAMPAIGN, "services": ["privatbank", "oschadbank", "mod"]}],
            "the campaign is missing zsu",
        ),
        (
            [{**CAMPAIGN, "services": [*CAMPAIGN["services"], "diia"]}],
            "the campaign wrongly includes diia",
        ),
    ],
)
def test_campaign_problems(campaigns: list[dict[str, Any]], problem: str) -> None:
    assert summary_of(good_incidents(), campaigns, [DELIVERY]) == [problem]


def test_no_alerts_delivered() -> None:
    assert summary_of(good_incidents(), [CAMPAIGN], []) == ["no alert was delivered to the webhook"]


def test_flags_and_confirmation_are_remembered_across_snapshots() -> None:
    record = Record()
    record.add(Snapshot(0.0, DAY, incidents=good_incidents(), campaigns=[CAMPAIGN]))
    later = [inc(s, status="resolved") for s in ("privatbank", "oschadbank", "mod", "zsu")]
    record.add(Snapshot(1.0, DAY, incidents=later, campaigns=[{**CAMPAIGN, "status": "closed"}]))
    result = summarise(record, [DELIVERY])
    assert result.ok
    osch = next(r for r in result.incidents if r["service"] == "oschadbank")
    assert osch["flags"] == ["restored_claim_while_down"] and osch["status"] == "resolved"


def test_alert_stats() -> None:
    assert alert_stats([DELIVERY, DELIVERY]) == {
        "notifications": 2,
        "alerts": 4,
        "firing": 2,
        "resolved": 2,
        "alertnames": ["incident_confirmed", "service_down"],
    }


def test_text_says_what_did_not_happen() -> None:
    record = Record()
    lines = text(summarise(record, []))
    assert "NOT AS EXPECTED: no incident was opened for privatbank" in lines
    ok = Record()
    ok.add(Snapshot(0.0, DAY, incidents=good_incidents(), campaigns=[CAMPAIGN]))
    out = "\n".join(text(summarise(ok, [DELIVERY])))
    assert "OK: the story played out" in out
    assert "oschadbank" in out and "restored_claim_while_down" in out
