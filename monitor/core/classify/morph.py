"""Tokens and lemmas for Ukrainian, Russian and English notices.

pymorphy3 reads the Cyrillic, simplemma the English (and the Cyrillic words pymorphy3's
dictionaries do not know). Each token knows its sentence, clause and parenthesis, which is
what scopes a claim to the services it is about.
"""

from __future__ import annotations

import functools
import html
import re
import unicodedata
from dataclasses import dataclass
from typing import Any, NamedTuple

# Telegram caps a message at 4096 characters; anything far longer is hostile or a paste, and
# the opening is what says what happened, so only that much is read.
MAX_CHARS = 16_000
MAX_TOKENS = 4_000
# pymorphy3 on a 5,000-letter "word" is wasted work; such a token stands for itself.
MAX_WORD = 40

# A word: letters and digits (not "_", so Markdown emphasis falls away), with apostrophes inside
# (зв'язок, couldn't); hyphens, slashes and dots separate words.
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
# Host names for linking by domain: privatbank.ua, www.mil.gov.ua, https://diia.gov.ua/path.
_HOST = re.compile(
    r"(?<![\w.-])(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,24}(?![\w-])", re.I
)
# Quotes do not break a clause (see _SCAN): «Ощад 24/7» is a name inside it.
_TAG = re.compile(r"<[^<>]{0,500}>")
_APOSTROPHES = re.compile("[’ʼ`ʹ′‘]")  # Ukrainian writes зв'язок with any of them
_CYRILLIC = re.compile(r"[а-яіїєґёъыэ]")
_UK_ONLY = re.compile(r"[іїєґ]")
_RU_ONLY = re.compile(r"[ёъыэ]")
_ENGLISH = re.compile(r"^[a-z]+(?:'[a-z]+)*$")
_IRREALIS = frozenset({"infn", "INFN", "futr", "impr"})  # the Russian dictionary writes INFN


class Token(NamedTuple):
    """One word of a notice: where it is, how it was written, and what it may be a form of."""

    start: int
    end: int
    capital: bool  # first letter upper-case as written
    lemmas: frozenset[str]
    imperative: bool
    irrealis: bool
    present: bool
    clause: int  # cues and aliases do not reach across "." "," ";" and the like
    sentence: int
    segment: int  # a sentence splits at ";" and at a clause opening with "а", "але", "but"...
    paren: int  # which parenthesis the word is in, 0 when none


_make = Token._make


@dataclass(frozen=True, slots=True)
class Analysis:
    """What morphology says about one lower-case word."""

    lemmas: frozenset[str]
    imperative: bool  # "не встановлюйте": advice
    irrealis: bool  # only infinitive, future or imperative: "відновити" is not "відновлено"
    present: bool = False  # only present tense or imperfective: "відбиває", "отбивал" went on


def clean(text: str) -> str:
    """Bound, normalise and de-markup a notice; the result is what tokens point into."""
    text = text[: MAX_CHARS * 2]
    if "<" in text:
        text = _TAG.sub(" ", text)
    if "&" in text:
        text = html.unescape(text)
    text = unicodedata.normalize("NFC", text[:MAX_CHARS])
    # invisible marks (RTL, zero-width, soft hyphen) vanish so "Приват\u200bБанк" stays a word;
    # control characters separate words
    text = _CONTROL.sub(" ", _INVISIBLE.sub("", text))
    text = _APOSTROPHES.sub("'", text)
    if "#" in text:
        text = _HASHTAG.sub(_unhash, text)
    if _SCRIPTS_MEET.search(text):
        text = _LETTERS.sub(_unmix, text)
    return text


# "#КиївстарНеПрацює" is three words; "#Ukrtelecom" one
_HASHTAG = re.compile(r"#([^\W_]+)")
_CAMEL = re.compile(r"(?<=[a-zа-яіїєґё])(?=[A-ZА-ЯІЇЄҐЁ])")


def _unhash(m: re.Match[str]) -> str:
    word = m.group(1)
    return " " + (word if word.isupper() else _CAMEL.sub(" ", word))


# A word with both Latin and Cyrillic letters is a typo or a filter dodge ("DDоS" with a
# Cyrillic о, "Пpивaт" with Latin p and a): its look-alike letters take the script of the rest.
_CYR = "а-яА-ЯіІїЇєЄґҐёЁ"
_SCRIPTS_MEET = re.compile(f"[a-zA-Z][{_CYR}]|[{_CYR}][a-zA-Z]")
_LETTERS = re.compile(r"[^\W\d_]+")
_CYR_LOOKS = "аеорсухіјѕкмтвнАВЕКМНОРСТХІЈЅ"
_LAT_LOOKS = "aeopcyxijskmtbhABEKMHOPCTXIJS"
_TO_LATIN = str.maketrans(_CYR_LOOKS, _LAT_LOOKS)
_TO_CYRILLIC = str.maketrans(_LAT_LOOKS[:8] + _LAT_LOOKS[16:], _CYR_LOOKS[:8] + _CYR_LOOKS[16:])
_LATIN_LETTER = re.compile(r"[a-zA-Z]")


def _unmix(m: re.Match[str]) -> str:
    word = m.group()
    if not _SCRIPTS_MEET.search(word):
        return word
    latin = len(_LATIN_LETTER.findall(word))
    return word.translate(_TO_LATIN if 2 * latin >= len(word) else _TO_CYRILLIC)


_INVISIBLE = re.compile("[\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\ue000-\uf8ff]")


def tokens(text: str) -> list[Token]:
    """The words of cleaned text, each with its possible lemmas and its place in the sentence."""
    out: list[Token] = []
    seen = _SEEN
    clause = sentence = segment = paren = depth = parens = 0
    broke = False  # a break since the last word: the next word opens a clause
    for m in _SCAN.finditer(text):
        word = m.group(1)
        if word is None:
            mark = m.group()
            if not broke:
                clause += 1
                broke = True
            if mark in _SENTENCE_MARKS:
                sentence += 1
                segment += 1
            elif mark == ";":
                segment += 1
            elif mark == "(":
                depth += 1
                if depth == 1:
                    parens += 1
                    paren = parens
            elif mark == ")" and depth:
                depth -= 1
                if not depth:
                    paren = 0
            continue
        if broke:
            broke = False
            if word.lower() in _CONTRAST:
                segment += 1
        known = seen.get(word)
        if known is None:
            if len(seen) >= 200_000:
                seen.clear()  # bounded under hostile, ever-new words
            info = analyse(word.lower())
            known = seen[word] = (
                word[0].isupper(),
                info.lemmas,
                info.imperative,
                info.irrealis,
                info.present,
            )
        # _make: tuple.__new__, without the keyword handling of Token(...) (hot: every word)
        out.append(_make((m.start(), m.end(), *known, clause, sentence, segment, paren)))
        if len(out) >= MAX_TOKENS:
            break
    return out


# a word, or a mark that ends a clause (a sentence, a parenthesis)
_SCAN = re.compile(r"([^\W_]+(?:'[^\W_]+)*)|[.,;:!?()\[\]{}|\n]|\s[-–—]\s")
_SENTENCE_MARKS = frozenset(".!?\n")
# a clause opening with one of these says something else about something else
_CONTRAST = frozenset(
    {"а", "але", "проте", "однак", "зате", "но", "однако", "зато", "but", "however", "whereas"}
    | {"while", "тоді", "тогда"}  # "..., while Ukrposhta remains under attack"
)

# words as written -> (capitalised, lemmas, imperative, irrealis, present): skips lower-casing
# and the lru_cache's hashing
_SEEN: dict[str, tuple[bool, frozenset[str], bool, bool, bool]] = {}


def hosts(text: str) -> list[tuple[int, int, str]]:
    """Host names in cleaned text, lower-case, without a leading `www.`."""
    return [
        (m.start(), m.end(), m.group().lower().removeprefix("www.")) for m in _HOST.finditer(text)
    ]


def lemmas_of(phrase: str) -> list[Analysis]:
    """Analyses of each word of a phrase written by a person (an alias or a cue)."""
    return [analyse(w.lower()) for w in _WORD.findall(clean(phrase))]


@functools.lru_cache(maxsize=200_000)
def analyse(word: str) -> Analysis:
    """Lemmas of a lower-case word from the Ukrainian and Russian dictionaries, or itself."""
    if len(word) > MAX_WORD or not _CYRILLIC.search(word):
        lemmas = {word}
        if _ENGLISH.match(word):
            if word.endswith("'s"):
                word = word[:-2]  # Ukrposhta's
                lemmas.add(word)
            lemmas.add(_english(word))
            # "is repelling": still going on
            return Analysis(frozenset(lemmas), False, False, word.endswith("ing"))
        return Analysis(frozenset(lemmas), False, False)
    parses: list[Any] = []
    guesses: list[Any] = []
    for lang, foreign in (("uk", _RU_ONLY), ("ru", _UK_ONLY)):
        if foreign.search(word):
            continue  # "ы" is not Ukrainian, "ї" is not Russian
        morph = _analyzer(lang)
        found = morph.parse(word)
        # a word one dictionary knows is read in that language only, so the other's
        # guesses ("міноборони" -> Russian verb "міноборонить") do not leak in
        (parses if morph.word_is_known(word) else guesses).extend(found)
    chosen = parses or guesses
    lemmas = {word.replace("ё", "е")} | {p.normal_form.replace("ё", "е") for p in chosen}
    if not parses:
        lemmas.add(_simplemma().lemmatize(word, lang=("uk", "ru")).replace("ё", "е"))
    return Analysis(
        frozenset(lemmas),
        any("impr" in p.tag for p in chosen),
        bool(chosen) and all(_IRREALIS & p.tag.grammemes for p in chosen),
        bool(chosen) and all("pres" in p.tag or "impf" in p.tag for p in chosen),
    )


def _english(word: str) -> str:
    """The English lemma: "restored" -> "restore", "attacks" -> "attack", "was" -> "be"."""
    return str(_simplemma().lemmatize(word, lang="en")).lower()


@functools.cache
def _simplemma() -> Any:
    import simplemma  # imported lazily, like the dictionaries

    return simplemma


@functools.cache
def _analyzer(lang: str) -> Any:
    import pymorphy3  # imported lazily: loading the dictionaries takes a moment

    return pymorphy3.MorphAnalyzer(lang=lang)
