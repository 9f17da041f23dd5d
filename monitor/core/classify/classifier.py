"""Classify a notice (uk/ru/en): attack, outage, restored, advisory or other, and the services it names.

Words are compared by lemma (pymorphy3), so "ПриватБанку" is a form of the alias "ПриватБанк"
and "відновлено" of the cue "відновити". Every decision keeps the words that made it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from monitor.core.base import AnnouncementKind, Classification
from monitor.core.classify import morph
from monitor.core.classify.morph import Token

# Cues, as `label weight phrase`: a phrase is slots joined by " + " (later slots may follow the
# earlier one within GAP words); a slot lists, with "|", lemmas of Ukrainian/Russian words or
# English word forms. Labels are kinds or the contexts that decide between them.
GAP = 2
_CUES = r"""
cyber    1.0  ddos|dos|дудос|ддос
cyber    1.0  кібератака|кибератака|cyberattack|cyberattacks|кіберінцидент|киберинцидент
cyber    1.0  кібер|кибер|cyber + атака|attack|attacks|інцидент|инцидент|incident
cyber    1.0  хакер|хакерський|хакерский|hacker|hackers|hacked|hacking|hacktivists|хактивіст|хактивист
cyber    1.0  зламати|зламаний|злам|взломать|взломанный|взлом|deface|defaced|defacement|дефейс
cyber    1.0  ransomware|шифрувальник|шифровальщик|wiper|вайпер
attack   1.0  атака|атакувати|атакований|атаковать|атакованный|attack|attacks|attacked|attacking
it       1.0  сайт|вебсайт|веб|портал|сервер|сервіс|сервис|застосунок|додаток|приложение|онлайн|інтернет|интернет|банкінг|банкинг|мережа|сеть|ресурс|інфраструктура|инфраструктура|website|websites|site|sites|portal|server|servers|service|services|app|online|internet|banking|network|infrastructure|система|platform|платформа
weapon   1.0  ракета|ракетний|ракетный|обстріл|обстрел|удар|артилерія|артиллерия|дрон|бпла|шахед|бомба|авіаудар|авиаудар|missile|missiles|rocket|shelling|artillery|drone|drones|airstrike|strike|strikes|bomb|bombing
army     1.0  зсу|всу|військовий|военный|армія|армия|фронт|бригада|противник|ворог|враг|окупант|оккупант|позиція|позиция|наступ|наступление|штурм|танк|бронетехніка|troops|soldiers|army|front|frontline|forces|armoured|armored|enemy|offensive|brigade|military
restored 1.2  відновити|відновлений|відновитися|восстановить|восстановленный|восстановиться|restored|resumed|recovered|запрацювати|заработать
restored 1.2  знову|снова|вже|уже + працювати|доступний|функціонувати|відкриватися|работать|доступный|функционировать|открываться|online|accessible|available|working|operational|up
restored 1.2  працювати|доступний|функціонувати|работать|доступный|функционировать|accessible|available|working|operational|online + знову|снова|again
restored 1.2  back + online|normal|up
restored 1.2  штатний|звичайний|нормальний|звичний|штатный|обычный|нормальный|привычный + режим
restored 1.2  стабільно|стабильно|normally|stably|нормально + працювати|работать|функціонувати|функционировать|working|operating|operate|work|functioning
restored 1.2  працювати|работать|функціонувати|функционировать|working|operating|functioning|processing + стабільно|стабильно|normally|stably|нормально|штатно
restored 1.0  усунути|устранить|fixed|resolved + збій|сбой|проблема|неполадка|наслідок|последствие|issue|issues|problem|outage
restored 1.0  збій|сбой|проблема|неполадка|несправність|неисправность|issue|issues|problem|outage + усунути|усунутий|устранить|устраненный|fixed|resolved
repelled 1.2  відбити|відбитий|отразить|отраженный|відбивати|отражать|repelled|mitigated|fended
outage   1.2  недоступний|недоступный|недоступність|недоступность|unavailable|inaccessible|unreachable
outage   1.0  збій|сбой|перебій|перебой|outage|outages|disruption|disruptions|disrupted|offline|degraded|interruption|interruptions|interrupted
outage   1.0  неполадка|несправність|неисправность|відключення|отключение|аварія|авария|відсутній|отсутствовать|відсутність|отсутствие
outage   1.0  технічний|технический|регламентний|регламентный|technical + робота|работа|проблема|неполадка|збій|сбой|помилка|ошибка|problem|problems|issue|issues|difficulties|glitch|glitches|failure|fault
outage   1.0  maintenance|downtime
outage   0.8  down
outage   0.6  проблема|problem|problems|issues|затримка|задержка|delay|delays|помилка|ошибка|error|errors|failure|failures|slowdown|glitch|glitches|fail|fails
outage   0.4  тимчасово|временно|тимчасовий|временный|temporarily|temporary
outage   1.2  не|not|ні|нет + працювати|відкриватися|завантажуватися|могти|вдатися|вдаватися|бачити|проходити|функціонувати|доступний|відповідати|работать|открываться|загружаться|мочь|удаться|удаваться|видеть|проходить|функционировать|доступный|отвечать|working|available|accessible|load|loading|respond|responding|work
outage   1.2  немає|нема|нет|no + зв'язок|доступ|зв'язку|связь|доступа|connection|access|signal|service
outage   1.2  couldn't|can't|cannot|unable + log|login|access|see|connect|pay|use|load|make|open|reach
advisory 1.2  попереджати|попередити|попередження|застерігати|застерегти|рекомендувати|рекомендація|радити|порадити|порада|закликати|нагадувати|предупреждать|предупредить|предупреждение|рекомендовать|рекомендация|советовать|посоветовать|призывать|напоминать
advisory 1.2  warn|warns|warned|warning|warnings|urge|urges|urged|advise|advises|advised|advisory|recommend|recommends|recommended|recommendation|recommendations|beware|reminds|remind
advisory 1.0  будьте|будь + обережний|пильний|уважний|осторожный|бдительный|внимательный|careful|vigilant|cautious
advisory 0.6  зловмисник|злоумышленник|шкідливий|вредоносный|malware|malicious|вірус|вирус|virus|підозрілий|подозрительный|suspicious|patch|неофіційний|неофициальный
phishing 1.2  фішинг|фішинговий|фишинг|фишинговый|phishing|шахрай|шахрайський|шахрайство|мошенник|мошеннический|мошенничество|scam|scams|scammers|fraud|fraudsters|fraudulent
"""
_NEGATIONS = frozenset(
    {"не", "ні", "ни", "not", "no", "never", "isn't", "aren't", "wasn't", "hasn't", "haven't"}
)


@dataclass(frozen=True, slots=True)
class _Cue:
    label: str
    weight: float
    slots: tuple[frozenset[str], ...]


def _parse_cues(table: str) -> list[_Cue]:
    cues = []
    for line in table.strip().splitlines():
        label, weight, phrase = line.split(None, 2)
        slots = tuple(frozenset(s.strip().split("|")) for s in phrase.split(" + "))
        cues.append(_Cue(label, float(weight), slots))
    return cues


CUES = _parse_cues(_CUES)
_MEMO_LIMIT = 100_000


@dataclass(frozen=True, slots=True)
class _Alias:
    service: str
    slots: tuple[frozenset[str], ...]
    needs_capital: bool  # "Дія" is the service, "дія постанови" is not


@dataclass(frozen=True, slots=True)
class _Hit:
    label: str
    weight: float
    start: int  # character span in the cleaned text
    end: int


class Classifier:
    """Decides a notice's kind and links it to configured services; pure and deterministic."""

    def __init__(self, aliases: Iterable[_Alias], domains: dict[str, str], names: Sequence[str]):
        self._by_first: dict[str, list[_Alias]] = defaultdict(list)
        aliases = list(aliases)
        self._alias_order = {a: i for i, a in enumerate(aliases)}
        self._cue_order = {c: i for i, c in enumerate(CUES)}
        for alias in aliases:
            for lemma in alias.slots[0]:
                self._by_first[lemma].append(alias)
        self._domains = dict(domains)
        self._order = {name: i for i, name in enumerate(names)}
        self._cues: dict[str, list[_Cue]] = defaultdict(list)
        for cue in CUES:
            for lemma in cue.slots[0]:
                self._cues[lemma].append(cue)
        # per distinct word (its lemma set): the cues and aliases it may begin; most notices
        # reuse the same words, so this is where the time goes
        self._starts: dict[frozenset[str], tuple[tuple[_Cue, ...], tuple[_Alias, ...]]] = {}

    def _starting(self, lemmas: frozenset[str]) -> tuple[tuple[_Cue, ...], tuple[_Alias, ...]]:
        found = self._starts.get(lemmas)
        if found is None:
            # in table order, whatever the order of the set: the same text, the same evidence
            cues = {c for lemma in lemmas for c in self._cues.get(lemma, ())}
            aliases = {a for lemma in lemmas for a in self._by_first.get(lemma, ())}
            found = (
                tuple(sorted(cues, key=self._cue_order.__getitem__)),
                tuple(sorted(aliases, key=self._alias_order.__getitem__)),
            )
            if len(self._starts) >= _MEMO_LIMIT:
                self._starts.clear()  # bounded memory under hostile, ever-new words
            self._starts[lemmas] = found
        return found

    @classmethod
    def from_services(cls, services: Iterable[Any]) -> Classifier:
        """Build from config services (`.name`, `.aliases`, optionally `.checks` for domains)."""
        aliases: list[_Alias] = []
        domains: dict[str, str] = {}
        names: list[str] = []
        for svc in services:
            names.append(svc.name)
            for text in getattr(svc, "aliases", None) or []:
                if _looks_like_host(text):
                    domains.setdefault(text.lower().removeprefix("www."), svc.name)
                elif alias := _alias(svc.name, text):
                    aliases.append(alias)
            for check in getattr(svc, "checks", None) or []:
                host = _host_of(check)
                if host:
                    domains.setdefault(host, svc.name)
        return cls(aliases, domains, names)

    def classify(self, text: str) -> Classification:
        """Kind, linked services, confidence and evidence for one notice; never raises."""
        if not isinstance(text, str):
            text = "" if text is None else str(text)
        clean = morph.clean(text)
        toks = morph.tokens(clean)
        services, service_evidence = self._link(clean, toks)
        hits = self._cues_in(toks)
        kind, confidence, decisive = _decide(hits, bool(services))
        evidence = tuple(f"{h.label}: {clean[h.start : h.end]}" for h in decisive)
        return Classification(kind, services, confidence, evidence + service_evidence)

    def _link(self, clean: str, toks: list[Token]) -> tuple[tuple[str, ...], tuple[str, ...]]:
        found: dict[str, str] = {}
        for i, tok in enumerate(toks):
            for alias in self._starting(tok.lemmas)[1]:
                if alias.service in found or (alias.needs_capital and not tok.capital):
                    continue
                end = _match_alias(alias.slots, toks, i)
                if end is not None:
                    found[alias.service] = clean[tok.start : toks[end].end]
        if self._domains:
            for _, _, host in morph.hosts(clean):
                svc = self._domain_service(host)
                if svc and svc not in found:
                    found[svc] = host
        names = tuple(sorted(found, key=self._order.__getitem__))
        return names, tuple(f"service {n}: {found[n]}" for n in names)

    def _domain_service(self, host: str) -> str | None:
        # www.privatbank.ua and online.privatbank.ua are privatbank.ua
        parts = host.split(".")
        for i in range(len(parts) - 1):
            svc = self._domains.get(".".join(parts[i:]))
            if svc:
                return svc
        return None

    def _cues_in(self, toks: list[Token]) -> list[_Hit]:
        hits: list[_Hit] = []
        for i, tok in enumerate(toks):
            if tok.imperative:
                hits.append(_Hit("imperative", 0.6, tok.start, tok.end))
            for cue in self._starting(tok.lemmas)[0]:
                end = _match_cue(cue.slots, toks, i)
                if end is None:
                    continue
                unsaid = _negated(cue, toks, i, end)
                if unsaid == "negated" and cue.label == "restored":
                    # "ще не відновлено": still down
                    hits.append(_Hit("outage", 1.0, toks[max(0, i - 1)].start, toks[end].end))
                elif not unsaid:
                    hits.append(_Hit(cue.label, cue.weight, tok.start, toks[end].end))
        return hits


def _negated(cue: _Cue, toks: list[Token], i: int, end: int) -> str:
    """Why a good-news cue does not count: "negated" ("ще не відновлено"), "unreal" ("to restore")."""
    if cue.label not in ("restored", "repelled"):
        return ""
    if any(toks[j].irrealis for j in range(i, end + 1)):
        return "unreal"
    if cue.label == "repelled" and toks[i].present:
        return "unreal"  # "відбиває атаку": still under attack
    around = [*range(max(0, i - 2), i), *range(i + 1, end)]
    if any(toks[j].lemmas & _NEGATIONS and toks[j].clause == toks[i].clause for j in around):
        return "negated"
    return ""


def _match_cue(slots: tuple[frozenset[str], ...], toks: list[Token], i: int) -> int | None:
    """Index of the last token when slots[1:] follow token i within GAP words each."""
    pos = i
    clause = toks[i].clause
    for slot in slots[1:]:
        for j in range(pos + 1, min(pos + 2 + GAP, len(toks))):
            if toks[j].clause != clause:
                return None
            if toks[j].lemmas & slot:
                pos = j
                break
        else:
            return None
    return pos


def _match_alias(slots: tuple[frozenset[str], ...], toks: list[Token], i: int) -> int | None:
    """Index of the last token when every later alias word is the next word of the text."""
    if i + len(slots) > len(toks):
        return None
    clause = toks[i].clause
    for k, slot in enumerate(slots[1:], start=1):
        if not toks[i + k].lemmas & slot or toks[i + k].clause != clause:
            return None
    return i + len(slots) - 1


# good news beats attack beats outage beats advice: "back online after the DDoS attack" is news
# that it is over, and an attack usually comes with the outage it caused
_PRIORITY: tuple[AnnouncementKind, ...] = ("restored", "attack", "outage", "advisory")


def _decide(hits: list[_Hit], linked: bool) -> tuple[AnnouncementKind, float, list[_Hit]]:
    """Weigh the cues: good news beats attack beats outage beats advice; war is not cyber."""
    by: dict[str, list[_Hit]] = defaultdict(list)
    for h in hits:
        by[h.label].append(h)

    def score(label: str) -> float:
        return sum(h.weight for h in by[label])

    weapon, army, it = by["weapon"], by["army"], by["it"]
    # "атака" alone is ambiguous: a rocket attack or troops repelling one is war, not cyber
    generic_cyber = bool(by["attack"]) and not weapon and (bool(it) or (linked and not army))
    cyber_ctx = bool(by["cyber"]) or generic_cyber
    attack = by["cyber"] + (by["attack"] if generic_cyber else [])
    restored = by["restored"] + (by["repelled"] if cyber_ctx else [])
    advice = by["advisory"] + by["imperative"]
    scores = {
        "restored": sum(h.weight for h in restored),
        "attack": sum(h.weight for h in attack),
        "outage": score("outage"),
        "advisory": sum(h.weight for h in advice) + score("phishing"),
    }
    evidence = {
        "restored": restored,
        "attack": attack,
        "outage": by["outage"],
        "advisory": advice + by["phishing"],
    }
    # phishing and fraud are warnings even when they say "attack"; so is a warning that names no
    # service ("CERT-UA warns of DDoS attacks") unless something is actually down
    availability = bool(by["outage"]) or scores["restored"] >= 1.0
    if (by["phishing"] and not availability and not _strong_cyber(by["cyber"])) or (
        score("advisory") >= 1.0 and not linked and not availability
    ):
        return "advisory", _confidence(scores["advisory"], scores, "advisory"), evidence["advisory"]
    for kind in _PRIORITY:
        if scores[kind] >= 1.0:
            return kind, _confidence(scores[kind], scores, kind), evidence[kind]
    dismissed = by["attack"] + by["repelled"]
    if dismissed and (weapon or army):
        return "other", 0.8, dismissed + weapon + army
    return "other", 0.7 if not any(scores.values()) else 0.55, []


def _strong_cyber(hits: list[_Hit]) -> bool:
    return any(h.weight >= 1.0 for h in hits)


def _confidence(best: float, scores: dict[str, float], kind: str) -> float:
    """Higher with more cues for the kind, lower when other kinds were also heard."""
    rivals = sum(v for k, v in scores.items() if k != kind)
    value = 0.55 + 0.2 * min(best, 2.0) - 0.1 * min(rivals, 2.0)
    return round(max(0.3, min(0.95, value)), 2)


def _alias(service: str, text: str) -> _Alias | None:
    """An alias as written by the operator; Title-case means capitalised in the text too."""
    words = morph.lemmas_of(text)
    if not words:
        return None
    first = next((w for w in morph.clean(text).split() if any(c.isalnum() for c in w)), "")
    # "Дія", "Міністерство оборони": a capital then lower case; "ПриватБанк" (inner capital),
    # "ЗСУ" (abbreviation) and "monobank" (lower case) match however they are written
    letters = [c for c in first if c.isalpha()]
    title = bool(letters) and letters[0].isupper() and not any(c.isupper() for c in letters[1:])
    return _Alias(service, tuple(w.lemmas for w in words), title)


def _looks_like_host(text: str) -> bool:
    return " " not in text.strip() and bool(morph.hosts(text.strip().lower()))


def _host_of(check: Any) -> str | None:
    """The host a check probes, from its endpoint (URL, host:port or name), if it is a name."""
    try:
        endpoint = str(check.endpoint())
    except Exception:  # a check kind without endpoint() links nothing
        return None
    host = urlsplit(endpoint).hostname if "://" in endpoint else endpoint.rsplit(":", 1)[0]
    host = (host or "").strip("[]").lower().rstrip(".").removeprefix("www.")
    if not host or "." not in host or host.replace(".", "").isdigit() or ":" in host:
        return None
    return host
