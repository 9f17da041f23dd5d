"""The notice classifier: kinds, military versus cyber, inflected aliases, hostile text."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.core.base import ANNOUNCEMENT_KINDS
from monitor.core.classify.classifier import Classifier


@dataclass
class Svc:
    """The shape the classifier reads from config services."""

    name: str
    aliases: list[str]
    checks: list[Any] = field(default_factory=list)


@dataclass
class Check:
    """A config check as far as the classifier cares: its endpoint."""

    target: str

    def endpoint(self) -> str:
        return self.target


SERVICES = [
    Svc("privatbank", ["ПриватБанк", "PrivatBank", "Приват24"], [Check("https://privatbank.ua/")]),
    Svc("oschadbank", ["Ощадбанк", "Oschadbank", "Ощад 24/7"]),
    Svc("monobank", ["monobank", "монобанк"], [Check("monobank.ua:443")]),
    Svc(
        "mod",
        ["Міністерство оборони", "Міноборони", "Минобороны", "Ministry of Defence", "mil.gov.ua"],
    ),
    Svc("zsu", ["Збройні сили України", "Збройні сили", "ЗСУ", "ВСУ", "Armed Forces of Ukraine"]),
    Svc("diia", ["Дія", "Дия", "Diia"]),
    Svc("kyivstar", ["Київстар", "Киевстар", "Kyivstar"], [Check("kyivstar.ua")]),
    Svc("kmu", ["Кабмін", "Кабмин", "Кабінет Міністрів"]),
]
NAMES = {s.name for s in SERVICES}


@pytest.fixture(scope="module")
def clf() -> Classifier:
    return Classifier.from_services(SERVICES)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        # cyber attacks, three languages
        ("Фіксуємо масовану DDoS-атаку на сайти банків.", "attack"),
        ("Сайт Міноборони атакований хакерами.", "attack"),
        ("Ощадбанк подвергся кибератаке.", "attack"),
        ("Hackers defaced several government websites overnight.", "attack"),
        ("Ощадбанк відбиває DDoS-атаку, можливі перебої.", "attack"),  # still going on
        # military: an attack that is not a cyberattack
        ("ЗСУ відбили атаку на Запорізькому напрямку.", "other"),
        ("Ракетна атака на Київ: працюють рятувальники.", "other"),
        ("Ukrainian troops repelled an attack near the front.", "other"),
        ("ВСУ отразили атаку противника.", "other"),
        ("Нічний обстріл Харкова, є поранені.", "other"),
        # outages
        ("Приват24 не працює у частини клієнтів.", "outage"),
        ("Сайт Міноборони тимчасово недоступний.", "outage"),
        ("У Київстара сбой мобильной связи.", "outage"),
        ("Diia is unavailable due to maintenance.", "outage"),
        ("Сайт знову недоступний.", "outage"),  # "again" with bad news
        # restored
        ("ПриватБанк: атаку відбито, сервіси працюють у штатному режимі.", "restored"),
        ("Роботу сайту відновлено.", "restored"),
        ("Киевстар восстановил связь.", "restored"),
        ("Diia is back online after the DDoS attack.", "restored"),
        ("Web resources resumed after the attack.", "restored"),
        # hoped-for or negated good news is not good news
        ("Сайт ще не відновлено, фахівці працюють.", "outage"),
        ("Банк працює, щоб відновити доступ до Приват24, застосунок недоступний.", "outage"),
        # advisories
        ("Кіберполіція попереджає про фішингові розсилки.", "advisory"),
        ("Не переходьте за підозрілими посиланнями.", "advisory"),
        ("CERT-UA warns of phishing emails impersonating banks.", "advisory"),
        ("Специалисты советуют включить двухфакторную аутентификацию.", "advisory"),
        # product news and the rest
        ("Monobank запустив нову функцію накопичувальних банок.", "other"),
        ("ПриватБанк знизив ставки за депозитами.", "other"),
        ("Кабмін ухвалив постанову про підтримку переселенців.", "other"),
        ("", "other"),
    ],
)
def test_kind(clf: Classifier, text: str, kind: str) -> None:
    got = clf.classify(text)
    assert got.kind == kind, got.evidence


@pytest.mark.parametrize(
    ("text", "services"),
    [
        ("DDoS-атака на інфраструктуру ПриватБанку.", {"privatbank"}),
        ("Роботу Ощадбанку відновлено.", {"oschadbank"}),
        ("Сайти ЗСУ та Міноборони працюють.", {"zsu", "mod"}),
        ("У абонентів Київстару немає зв'язку.", {"kyivstar"}),
        ("Портал Дії недоступний.", {"diia"}),
        ("Атака на ПриватБанка продолжается.", {"privatbank"}),
        ("Киевстара абоненты без связи.", {"kyivstar"}),
        ("Сайт Міністерства оборони атакований.", {"mod"}),
        ("Сайт Збройних сил недоступний.", {"zsu"}),
        ("Сайт Кабміну знову доступний.", {"kmu"}),
        ("«Ощад 24/7» тимчасово не працює.", {"oschadbank"}),
        ("The Ministry of Defence website is down.", {"mod"}),
        ("Ukraine's Armed Forces of Ukraine site is offline.", {"zsu"}),
        # domains: an alias, a check's URL, a check's host:port, a subdomain
        ("mil.gov.ua не відкривається", {"mod"}),
        ("https://www.privatbank.ua/ недоступний", {"privatbank"}),
        ("api.monobank.ua returns errors", {"monobank"}),
        ("kyivstar.ua is unreachable", {"kyivstar"}),
        # a common word in lower case is not the service; a different word is not an alias
        ("Дія постанови поширюється на всіх.", {"diia"}),  # capitalised at the start: linked
        ("Сьогодні набирає чинності дія постанови.", set()),
        ("Міністр оборони провів нараду.", set()),
        ("Цього дня дії окупантів були невдалими.", set()),
        ("mil.gov.ua.example.com is a phishing site", set()),
        ("Visit kyivstar.ua.evil.test now", set()),
    ],
)
def test_services(clf: Classifier, text: str, services: set[str]) -> None:
    assert set(clf.classify(text).services) == services


def test_evidence_names_the_deciding_words(clf: Classifier) -> None:
    got = clf.classify("Фіксуємо DDoS-атаку на інфраструктуру ПриватБанку.")
    assert got.kind == "attack"
    assert "cyber: DDoS" in got.evidence
    assert "service privatbank: ПриватБанку" in got.evidence
    assert 0.0 < got.confidence <= 1.0


def test_military_evidence_says_why_not_cyber(clf: Classifier) -> None:
    got = clf.classify("ЗСУ відбили атаку окупантів.")
    assert got.kind == "other"
    assert any(e.startswith("army: ") for e in got.evidence)


def test_deterministic(clf: Classifier) -> None:
    text = "ПриватБанк і monobank під DDoS-атакою, можливі збої; сайт знову працює частково."
    assert len({clf.classify(text) for _ in range(5)}) == 1
    assert Classifier.from_services(SERVICES).classify(text) == clf.classify(text)


def test_no_services_configured() -> None:
    got = Classifier.from_services([]).classify("DDoS-атака на ПриватБанк")
    assert (got.kind, got.services) == ("attack", ())


@pytest.mark.parametrize(
    "text",
    [
        "",
        " \n\t ",
        "\x00\x01\x02 ПриватБанк \x7f",
        "\u202eПриват\u200fБанк\u200b недоступний\u202c",  # RTL override and zero-width marks
        "<b>ПриватБанк</b> &amp; <a href='x'>Дія</a> <script>alert(1)</script>",
        "**ПриватБанк** _не працює_ [link](https://privatbank.ua)",
        "\ud800 lone surrogate \udfff DDoS",
        "а" * 100_000,
        "ПриватБанк " * 50_000,
        "<" * 10_000 + ">" * 10_000,
        "&#" * 50_000,
        "🔥" * 10_000 + " Дія",
        "x" * 1_000_000,
    ],
)
def test_hostile_text_gives_a_result(clf: Classifier, text: str) -> None:
    started = time.perf_counter()
    got = clf.classify(text)
    assert got.kind in ANNOUNCEMENT_KINDS
    assert set(got.services) <= NAMES
    assert time.perf_counter() - started < 2.0  # the work is bounded


def test_invisible_marks_inside_a_word_do_not_split_it(clf: Classifier) -> None:
    assert clf.classify("Приват\u200bБанк\u200f недоступний").services == ("privatbank",)


def test_one_megabyte_is_bounded(clf: Classifier) -> None:
    text = "Сайт Укрпошти не відкривається, подробиці згодом. " * 25_000  # ~1.3 MB
    started = time.perf_counter()
    got = clf.classify(text)
    assert got.kind == "outage"
    assert time.perf_counter() - started < 1.0


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.text(max_size=2000))
def test_any_text_gives_a_valid_result(clf: Classifier, text: str) -> None:
    got = clf.classify(text)
    assert got.kind in ANNOUNCEMENT_KINDS
    assert set(got.services) <= NAMES
    assert 0.0 <= got.confidence <= 1.0
    assert all(isinstance(e, str) for e in got.evidence)


WORDS = st.sampled_from(
    [
        "ПриватБанку",
        "Дії",
        "дія",
        "атаку",
        "DDoS",
        "не",
        "працює",
        "відновлено",
        "ЗСУ",
        "відбили",
        "ракетна",
        "Київстару",
        "mil.gov.ua",
        "знову",
        "недоступний",
        "back",
        "online",
        "attack",
        "phishing",
        "попереджає",
        "Міністерства",
        "оборони",
    ]
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(WORDS | st.text(max_size=5), max_size=40).map(" ".join))
def test_word_salad_gives_a_valid_result(clf: Classifier, text: str) -> None:
    got = clf.classify(text)
    assert got.kind in ANNOUNCEMENT_KINDS
    assert set(got.services) <= NAMES
    assert len(got.services) == len(set(got.services))
