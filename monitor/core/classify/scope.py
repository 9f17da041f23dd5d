"""From cue hits to claims: turn each hit (denied? past? planned?), scope it, decide per service.

A hit is scoped to the services of its parenthesis ("Мінфіну (вже відновлено)"), else of its
segment (a sentence splits at ";" and "а"/"але"/"but"), else of its sentence; sentences that
name no service ("Роботу відновлено.") speak of every service the notice names.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from monitor.core.base import Cause, Claim, ClaimKind, ClaimTime, Polarity
from monitor.core.classify.cues import (
    ABOUT,
    AFTER,
    CONTEXTS,
    COPULA,
    FOUND,
    INSTEAD,
    KINDS,
    MANAGED,
    NEGATIONS,
    NOT_NEGATING,
    TO,
)
from monitor.core.classify.morph import Token

NEG_BEFORE = 3  # "не є кібератакою", "no signs of a cyberattack"
NEG_AFTER = 6  # "збою в роботі Приват24 не було"
MARK_BEFORE = 4  # "мають бути оперативно відновлені", "will be fully restored"
_BE = frozenset({"бути", "быть", "be"})


@dataclass(frozen=True, slots=True)
class Hit:
    """One cue found in the text, with how it is turned."""

    label: str
    weight: float
    i: int  # first token
    j: int  # last token
    start: int  # character span in the cleaned text
    end: int
    polarity: Polarity = "asserted"
    time: ClaimTime = "now"
    why: str = ""  # the words that turned it: "denied: не відповідають дійсності"


@dataclass(frozen=True, slots=True)
class Mention:
    """A service named in the text."""

    service: str
    i: int
    j: int
    words: str


def turn(hits: list[Hit], turns: list[Hit], toks: Sequence[Token], text: str) -> list[Hit]:
    """Each kind hit with its polarity and time; restorations that did not happen dropped."""
    covered = {k for h in hits for k in range(h.i, h.j + 1)}
    out = []
    for h in hits:
        if h.label in ("advisory", "phishing", "imperative") or h.label in CONTEXTS:
            out.append(h)
            continue
        turned = _turn_one(h, hits, turns, toks, text, covered)
        if turned is not None:
            out.append(turned)
    # "Київстар попереджає: можливі перерви зв'язку": a warning of an outage, with no attack
    # in it, announces a planned one
    warned = {toks[t.i].sentence for t in turns if t.label == "warns"}
    warned -= {toks[x.i].sentence for x in out if x.label in ("cyber", "attack")}
    planned = set()
    for k, h in enumerate(out):
        sentence = toks[h.i].sentence
        if h.label in _DOWN and h.time == "now" and h.polarity == "asserted" and sentence in warned:
            out[k] = replace(h, time="planned", why=f"planned: {text[h.start : h.end]}")
            planned.add(sentence)
    # the warning is the announcement of the plan, not advice of its own
    out = [h for h in out if not (h.label in _ADVICE and toks[h.i].sentence in planned)]
    # "буде недоступний через технічні роботи": the cause of a planned outage is planned too
    plans = {toks[h.i].clause: h.why for h in out if h.time == "planned" and h.label in _DOWN}
    return [
        replace(h, time="planned", why=plans[toks[h.i].clause])
        if h.label in _DOWN and h.time == "now" and toks[h.i].clause in plans
        else h
        for h in out
    ]


_DOWN = frozenset({"outage", "technical"})
_ADVICE = frozenset({"advisory", "imperative"})


def _turn_one(
    h: Hit, hits: list[Hit], turns: list[Hit], toks: Sequence[Token], text: str, covered: set[int]
) -> Hit | None:
    good = h.label in ("restored", "repelled", "working")
    if h.label == "repelled" and toks[h.i].present:
        return None  # "відбиває атаку": still under attack
    neg = _negation(h, toks, covered)
    if neg is not None and good:
        # "ще не відновлено": still down
        return replace(h, label="outage", weight=1.0, start=toks[neg].start, why="")
    if neg is not None:
        return replace(h, polarity="denied", why=f"denied: {_words(toks, text, neg, neg)}")
    if turns and not good and (deny := _denial(h, turns, toks)) is not None:
        return replace(h, polarity="denied", why=f"denied: {text[deny.start : deny.end]}")
    if (plan := _planned(h, turns, toks, text)) is not None:
        return replace(h, time="planned", why=plan)
    if turns and (past := _past(h, turns, toks)) is not None:
        return replace(h, time="past", why=f"past: {text[past.start : past.end]}")
    return h


def _negation(h: Hit, toks: Sequence[Token], covered: set[int]) -> int | None:
    """The negating word before the cue (or after it, with "було"/"виявлено"), if any."""
    clause = toks[h.i].clause
    for k in range(h.i - 1, max(-1, h.i - 1 - NEG_BEFORE), -1):
        if toks[k].clause != clause or k in covered:
            break
        if toks[k].lemmas & NEGATIONS and not (
            k + 1 < len(toks) and toks[k + 1].lemmas & NOT_NEGATING
        ):
            return k
        if toks[k].lemmas & INSTEAD or (
            "than" in toks[k].lemmas and k and "rather" in toks[k - 1].lemmas
        ):
            return k
    after = range(h.j + 1, min(len(toks), h.j + NEG_AFTER))
    for k in after:
        if toks[k].clause != clause:
            break
        if toks[k].lemmas & NEGATIONS and any(
            toks[m].lemmas & FOUND and toks[m].clause == clause
            for m in range(k + 1, min(len(toks), k + 3))
        ):
            return k
    return None


def _denial(h: Hit, turns: list[Hit], toks: Sequence[Token]) -> Hit | None:
    """A denial in the cue's segment: "спростовує", "не підтверджується" anywhere in it; "фейк"
    as the predicate ("... — фейк", "are false") or before "про"/"about" the cue."""
    seg = toks[h.i].segment
    for t in turns:
        if toks[t.i].segment != seg:
            continue
        if t.label == "deny" or (t.label == "fake" and _fake_about(t, h, toks)):
            return t
    return None


def _fake_about(t: Hit, h: Hit, toks: Sequence[Token]) -> bool:
    first = t.i == 0 or toks[t.i - 1].clause != toks[t.i].clause
    if first or toks[t.i - 1].lemmas & COPULA or (t.i > 1 and toks[t.i - 2].lemmas & COPULA):
        return True  # the predicate: "Інформація про злам — фейк", "reports ... are false"
    return t.j < h.i and any(toks[k].lemmas & ABOUT for k in range(t.j + 1, h.i))


def _planned(h: Hit, turns: list[Hit], toks: Sequence[Token], text: str) -> str | None:
    """Why the cue is only a plan: an infinitive or future form, or a modal word before it."""
    # "вдалося відбити" happened; "може не працювати" is a hedge about now, not a plan
    managed = any(toks[k].lemmas & MANAGED for k in range(max(0, h.i - 2), h.i))
    if not managed and any(toks[k].irrealis for k in range(h.i, h.j + 1)):
        return f"planned: {text[toks[h.i].start : toks[h.j].end]}"
    clause = toks[h.i].clause
    for k in range(h.i - 1, max(-1, h.i - 1 - MARK_BEFORE), -1):
        tok = toks[k]
        if tok.clause != clause:
            break
        if (tok.lemmas & _BE and tok.irrealis) or (
            h.label in ("restored", "repelled") and k == h.i - 1 and tok.lemmas & TO
        ):
            return f"planned: {text[tok.start : toks[h.j].end]}"
    for t in turns:
        if t.label == "planned" and toks[t.i].clause == clause and h.i - MARK_BEFORE <= t.j < h.i:
            return f"planned: {text[t.start : toks[h.j].end]}"
    return None


def _past(h: Hit, turns: list[Hit], toks: Sequence[Token]) -> Hit | None:
    """A past marker for this cue: in its clause, or opening its sentence ("Back in 2022, ..."),
    unless "now" ("досі", "знову") speaks for the segment; "after yesterday's outage" dates only
    what follows "after"."""
    tok = toks[h.i]
    now = any(t.label == "now" and toks[t.i].segment == tok.segment for t in turns)
    for t in turns:
        if t.label != "past" or toks[t.i].sentence != tok.sentence:
            continue
        if any(toks[k].lemmas & AFTER for k in range(max(0, t.i - 2), t.i)):
            if toks[t.i].clause == tok.clause and t.i < h.i:
                return t
            continue
        if toks[t.i].clause == tok.clause:
            return t
        opening = t.i == 0 or toks[t.i - 1].sentence != tok.sentence
        if opening and not now:
            return t
    return None


def _words(toks: Sequence[Token], text: str, i: int, j: int) -> str:
    return text[toks[i].start : toks[j].end]


# -- scope ----------------------------------------------------------------------------------------

_KIND_LABELS = KINDS


def scopes(hits: list[Hit], mentions: list[Mention], toks: Sequence[Token]) -> dict[str, list[Hit]]:
    """The hits that speak of each named service."""
    owner: dict[int, str] = {}  # parenthesis -> the service right before it
    segments: dict[int, set[str]] = defaultdict(set)  # segment -> services named in it
    for m in mentions:
        nxt = m.j + 1
        if nxt < len(toks) and toks[nxt].paren and toks[nxt].paren != toks[m.j].paren:
            owner.setdefault(toks[nxt].paren, m.service)
        segments[toks[m.i].segment].add(m.service)
    where = _Where(hits, toks, owner, segments)
    orphan = [h for h in hits if toks[h.i].sentence not in where.named]
    out: dict[str, dict[tuple[int, int, str], Hit]] = defaultdict(dict)
    done: set[tuple[str, int, int, int]] = set()
    for m in mentions:
        tok = toks[m.i]
        nxt = toks[m.j + 1].paren if m.j + 1 < len(toks) else 0
        own = nxt if owner.get(nxt) == m.service and nxt != tok.paren else 0
        key = (m.service, tok.paren, own, tok.segment)
        if key in done:
            continue  # the same service named twice in one place: the same scope
        done.add(key)
        seen = out[m.service]
        for h in (*where.local(m.service, tok, own), *orphan, *where.context(tok.sentence)):
            seen.setdefault(_at(h), h)
    return {svc: sorted(hs.values(), key=_at) for svc, hs in out.items()}


def _at(h: Hit) -> tuple[int, int, str]:
    return (h.i, h.j, h.label)


class _Where:
    """Hits indexed by parenthesis, segment and sentence, to scope each mention quickly."""

    def __init__(
        self,
        hits: list[Hit],
        toks: Sequence[Token],
        owner: dict[int, str],
        segments: dict[int, set[str]],
    ) -> None:
        self.toks, self.owner, self.segments = toks, owner, segments
        self.paren: dict[int, list[Hit]] = defaultdict(list)
        self.segment: dict[int, list[Hit]] = defaultdict(list)
        self.sentence: dict[int, list[Hit]] = defaultdict(list)
        for h in hits:
            t = toks[h.i]
            self.paren[t.paren].append(h)
            self.segment[t.segment].append(h)
            self.sentence[t.sentence].append(h)
        self.seg_sentence: dict[int, int] = {}
        for t in toks:
            self.seg_sentence.setdefault(t.segment, t.sentence)
        self.named = {self.seg_sentence[g] for g in segments}

    def context(self, sentence: int) -> list[Hit]:
        """What the sentence is about (websites, weapons, troops): it decides a bare "атака"."""
        return [h for h in self.sentence.get(sentence, ()) if h.label in CONTEXTS]

    def local(self, service: str, tok: Token, own: int) -> list[Hit]:
        for p in (tok.paren, own):
            if p and _has_kind(self.paren.get(p, ())):
                return self.paren[p]

        def free(h: Hit) -> bool:  # not in a parenthesis about another service
            p = self.toks[h.i].paren
            return not p or self.owner.get(p, service) == service

        # a parenthesis says something of its own ("(Рада вже працює)"): the segment's words
        # outside parentheses speak for it, and segments after it that name no service
        # ("..., а не кібератака") continue what it says
        seg = [h for g in self._carried(tok.segment) for h in self.segment.get(g, ()) if free(h)]
        bare = [h for h in seg if not self.toks[h.i].paren]
        if _has_kind(bare):
            return bare
        if _has_kind(seg):
            return seg
        # the sentence, less the segments that speak of other services only
        return [
            h
            for h in self.sentence.get(tok.sentence, ())
            if free(h) and service in self.segments.get(self.toks[h.i].segment, {service})
        ]

    def _carried(self, segment: int) -> list[int]:
        out = [segment]
        sentence = self.seg_sentence.get(segment)
        nxt = segment + 1
        while self.seg_sentence.get(nxt) == sentence and nxt not in self.segments:
            out.append(nxt)
            nxt += 1
        return out


def _has_kind(hits: Iterable[Hit]) -> bool:
    return any(h.label in _KIND_LABELS for h in hits)


# -- decide -----------------------------------------------------------------------------------------

# within one service and one time, good news beats attack beats outage beats advice: "back
# online after the DDoS attack" is news that it is over, and an attack comes with its outage
_PRIORITY: tuple[ClaimKind, ...] = ("restored", "attack", "outage", "advisory")


@dataclass(frozen=True, slots=True)
class Decision:
    """A kind for a set of hits, the hits that decided it, and the scores."""

    kind: ClaimKind | None
    hits: tuple[Hit, ...]
    scores: dict[str, float]
    dismissed: tuple[Hit, ...] = ()  # "атака" heard, but war: why it is not cyber


def decide(hits: Sequence[Hit], linked: bool) -> Decision:
    """Weigh the cues; war is not cyber, and a bare "атака" needs a website or service near it."""
    by: dict[str, list[Hit]] = defaultdict(list)
    for h in hits:
        by[h.label].append(h)
    weapon, army, it = by["weapon"], by["army"], by["it"]
    generic = bool(by["attack"]) and bool(it) and not weapon and not army
    cyber_ctx = bool(by["cyber"]) or generic
    attack = by["cyber"] + (by["attack"] if generic else [])
    restored = by["restored"] + by["working"] + (by["repelled"] if cyber_ctx else [])
    advice = by["advisory"] + by["imperative"]
    evidence: dict[ClaimKind, list[Hit]] = {
        "restored": restored,
        "attack": attack,
        "outage": by["outage"] + by["technical"],
        "advisory": advice + by["phishing"],
    }
    scores: dict[str, float] = {k: sum(h.weight for h in v) for k, v in evidence.items()}
    # phishing and fraud are warnings even when they say "attack"; so is a warning that names no
    # service ("CERT-UA warns of DDoS attacks") unless something is actually down
    availability = bool(evidence["outage"]) or scores["restored"] >= 1.0
    advisory = sum(h.weight for h in by["advisory"])
    if (by["phishing"] and not availability and not by["cyber"]) or (
        advisory >= 1.0 and not linked and not availability
    ):
        return Decision("advisory", tuple(evidence["advisory"]), scores)
    for kind in _PRIORITY:
        if scores[kind] >= 1.0:
            return Decision(kind, tuple(evidence[kind]), scores)
    dismissed = by["attack"] + by["repelled"]
    if dismissed and (weapon or army):
        return Decision(None, (), scores, tuple(dismissed + weapon + army))
    return Decision(None, (), scores)


_CONTEXT = CONTEXTS | {"imperative"}


def claims_for(service: str, hits: Sequence[Hit], text: str, linked: bool) -> list[Claim]:
    """The claims one service's hits make: live, denied, past and planned."""
    context = [h for h in hits if h.label in _CONTEXT]
    groups: dict[tuple[Polarity, ClaimTime], list[Hit]] = defaultdict(list)
    # "reports are false, all services work normally": the denial's support, not a restoration
    denying = any(h.polarity == "denied" for h in hits)
    for h in hits:
        if h.label not in _CONTEXT and not (denying and h.label == "working"):
            groups[(h.polarity, h.time)].append(h)
    out: list[Claim] = []
    live = groups.get(("asserted", "now"), [])
    denied = [h for (pol, _), hs in groups.items() if pol == "denied" for h in hs]
    for (polarity, time), group in sorted(groups.items(), key=_group_order):
        if polarity == "denied":
            continue
        d = decide([*group, *context], linked)
        if d.kind is None or (time != "now" and d.kind == "advisory"):
            continue
        cause = _cause(d.kind, group, denied, [*group, *context], linked)
        out.append(Claim(service, d.kind, polarity, time, _evidence(d.hits, text), cause))
    for kind in _denied_kinds(denied, [*live, *context], linked):
        why = tuple(h for h in denied if _kind_of(h) == kind)
        out.append(Claim(service, kind, "denied", why[0].time, _evidence(why, text)))
    return out


def _group_order(item: tuple[tuple[Polarity, ClaimTime], list[Hit]]) -> int:
    return ("now", "planned", "past").index(item[0][1])


def _kind_of(h: Hit) -> ClaimKind:
    return "attack" if h.label in ("cyber", "attack") else "outage"


def _denied_kinds(denied: list[Hit], context: list[Hit], linked: bool) -> list[ClaimKind]:
    kinds: list[ClaimKind] = []
    if any(h.label == "cyber" for h in denied) or (
        any(h.label == "attack" for h in denied) and decide([*denied, *context], linked).kind
    ):
        kinds.append("attack")
    if any(h.label in ("outage", "technical") for h in denied):
        kinds.append("outage")
    return kinds


def _cause(
    kind: ClaimKind, group: list[Hit], denied: list[Hit], hits: list[Hit], linked: bool
) -> Cause:
    if kind == "attack":
        return "attack"
    if kind != "outage":
        return "unknown"
    if any(h.label == "technical" for h in group) or any(
        h.label in ("cyber", "attack") for h in denied
    ):
        return "technical"
    return "unknown"


def _evidence(hits: Iterable[Hit], text: str) -> tuple[str, ...]:
    out: dict[str, None] = {}
    for h in hits:
        out[f"{_label(h)}: {text[h.start : h.end]}"] = None
        if h.why:
            out[h.why] = None
    return tuple(out)


def _label(h: Hit) -> str:
    return "outage" if h.label == "technical" else h.label
