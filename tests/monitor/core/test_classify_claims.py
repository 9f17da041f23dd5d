"""Claims: one table per construction, each in Ukrainian, Russian and English."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor import config
from monitor.core.base import CLAIM_KINDS
from monitor.core.classify.classifier import Classifier
from monitor.core.classify.eval import claim_keys, evaluate, load_notices

DATA = Path(__file__).parents[1] / "data"
Key = tuple[str, str, str, str]


@pytest.fixture(scope="module")
def clf() -> Classifier:
    return Classifier.from_services(config.load(DATA / "claims_services.yaml").services)


def _claims(clf: Classifier, text: str, service: str | None = None) -> set[Key]:
    return set(claim_keys(clf.classify(text, service)))


def A(svc: str, kind: str, time: str = "now") -> Key:
    return (svc, kind, "asserted", time)


def D(svc: str, kind: str) -> Key:
    return (svc, kind, "denied", "now")


CASES: dict[str, list[tuple[str, set[Key]]]] = {
    "denial of a report": [
        ("Інформація про DDoS-атаку на Ощадбанк не підтверджується.", {D("oschadbank", "attack")}),
        ("Укрпочта опровергает сообщения о взломе.", {D("ukrposhta", "attack")}),
        ("Kyivstar denies reports of a cyberattack.", {D("kyivstar", "attack")}),
        ("Повідомлення про злам Дії — фейк.", {D("diia", "attack")}),
    ],
    "negation before or after": [
        ("Збою в роботі Приват24 не було.", {D("privatbank", "outage")}),
        ("Кибератаки на Ощадбанк не зафиксировано.", {D("oschadbank", "attack")}),
        ("No DDoS attack on monobank was detected.", {D("monobank", "attack")}),
    ],
    "technical, not an attack": [
        (
            "Збій у Приват24 — технічний, а не кібератака.",
            {A("privatbank", "outage"), D("privatbank", "attack")},
        ),
        (
            "Сбой в Дии вызван техническими проблемами, а не кибератакой.",
            {A("diia", "outage"), D("diia", "attack")},
        ),
        (
            "Monobank said the outage was a technical failure rather than an attack on its systems.",
            {A("monobank", "outage"), D("monobank", "attack")},
        ),
    ],
    "past reference": [
        ("Рік тому Укрпошта зазнала DDoS-атаки.", {A("ukrposhta", "attack", "past")}),
        ("В прошлом году Киевстар пережил кибератаку.", {A("kyivstar", "attack", "past")}),
        ("Back in 2022, Oschadbank was hit by a DDoS.", {A("oschadbank", "attack", "past")}),
        ("Нагадаємо, торік Дія була недоступна через DDoS.", {A("diia", "attack", "past")}),
    ],
    "planned restoration": [
        ("Роботу Дії мають бути відновлено до вечора.", {A("diia", "restored", "planned")}),
        ("Киевстар планирует восстановить связь.", {A("kyivstar", "restored", "planned")}),
        (
            "Ukrposhta services will be restored within the hour.",
            {A("ukrposhta", "restored", "planned")},
        ),
    ],
    "planned outage (maintenance)": [
        (
            "Приват24 буде недоступний через технічні роботи.",
            {A("privatbank", "outage", "planned")},
        ),
        ("Приват24 будет недоступен ночью.", {A("privatbank", "outage", "planned")}),
        ("Privat24 will be unavailable on Sunday night.", {A("privatbank", "outage", "planned")}),
        (
            "Київстар попереджає: вночі можливі перерви зв'язку.",
            {A("kyivstar", "outage", "planned")},
        ),
        (
            "Киевстар предупреждает о возможных перерывах связи.",
            {A("kyivstar", "outage", "planned")},
        ),
        (
            "Kyivstar warns of interruptions of service tonight.",
            {A("kyivstar", "outage", "planned")},
        ),
    ],
    "attack now, restoration planned": [
        (
            "Сервери Ощадбанку відключено через DDoS; сервіси запрацюють за дві години.",
            {A("oschadbank", "attack"), A("oschadbank", "restored", "planned")},
        ),
        (
            "Kyivstar was hit by a cyberattack; services will be restored within days.",
            {A("kyivstar", "attack"), A("kyivstar", "restored", "planned")},
        ),
    ],
    "parenthetical status": [
        (
            "Через DDoS недоступні сайти Мінфіну (вже відновлено), Мінекономіки та Укрпошти.",
            {A("minfin", "restored"), A("mineconomy", "attack"), A("ukrposhta", "attack")},
        ),
        (
            "DDoS-атака на сайты Минфина (уже работает) и Укрпочты.",
            {A("minfin", "restored"), A("ukrposhta", "attack")},
        ),
        (
            "A DDoS hit the Ministry of Finance (already back online) and Ukrposhta.",
            {A("minfin", "restored"), A("ukrposhta", "attack")},
        ),
    ],
    "contrast clause": [
        (
            "Сайт Кабміну вже доступний, проте сайт МЗС досі не відкривається.",
            {A("kmu", "restored"), A("mfa", "outage")},
        ),
        (
            "Сайт Минфина уже работает, а Верховная Рада все еще под DDoS-атакой.",
            {A("minfin", "restored"), A("rada", "attack")},
        ),
        (
            "The Ministry of Finance website is back online, while Ukrposhta remains under attack.",
            {A("minfin", "restored"), A("ukrposhta", "attack")},
        ),
        (
            "The Verkhovna Rada site works again, but the Cabinet of Ministers site is unavailable.",
            {A("rada", "restored"), A("kmu", "outage")},
        ),
    ],
    "repelled and working is restored": [
        ("Ощадбанку вдалося відбити кібератаку, сервіси працюють.", {A("oschadbank", "restored")}),
        ("ПриватБанк отбил DDoS-атаку.", {A("privatbank", "restored")}),
        ("Monobank repelled the DDoS attack.", {A("monobank", "restored")}),
    ],
    "still repelling is an attack": [
        ("Ощадбанк відбиває DDoS-атаку.", {A("oschadbank", "attack")}),
        ("Два роки тому Ощадбанк відбивав DDoS-атаки.", {A("oschadbank", "attack", "past")}),
        ("ПриватБанк отражает DDoS-атаку.", {A("privatbank", "attack")}),
        ("Oschadbank is repelling a DDoS attack.", {A("oschadbank", "attack")}),
    ],
    "English by lemma": [
        ("Monobank resumes card payments.", {A("monobank", "restored")}),
        ("Privat24 works again.", {A("privatbank", "restored")}),
        ("Ukrposhta's systems are recovering.", {A("ukrposhta", "restored")}),
    ],
    "war news from a monitored ministry": [
        ("МЗС: окупанти вдарили по Одесі дронами.", set()),
        ("Минобороны: ВСУ отразили атаку противника.", set()),
        ("The Ministry of Defence says Russian troops attacked near Pokrovsk.", set()),
    ],
    "a bare attack needs a website or service": [
        ("Атака на Укрпошту триває.", set()),
        ("Атака на сайт Укрпошти триває.", {A("ukrposhta", "attack")}),
        ("Attack on the Ukrposhta website continues.", {A("ukrposhta", "attack")}),
    ],
    "real-world noise": [
        ("Укрпошта під DDоS-атакою.", {A("ukrposhta", "attack")}),  # Cyrillic о
        ("Укрпошта під DDoS- атакою.", {A("ukrposhta", "attack")}),
        ("#Ukrtelecom: триває кібератака.", {A("ukrtelecom", "attack")}),
        ("#УкртелекомНеПрацює", {A("ukrtelecom", "outage")}),
        ("«Ощад 24/7» тимчасово не працює.", {A("oschadbank", "outage")}),
        ("Пpивaт24 не працює.", {A("privatbank", "outage")}),  # Latin p and a
    ],
    "denial with 'works normally' is no restoration": [
        (
            "Ukrzaliznytsia says no outage was detected and sales work normally.",
            {D("uz", "outage")},
        ),
        ("Дія працює стабільно, жодних збоїв не зафіксовано.", {D("diia", "outage")}),
    ],
    "impersonation is not about the service": [
        ("Шахраї розсилають SMS від імені ПриватБанку.", {A("", "advisory")}),
        ("Beware of phishing emails impersonating Ukrposhta.", {A("", "advisory")}),
    ],
}


@pytest.mark.parametrize(
    ("text", "claims"),
    [pytest.param(t, c, id=f"{name}: {t[:40]}") for name, rows in CASES.items() for t, c in rows],
)
def test_claims(clf: Classifier, text: str, claims: set[Key]) -> None:
    got = clf.classify(text)
    assert set(claim_keys(got)) == claims, got.claims


def test_every_claim_keeps_its_words(clf: Classifier) -> None:
    got = clf.classify("Повідомлення про хакерську атаку на Укрпошту не відповідають дійсності.")
    (claim,) = got.claims
    assert "cyber: хакерську" in claim.evidence
    assert "denied: не відповідають дійсності" in claim.evidence
    assert got.kind == "other"


def test_cause_is_technical_when_an_attack_is_denied(clf: Classifier) -> None:
    got = clf.classify("Збій у Приват24 — технічний, а не кібератака.")
    assert [c.cause for c in got.claims if c.kind == "outage"] == ["technical"]


@pytest.mark.parametrize(
    ("text", "own", "claims"),
    [
        ("Мобільний інтернет відновлено.", "kyivstar", {A("kyivstar", "restored")}),
        ("У нас збій, фахівці працюють.", "kyivstar", {A("kyivstar", "outage")}),
        ("We are under a DDoS attack.", "monobank", {A("monobank", "attack")}),
        # a notice that names a service is about that service, even on another's channel
        ("Сайт Укрпошти недоступний.", "kyivstar", {A("ukrposhta", "outage")}),
    ],
)
def test_own_channel(clf: Classifier, text: str, own: str, claims: set[Key]) -> None:
    got = clf.classify(text, own)
    assert set(claim_keys(got)) == claims
    assert own in got.services or claims == {A("ukrposhta", "outage")}


def test_overall_kind_is_the_most_telling_live_claim(clf: Classifier) -> None:
    got = clf.classify("Через DDoS недоступні сайти Мінфіну (вже відновлено) та Укрпошти.")
    assert got.kind == "attack"
    assert clf.classify("Рік тому Укрпошта зазнала DDoS-атаки.").kind == "other"


@pytest.mark.parametrize(
    "name", ["claims_dev.jsonl", "claims_heldout.jsonl", "claims_heldout2.jsonl"]
)
def test_corpus_quality(clf: Classifier, name: str) -> None:
    report = evaluate(clf, load_notices(DATA / name))
    misses = "\n".join(
        f"{n.id}: want {sorted(n.claims)}, got {g.claims}" for n, g in report.mistakes
    )
    assert report.kind_f1 >= 0.95, misses
    assert report.claims_f1 >= 0.95, misses
    assert report.false_alarms == [], misses


def test_corpus_covers_languages_and_constructions() -> None:
    notices = load_notices(DATA / "claims_dev.jsonl") + load_notices(DATA / "claims_heldout.jsonl")
    assert len(notices) >= 150
    assert {n.lang for n in notices} == {"uk", "ru", "en"}
    keys = {c[1:] for n in notices for c in n.claims}
    for kind in CLAIM_KINDS:
        assert (kind, "asserted", "now") in keys
    assert {("attack", "denied", "now"), ("attack", "asserted", "past")} <= keys
    assert {("restored", "asserted", "planned"), ("outage", "asserted", "planned")} <= keys
    assert any(not n.claims for n in notices)  # war and product news


WORDS = st.sampled_from(
    [
        "Укрпошту",
        "Київстар",
        "Мінфіну",
        "(",
        ")",
        ",",
        ";",
        ".",
        "а",
        "не",
        "DDoS",
        "атака",
        "відновлено",
        "буде",
        "мають",
        "бути",
        "рік",
        "тому",
        "back",
        "in",
        "2022",
        "will",
        "be",
        "restored",
        "not",
        "денies",
        "фейк",
        "спростовує",
        "#Ukrtelecom",
        "DDоS",
        "Пpивaт24",
        "працює",
        "знову",
        "штатно",
        "відбили",
        "отбил",
        "repelling",
        "—",
        "«",
        "»",
    ]
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(WORDS | st.text(max_size=6), max_size=50).map(" ".join),
    st.sampled_from([None, "kyivstar"]),
)
def test_never_raises_and_is_deterministic(clf: Classifier, text: str, own: str | None) -> None:
    first = clf.classify(text, own)
    assert first == clf.classify(text, own)
    assert all(c.kind in CLAIM_KINDS for c in first.claims)
    assert all(c.evidence for c in first.claims)
    assert len({(c.service, c.kind, c.polarity, c.time) for c in first.claims}) == len(first.claims)


class _Svc:
    def __init__(self, name: str, aliases: list[str]) -> None:
        self.name, self.aliases = name, aliases


@pytest.mark.parametrize(
    ("text", "services"),
    [
        ("Oshchadbank is under a DDoS attack.", {"oschadbank"}),  # transliterated by anyascii
        ("Сайт МЗС недоступний.", {"mfa"}),  # initials of a three-word name
        ("Сайт мзс недоступний.", set()),  # initials only in capitals
        ("CERT-UA urges organisations to enable MFA.", set()),  # no English initials
        ("Сайт Міністерства закордонних справ недоступний.", {"mfa"}),  # inflected, by lemma
    ],
)
def test_derived_alias_forms(text: str, services: set[str]) -> None:
    clf = Classifier.from_services(
        [
            _Svc("mfa", ["Міністерство закордонних справ", "Ministry of Foreign Affairs"]),
            _Svc("oschadbank", ["Ощадбанк"]),
        ]
    )
    assert set(clf.classify(text).services) == services
