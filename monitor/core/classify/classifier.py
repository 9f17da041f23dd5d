"""Classify a notice (uk/ru/en) into claims: what it asserts or denies about each service, when.

Words are compared by lemma (pymorphy3, simplemma), so "ПриватБанку" is a form of the alias
"ПриватБанк" and "відновлено" of the cue "відновити". Every claim keeps the words that made it;
the notice's overall kind is derived from its claims.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from monitor.core.base import Claim, Classification, overall_kind
from monitor.core.classify import morph
from monitor.core.classify.cues import CUES, GAP, IMPERSONATING, KINDS, TURNS, Cue
from monitor.core.classify.morph import Token
from monitor.core.classify.scope import Hit, Mention, claims_for, decide, scopes, turn

_MEMO_LIMIT = 100_000


@dataclass(frozen=True, slots=True)
class _Alias:
    service: str
    slots: tuple[frozenset[str], ...]
    needs_capital: bool  # "Дія" is the service, "дія постанови" is not
    acronym: bool = False  # "МЗС" derived from "Міністерство закордонних справ": upper case only


# the cues and the aliases a word may begin
_Starts = tuple[tuple[Cue, ...], tuple[_Alias, ...]]


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
        self._cues: dict[str, list[Cue]] = defaultdict(list)
        for cue in CUES:
            for lemma in cue.slots[0]:
                self._cues[lemma].append(cue)
        # per distinct word (its lemma set): the cues and aliases it may begin; most notices
        # reuse the same words, so this is where the time goes
        self._starts: dict[frozenset[str], _Starts] = {}

    def _starting(self, lemmas: frozenset[str]) -> _Starts:
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
            written = [str(a) for a in getattr(svc, "aliases", None) or []]
            for text in written:
                if _looks_like_host(text):
                    domains.setdefault(text.lower().removeprefix("www."), svc.name)
                elif alias := _alias(svc.name, text):
                    aliases.append(alias)
            # the forms notices also use, derived from the operator's base forms
            for text in derived_forms(written):
                if alias := _alias(svc.name, text, derived=True):
                    aliases.append(alias)
            for check in getattr(svc, "checks", None) or []:
                host = _host_of(check)
                if host:
                    domains.setdefault(host, svc.name)
        return cls(aliases, domains, names)

    def classify(self, text: str, service: str | None = None) -> Classification:
        """Claims, overall kind, linked services, confidence and evidence; never raises.

        `service` is the channel's own service: a notice there that names none is about it.
        """
        if not isinstance(text, str):
            text = "" if text is None else str(text)
        clean = morph.clean(text)
        toks = morph.tokens(clean)
        starts = [self._starting(t.lemmas) for t in toks]
        mentions = self._link(clean, toks, starts)
        raw = self._cues_in(toks, starts)
        turns = [h for h in raw if h.label in TURNS]
        # "не відповідає дійсності" is a denial, not "не відповідає" (not responding)
        denial = {k for h in turns if h.label == "deny" for k in range(h.i, h.j + 1)}
        kinds = [h for h in raw if h.label not in TURNS and not denial & {h.i, h.j}]
        claims: list[Claim] = []
        if not any(h.label in KINDS for h in kinds):
            hits = kinds  # war news, product news: words of context only, no claim to make
        elif mentions:
            hits = turn(kinds, turns, toks, clean)
            for svc, scoped in sorted(scopes(hits, mentions, toks).items(), key=self._rank):
                claims += claims_for(svc, scoped, clean, linked=True)
        else:
            hits = turn(kinds, turns, toks, clean)
            claims = claims_for(service or "", hits, clean, linked=bool(service))
        found = tuple(claims)
        kind = overall_kind(found)
        names = tuple(dict.fromkeys(m.service for m in mentions))
        if not names and service and found:
            names = (service,)
        said = tuple(f"service {m.service}: {m.words}" for m in _first(mentions))
        if not said and names:
            said = (f"service {service}: own channel",)
        live = [h for h in hits if h.polarity == "asserted" and h.time == "now"]
        scores = _scores(live)
        if kind == "other":
            dismissed = decide(live, bool(names)).dismissed if live else ()
            why = tuple(f"{h.label}: {clean[h.start : h.end]}" for h in dismissed)
        else:
            why = tuple(e for c in found if c.live and c.kind == kind for e in c.evidence)
        evidence = tuple(dict.fromkeys((*why, *said)))
        confidence = _confidence(kind, scores, bool(claims))
        return Classification(kind, names, confidence, evidence, found)

    def _rank(self, item: tuple[str, object]) -> int:
        return self._order.get(item[0], len(self._order))

    def _link(self, clean: str, toks: list[Token], starts: list[_Starts]) -> list[Mention]:
        found: list[Mention] = []
        for i, tok in enumerate(toks):
            for alias in starts[i][1]:
                if alias.needs_capital and not tok.capital:
                    continue
                if alias.acronym and not clean[tok.start : tok.end].isupper():
                    continue
                end = _match_alias(alias.slots, toks, i)
                if end is not None:
                    found.append(Mention(alias.service, i, end, clean[tok.start : toks[end].end]))
        if self._domains and "." in clean:  # a host name has a dot
            at_char = {t.start: k for k, t in enumerate(toks)}
            for start, end, host in morph.hosts(clean):
                svc = self._domain_service(host)
                first = at_char.get(start)
                if svc and first is not None:
                    last = first
                    while last + 1 < len(toks) and toks[last + 1].start < end:
                        last += 1
                    found.append(Mention(svc, first, last, host))
        # longest first at one place: "Збройні сили України" over "Збройні сили"
        found.sort(key=lambda m: (m.i, -m.j))
        out: list[Mention] = []
        for m in found:
            if out and out[-1].i <= m.i <= out[-1].j and out[-1].service == m.service:
                continue
            if any(toks[k].lemmas & IMPERSONATING for k in range(max(0, m.i - 2), m.i)):
                continue  # "від імені ПриватБанку": the name is used, the bank is not the news
            out.append(m)
        return out

    def _domain_service(self, host: str) -> str | None:
        # www.privatbank.ua and online.privatbank.ua are privatbank.ua
        parts = host.split(".")
        for i in range(len(parts) - 1):
            svc = self._domains.get(".".join(parts[i:]))
            if svc:
                return svc
        return None

    def _cues_in(self, toks: list[Token], starts: list[_Starts]) -> list[Hit]:
        hits: list[Hit] = []
        for i, tok in enumerate(toks):
            if tok.imperative:
                hits.append(Hit("imperative", 0.6, i, i, tok.start, tok.end))
            for cue in starts[i][0]:
                end = _match_cue(cue.slots, toks, i)
                if end is not None:
                    hits.append(Hit(cue.label, cue.weight, i, end, tok.start, toks[end].end))
        return hits


def _first(mentions: Sequence[Mention]) -> list[Mention]:
    """The first mention of each service."""
    seen: dict[str, Mention] = {}
    for m in mentions:
        seen.setdefault(m.service, m)
    return list(seen.values())


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


# which cues speak for which kind, for the confidence only (the claims decide the kind)
_SCORED = {
    "cyber": "attack",
    "restored": "restored",
    "working": "restored",
    "repelled": "restored",
    "outage": "outage",
    "technical": "outage",
    "advisory": "advisory",
    "imperative": "advisory",
    "phishing": "advisory",
}


def _scores(hits: Sequence[Hit]) -> dict[str, float]:
    scores = dict.fromkeys(("attack", "outage", "restored", "advisory"), 0.0)
    for h in hits:
        kind = _SCORED.get(h.label)
        if kind is not None:
            scores[kind] += h.weight
    return scores


def _confidence(kind: str, scores: dict[str, float], claimed: bool) -> float:
    """Higher with more cues for the kind, lower when other kinds were also heard."""
    if kind == "other":
        return 0.7 if not any(scores.values()) or not claimed else 0.55
    best = scores.get(kind, 1.0)
    rivals = sum(v for k, v in scores.items() if k != kind)
    value = 0.55 + 0.2 * min(best, 2.0) - 0.1 * min(rivals, 2.0)
    return round(max(0.3, min(0.95, value)), 2)


def _alias(service: str, text: str, derived: bool = False) -> _Alias | None:
    """An alias as written by the operator; Title-case means capitalised in the text too."""
    words = morph.lemmas_of(text)
    if not words:
        return None
    if derived and len(words) == 1 and text.isupper():
        return _Alias(service, (frozenset({text.lower()}),), True, acronym=True)
    first = next((w for w in morph.clean(text).split() if any(c.isalnum() for c in w)), "")
    # "Дія", "Міністерство оборони": a capital then lower case; "ПриватБанк" (inner capital),
    # "ЗСУ" (abbreviation) and "monobank" (lower case) match however they are written
    letters = [c for c in first if c.isalpha()]
    title = bool(letters) and letters[0].isupper() and not any(c.isupper() for c in letters[1:])
    return _Alias(service, tuple(w.lemmas for w in words), title)


def derived_forms(aliases: Sequence[str]) -> list[str]:
    """Forms of the operator's aliases that notices use and the operator did not write: the Latin
    transliteration of a Cyrillic name ("Ощадбанк" -> "Oshchadbank", by anyascii) and the
    acronym of a Cyrillic name of three or more words ("Міністерство закордонних справ" ->
    "МЗС"). Inflected forms need none: they match by lemma."""
    from anyascii import anyascii  # imported lazily, like the dictionaries

    written = {a.casefold() for a in aliases}
    out: list[str] = []
    for alias in aliases:
        forms = []
        if _CYRILLIC.search(alias):
            forms.append(anyascii(alias))
        words = [w for w in _WORDS.findall(alias) if not w.isdigit()]
        # Ukrainian and Russian names are known by their initials (ЗСУ, МЗС, НБУ); English
        # initials collide with the trade's words ("MFA" is also multi-factor authentication)
        if len(words) >= 3 and _CYRILLIC.search(alias):
            forms.append("".join(w[0] for w in words).upper())
        for form in forms:
            letters = sum(c.isalpha() for c in form)
            if letters >= 3 and form.casefold() not in written:
                written.add(form.casefold())
                out.append(form)
    return out


_CYRILLIC = re.compile(r"[а-яіїєґё]", re.I)
_WORDS = re.compile(r"[^\W_]+")


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
