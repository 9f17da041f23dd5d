"""Correlation by claims: edits, deletions, denials, past and planned claims, own channels, cause."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from monitor.config import Correlation
from monitor.core.base import Announcement, Claim, Classification, Message, Outage
from monitor.core.classify.classifier import Classifier
from monitor.core.correlate import Correlator
from monitor.core.incidents import Change, Incident

T0 = datetime(2022, 2, 15, 12, 0, tzinfo=UTC)
GROUPS = {
    "privatbank": "bank",
    "oschadbank": "bank",
    "monobank": "bank",
    "mod": "government",
    "kyivstar": "telecom",
}


class Svc:
    """A config service as far as the classifier cares."""

    def __init__(self, name: str, aliases: list[str]) -> None:
        self.name, self.aliases = name, aliases


CLASSIFIER = Classifier.from_services(
    [
        Svc("privatbank", ["ПриватБанк", "PrivatBank", "Приват24"]),
        Svc("oschadbank", ["Ощадбанк", "Oschadbank"]),
        Svc("monobank", ["monobank", "монобанк"]),
        Svc("mod", ["Міністерство оборони", "Міноборони", "Ministry of Defence"]),
        Svc("kyivstar", ["Київстар", "Kyivstar"]),
    ]
)


def t(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def msg(mid: int, at: float, text: str = "", deleted: bool = False, edit: float = 0) -> Message:
    edited = t(edit) if edit else None
    return Message("dsszzi", str(mid), t(at), text, edited_at=edited, deleted=deleted)


def said(mid: int, at: float, text: str, own: str | None = None, deleted: bool = False) -> Any:
    """An announcement classified by the real classifier."""
    return ("ann", Announcement(msg(mid, at, text, deleted), CLASSIFIER.classify(text, own)), at)


def edit(mid: int, published: float, at: float, text: str) -> Any:
    """An edit of message `mid` at `at`."""
    m = msg(mid, published, text, edit=at)
    return ("ann", Announcement(m, CLASSIFIER.classify(text)), at)


def claims(mid: int, at: float, *cs: Claim, deleted: bool = False) -> Any:
    """An announcement with the given claims."""
    c = Classification("other", tuple(dict.fromkeys(x.service for x in cs)), claims=cs)
    return ("ann", Announcement(msg(mid, at, deleted=deleted), c), at)


def run(events: Sequence[Any], corr: Correlator | None = None) -> tuple[Correlator, list[Change]]:
    corr = corr or Correlator(Correlation(), GROUPS, "kyiv-1")
    out: list[Change] = []
    for ev in events:
        match ev:
            case ("open", svc, start, *rest):
                sig = rest[0] if rest else {"timeout": 3}
                out += corr.outage_opened(Outage(svc, t(start), signature=sig), t(start))
            case ("close", svc, start, end):
                o = Outage(svc, t(start), ended_at=t(end), signature={"timeout": 5})
                out += corr.outage_closed(o, t(end))
            case ("status", svc, status, at):
                out += corr.status(svc, status, t(at))
            case ("ann", ann, at):
                out += corr.announcement(ann, t(at))
            case ("tick", at):
                out += corr.tick(t(at))
            case _:
                raise AssertionError(ev)
    return corr, out


def final(changes: Sequence[Change]) -> dict[str, Incident]:
    """The last word on each incident, by `<service>@<start>`."""
    seen: dict[str, Incident] = {}
    for c in changes:
        if c.incident is not None:
            seen[f"{c.incident.service}@{c.incident.started_at.isoformat()}"] = c.incident
    return seen


def down(svc: str, at: float, sig: dict[str, int] | None = None) -> list[Any]:
    return [("status", svc, "down", at), ("open", svc, at, sig or {"timeout": 3})]


def iid(svc: str, minutes: float) -> str:
    return f"{svc}@{t(minutes).isoformat()}"


def test_a_denial_naming_three_banks_while_probes_are_up_opens_nothing() -> None:
    text = (
        "Повідомлення про DDoS-атаку на ПриватБанк, Ощадбанк і monobank не відповідають дійсності."
    )
    _, out = run([*[("status", s, "up", 0) for s in GROUPS], said(1, 0, text), ("tick", 600)])
    assert out == []


@pytest.mark.parametrize(
    "text",
    [
        "Два роки тому Київстар пережив наймасштабнішу кібератаку.",
        "Back in 2022, Oschadbank was hit by a DDoS.",
        "Міноборони: окупанти вдарили по Одесі дронами.",
        "Роботу ПриватБанку планується відновити до вечора.",
        "Приват24 буде недоступний вночі через планові технічні роботи.",
    ],
)
def test_past_war_and_planned_claims_open_nothing(text: str) -> None:
    _, out = run([said(1, 0, text), ("tick", 600)])
    assert out == []


def test_planned_restoration_never_flags_restored_while_down() -> None:
    text = "Сервери ПриватБанку відключено через DDoS; сервіси запрацюють протягом двох годин."
    _, out = run([*down("privatbank", 0), said(1, 5, text), ("tick", 30)])
    (inc,) = final(out).values()
    assert inc.confirmed and inc.cause == "attack"
    assert "restored_claim_while_down" not in inc.flags


def test_a_parenthetical_restoration_flags_only_its_service() -> None:
    text = "Через DDoS недоступні ПриватБанк (вже відновлено) та Ощадбанк."
    _, out = run([*down("privatbank", 0), *down("oschadbank", 0), said(1, 5, text)])
    got = final(out)
    assert got[iid("privatbank", 0)].flags == ("restored_claim_while_down",)
    assert not got[iid("privatbank", 0)].announced  # a restoration does not confirm
    assert got[iid("oschadbank", 0)].flags == ()
    assert got[iid("oschadbank", 0)].confirmed


def test_an_old_restoration_never_confirms_a_new_outage() -> None:
    _, out = run([said(1, 0, "Роботу ПриватБанку відновлено."), *down("privatbank", 90)])
    inc = final(out)[iid("privatbank", 90)]
    assert (inc.announced, dict(inc.announcements)) == (False, {})


def test_an_attack_edited_into_a_restoration_resolves_an_announced_only_incident() -> None:
    _, out = run(
        [
            said(1, 0, "ПриватБанк під DDoS-атакою."),
            edit(1, 0, 20, "ПриватБанк: атаку відбито, сервіси працюють."),
        ]
    )
    inc = final(out)[iid("privatbank", 0)]
    assert (inc.status, inc.ended_at) == ("resolved", t(20))
    assert dict(inc.announcements) == {"dsszzi/1": "restored"}


def test_an_attack_edited_into_a_restoration_flags_while_down() -> None:
    _, out = run(
        [
            *down("privatbank", 0),
            said(1, 5, "ПриватБанк під DDoS-атакою."),
            edit(1, 5, 20, "Роботу ПриватБанку відновлено."),
        ]
    )
    inc = final(out)[iid("privatbank", 0)]
    assert inc.status == "open"
    assert "restored_claim_while_down" in inc.flags
    assert not inc.announced  # its only attack claim was edited away


def test_an_attack_edited_into_a_denial_closes_the_incident_and_keeps_its_history() -> None:
    _, out = run(
        [
            said(1, 0, "ПриватБанк під DDoS-атакою."),
            edit(1, 0, 20, "Інформація про DDoS-атаку на ПриватБанк не підтверджується."),
        ]
    )
    inc = final(out)[iid("privatbank", 0)]
    assert (inc.status, inc.ended_at, inc.withdrawn) == ("resolved", t(20), ("dsszzi/1",))


def test_a_deleted_notice_closes_its_announced_only_incidents_and_campaign() -> None:
    text = "Масована DDoS-атака на ПриватБанк, Ощадбанк і Міноборони."
    corr, out = run([said(1, 0, text)])
    assert [c.kind for c in out].count("campaign_opened") == 1
    _, out = run([said(1, 30, text, deleted=True)], corr)
    got = final(out)
    assert {i.status for i in got.values()} == {"resolved"}
    assert all(i.withdrawn == ("dsszzi/1",) for i in got.values())
    assert [c.kind for c in out if c.campaign is not None] == ["campaign_closed"]
    assert corr.campaigns() == []


def test_a_deleted_notice_leaves_an_observed_incident_open_unannounced() -> None:
    corr, out = run([*down("mod", 0), said(1, 5, "Сайт Міноборони під DDoS-атакою.")])
    assert final(out)[iid("mod", 0)].confirmed
    _, out = run([said(1, 5, "", deleted=True), ("tick", 60)], corr)
    inc = final(out)[iid("mod", 0)]
    assert (inc.status, inc.observed, inc.announced) == ("open", True, False)
    assert "observed_not_announced" in inc.flags


def test_another_notice_keeps_an_incident_open_after_a_deletion() -> None:
    corr, _ = run([said(1, 0, "ПриватБанк під DDoS-атакою."), said(2, 10, "Приват24 не працює.")])
    _, out = run([said(1, 0, "", deleted=True)], corr)
    inc = final(out)[iid("privatbank", 0)]
    assert (inc.status, inc.announced, inc.withdrawn) == ("open", True, ("dsszzi/1",))


def test_own_channel_notice_naming_no_service_is_about_the_channels_service() -> None:
    _, out = run(
        [*down("kyivstar", 0), said(1, 5, "Фіксуємо потужну хакерську атаку.", "kyivstar")]
    )
    inc = final(out)[iid("kyivstar", 0)]
    assert inc.confirmed and inc.cause == "attack"


@pytest.mark.parametrize(
    ("text", "signature", "cause", "disputed"),
    [
        (
            "Збій у Приват24 — технічний, а не кібератака.",
            {"timeout": 9, "refused": 1},
            "technical",
            True,
        ),
        (
            "Збій у Приват24 — технічний, а не кібератака.",
            {"refused": 9, "timeout": 1},
            "technical",
            False,
        ),
        ("Приват24 під DDoS-атакою, сервери відключено.", {"refused": 10}, "attack", False),
        ("Приват24 не працює.", {"timeout": 10}, "unknown", False),
    ],
)
def test_cause_and_its_dispute(
    text: str, signature: dict[str, int], cause: str, disputed: bool
) -> None:
    _, out = run([*down("privatbank", 0, signature), said(1, 5, text)])
    inc = final(out)[iid("privatbank", 0)]
    assert inc.cause == cause
    assert ("cause_disputed" in inc.flags) == disputed


def test_an_edit_after_a_restart_replaces_the_claim() -> None:
    corr, _ = run([said(1, 0, "ПриватБанк під DDoS-атакою.")])
    again = Correlator(Correlation(), GROUPS, "kyiv-1")
    again.restore(corr.snapshot())
    _, out = run([said(1, 0, "ПриватБанк під DDoS-атакою.")], again)
    assert out == []  # the same claims again: nothing new
    _, out = run([edit(1, 0, 20, "ПриватБанк: атаку відбито, сервіси працюють.")], again)
    assert final(out)[iid("privatbank", 0)].status == "resolved"


def test_classification_without_claims_still_counts_by_kind() -> None:
    ann = Announcement(msg(1, 0), Classification("attack", ("mod",)))
    _, out = run([("ann", ann, 0)])
    assert final(out)[iid("mod", 0)].announced
