"""Alert rules: which alerts fire for which state (tables)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from monitor.core.alertrules import (
    AlertInputs,
    CertFacts,
    ServiceFacts,
    SourceFacts,
    alerts_for,
    describe_signature,
)

NOW = datetime(2022, 2, 15, 14, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Inc:
    service: str
    observed: bool = True
    announced: bool = False
    flags: Sequence[str] = ()
    campaign: str | None = None
    group: str = "bank"
    started_at: datetime = NOW - timedelta(minutes=20)
    failing_checks: Sequence[str] = ("web",)
    signature: Mapping[str, int] = field(default_factory=lambda: {"timeout": 7, "http_status": 3})
    announcements: Mapping[str, str] = field(default_factory=dict)
    hints: Sequence[str] = ("likely volumetric/DDoS",)

    @property
    def id(self) -> str:
        return f"{self.service}@{self.started_at.isoformat()}"

    @property
    def confirmed(self) -> bool:
        return self.observed and self.announced


@dataclass(frozen=True)
class Camp:
    id: str = "campaign@2022-02-15T13:40:00+00:00"
    started_at: datetime = NOW - timedelta(minutes=20)
    services: Sequence[str] = ("privatbank", "oschadbank", "mod")
    groups: Sequence[str] = ("bank", "government")


def names(inp: AlertInputs) -> list[tuple[str, str]]:
    return sorted(
        (a.labels["alertname"], a.labels.get("service", a.labels.get("source", "")))
        for a in alerts_for(inp)
    )


@pytest.mark.parametrize(
    ("status", "expected"),
    [("up", []), ("degraded", []), ("unknown", []), ("down", [("service_down", "privatbank")])],
)
def test_service_down_only_when_down(status: str, expected: list[tuple[str, str]]) -> None:
    inp = AlertInputs(
        "kyiv-1", NOW, services=[ServiceFacts("privatbank", "PrivatBank", "bank", status)]
    )
    assert names(inp) == expected


@pytest.mark.parametrize(
    ("incident", "expected"),
    [
        (Inc("privatbank"), []),
        (Inc("privatbank", announced=True), [("incident_confirmed", "privatbank")]),
        (
            Inc("privatbank", observed=False, announced=True, flags=("announced_not_observed",)),
            [("announced_not_observed", "privatbank")],
        ),
        (
            Inc("oschadbank", announced=True, flags=("restored_claim_while_down",)),
            [("incident_confirmed", "oschadbank"), ("restored_claim_while_down", "oschadbank")],
        ),
        (Inc("mod", flags=("observed_not_announced",)), [("observed_not_announced", "mod")]),
    ],
)
def test_incident_alerts(incident: Inc, expected: list[tuple[str, str]]) -> None:
    assert names(AlertInputs("kyiv-1", NOW, incidents=[incident])) == expected


def test_campaign_label_lets_members_group_together() -> None:
    camp = Camp()
    inp = AlertInputs(
        "kyiv-1",
        NOW,
        services=[ServiceFacts("privatbank", "PrivatBank", "bank", "down")],
        incidents=[Inc("privatbank", announced=True, campaign=camp.id)],
        campaigns=[camp],
    )
    alerts = alerts_for(inp)
    assert {a.labels.get("campaign") for a in alerts} == {camp.id}
    assert all(a.labels["vantage"] == "kyiv-1" for a in alerts)
    confirmed = next(a for a in alerts if a.labels["alertname"] == "incident_confirmed")
    assert "70% timed out" in confirmed.annotations["description"]


def test_fingerprint_is_stable_across_evaluations() -> None:
    inp = AlertInputs(
        "kyiv-1", NOW, services=[ServiceFacts("privatbank", "PrivatBank", "bank", "down")]
    )
    later = AlertInputs("kyiv-1", NOW + timedelta(minutes=5), services=inp.services)
    assert alerts_for(inp)[0].fingerprint == alerts_for(later)[0].fingerprint


@pytest.mark.parametrize(
    ("connected", "down_for", "last_msg_age", "expected"),
    [
        (True, None, 60, []),
        (False, 60, 60, []),  # a short disconnect is not worth a page
        (False, 600, 60, ["source_disconnected"]),
        (True, None, 8 * 86400, ["source_stale"]),
    ],
)
def test_source_alerts(
    connected: bool, down_for: float | None, last_msg_age: float, expected: list[str]
) -> None:
    src = SourceFacts(
        "dsszzi",
        "telegram",
        connected,
        last_message_at=NOW - timedelta(seconds=last_msg_age),
        down_since=None if down_for is None else NOW - timedelta(seconds=down_for),
        stale_after=7 * 86400,
    )
    inp = AlertInputs("kyiv-1", NOW, sources=[src])
    assert [a.labels["alertname"] for a in alerts_for(inp)] == expected


@pytest.mark.parametrize(("days_left", "fires"), [(30, False), (13, True), (-1, True)])
def test_cert_expiring(days_left: float, fires: bool) -> None:
    cert = CertFacts(
        "diia", "government", "tls:diia.gov.ua:443", NOW + timedelta(days=days_left), 14 * 86400
    )
    assert bool(alerts_for(AlertInputs("kyiv-1", NOW, certs=[cert]))) is fires


def test_vantage_offline() -> None:
    alerts = alerts_for(AlertInputs("kyiv-1", NOW, vantage_offline_since=NOW))
    assert [a.labels["alertname"] for a in alerts] == ["vantage_offline"]


def test_describe_signature() -> None:
    assert describe_signature({}) == "no failed probes recorded"
    assert (
        describe_signature({"timeout": 3, "refused": 1})
        == "75% timed out, 25% refused (of 4 failed probes)"
    )


def test_campaign_label_is_pinned_at_birth() -> None:
    from monitor.core.alertrules import CampaignPins

    pins = CampaignPins()
    early = ServiceFacts("privatbank", "PrivatBank", "bank", "down")
    before = pins.apply(alerts_for(AlertInputs("kyiv-1", NOW, services=[early])))
    # the campaign opens: privatbank's alert keeps its identity; a newcomer joins the wave
    camp = Camp()
    inp = AlertInputs(
        "kyiv-1",
        NOW,
        services=[early, ServiceFacts("mod", "MoD", "government", "down")],
        incidents=[
            Inc("privatbank", campaign=camp.id),
            Inc("mod", campaign=camp.id, group="government"),
        ],
    )
    after = {
        a.labels["service"]: a
        for a in pins.apply(alerts_for(inp))
        if a.labels["alertname"] == "service_down"
    }
    assert after["privatbank"].fingerprint == before[0].fingerprint
    assert after["mod"].labels["campaign"] == camp.id


def test_alerts_link_the_incident_and_campaign_pages() -> None:
    """Every alert about an incident points at its page: generatorURL and annotations."""
    inc = Inc(
        "privatbank",
        announced=True,
        flags=("restored_claim_while_down",),
        campaign="CMP-20220215-01",
    )
    inp = AlertInputs(
        "kyiv-1",
        NOW,
        external_url="https://soc.example/outwatch",
        services=[ServiceFacts("privatbank", "PrivatBank", "bank", "down")],
        incidents=[inc],
        campaigns=[Camp(id="CMP-20220215-01")],
    )
    page = "https://soc.example/outwatch/incidents/" + inc.id.replace("+", "%2B").replace(
        ":", "%3A"
    )
    by_name = {a.labels["alertname"]: a for a in alerts_for(inp)}
    for name in ("service_down", "incident_confirmed", "restored_claim_while_down"):
        a = by_name[name]
        assert a.generator_url == page, name
        assert a.annotations["incident_url"] == page and a.annotations["incident"] == inc.id
        assert a.annotations["campaign"] == "CMP-20220215-01"
    camp = by_name["campaign_opened"]
    assert camp.generator_url == "https://soc.example/outwatch/campaigns/CMP-20220215-01"
    assert camp.annotations["campaign_url"] == camp.generator_url
    assert "incident_url" not in camp.annotations


@dataclass(frozen=True)
class ClaimedInc(Inc):
    cause: str = "technical"
    withdrawn: Sequence[str] = ("dsszzi/7",)


def test_annotations_say_the_claimed_cause_and_what_was_withdrawn() -> None:
    inc = ClaimedInc(
        "privatbank",
        announced=True,
        flags=("cause_disputed",),
        announcements={"dsszzi/8": "outage"},
    )
    alerts = alerts_for(AlertInputs("kyiv-1", NOW, incidents=[inc]))
    disputed = next(a for a in alerts if a.labels["alertname"] == "cause_disputed")
    text = disputed.annotations["description"]
    assert "dsszzi/8 (outage)" in text
    assert "Cause, as official claims say: technical" in text
    assert "Withdrawn (edited or deleted): dsszzi/7" in text
    assert "technical failure" in disputed.annotations["summary"]
