"""Label matchers as Alertmanager has them: equal or not, literal or anchored regex."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property

from pydantic import BaseModel, ConfigDict, Field, model_validator


@dataclass(frozen=True)
class Matcher:
    """`name=value`, `name!=value`, `name=~regex` or `name!~regex`; a regex matches whole values."""

    name: str
    value: str
    is_regex: bool = False
    is_equal: bool = True

    @cached_property
    def _pattern(self) -> re.Pattern[str]:
        return re.compile(f"(?:{self.value})")

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether the labels satisfy this matcher (a missing label is the empty string)."""
        value = labels.get(self.name, "")
        hit = self._pattern.fullmatch(value) is not None if self.is_regex else value == self.value
        return hit == self.is_equal

    @property
    def op(self) -> str:
        """`=`, `!=`, `=~` or `!~`."""
        if self.is_regex:
            return "=~" if self.is_equal else "!~"
        return "=" if self.is_equal else "!="

    def sort_key(self) -> tuple[str, str, int]:
        """Alertmanager's order of matchers (labels.Matchers.Less): name, value, then type."""
        return (self.name, self.value, _TYPES.index(self.op))

    def __str__(self) -> str:
        return f'{self.name}{self.op}"{_escape(self.value)}"'


_TYPES = ("=", "!=", "=~", "!~")  # Alertmanager's MatchType numbering


def _escape(value: str) -> str:
    # openMetricsEscape in alertmanager pkg/labels/matcher.go
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def matches_all(matchers: tuple[Matcher, ...], labels: Mapping[str, str]) -> bool:
    """True when every matcher matches (an empty list matches everything)."""
    return all(m.matches(labels) for m in matchers)


def from_maps(
    match: Mapping[str, str], match_re: Mapping[str, str], texts: Iterable[str] = ()
) -> tuple[Matcher, ...]:
    """Matchers from `match:` / `match_re:` maps and `matchers:` lines, sorted as Alertmanager
    sorts a route's matchers (the order shows in group keys)."""
    out = [Matcher(k, v) for k, v in match.items()]
    out += [Matcher(k, v, is_regex=True) for k, v in match_re.items()]
    out += [m for text in texts for m in parse_matchers(text)]
    return tuple(sorted(out, key=Matcher.sort_key))


# alertmanager pkg/labels/parse.go (the classic parser of 0.25): name, operator, optional quotes
_MATCHER = re.compile(r"^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(=~|=|!=|!~)\s*(.*?)\s*$", re.DOTALL)


def parse_matchers(text: str) -> list[Matcher]:
    """`{a="b", c=~"d.*"}` or `a=b,c!=d`: Alertmanager's matcher list syntax; ValueError if bad."""
    text = text.removeprefix("{").removesuffix("}")
    tokens, token, quoted, escaped = [], "", False, False
    for ch in text:
        if ch == "," and not quoted:
            tokens.append(token)
            token = ""
            continue
        if ch == '"':
            quoted = quoted if escaped else not quoted
            escaped = False
        elif ch == "\\":
            escaped = not escaped
        else:
            escaped = False
        token += ch
    if token.strip():
        tokens.append(token.strip())
    return [parse_matcher(t) for t in tokens]


def parse_matcher(text: str) -> Matcher:
    """One `name="value"` (or `!=`, `=~`, `!~`; quotes optional); ValueError if bad."""
    found = _MATCHER.match(text)
    if found is None:
        raise ValueError(f"bad matcher format: {text!r}")
    name, op, raw = found.groups()
    quoted = raw.startswith('"')
    value = _unescape(raw[1:] if quoted else raw, quoted, raw)
    m = Matcher(name, value, is_regex="~" in op, is_equal=op[0] == "=")
    problem = regex_problem(value) if m.is_regex else None
    if problem:
        raise ValueError(problem)
    return m


def _unescape(raw: str, expect_quote: bool, shown: str) -> str:
    out, escaped = [], False
    for i, ch in enumerate(raw):
        if escaped:
            escaped = False
            out.append({"n": "\n", '"': '"', "\\": "\\"}.get(ch, "\\" + ch))
        elif ch == "\\" and i < len(raw) - 1:
            escaped = True
        elif ch == '"':
            if not expect_quote or i < len(raw) - 1:
                raise ValueError(f"matcher value contains unescaped double quote: {shown}")
            expect_quote = False
        else:
            out.append(ch)
    if expect_quote:
        raise ValueError(f"matcher value contains unescaped double quote: {shown}")
    return "".join(out)


def regex_problem(pattern: str) -> str | None:
    """Why a regex does not compile, or None."""
    try:
        re.compile(pattern)
    except re.error as exc:
        return f"invalid regex {pattern!r}: {exc}"
    return None


class MatcherModel(BaseModel):
    """A matcher in JSON, Alertmanager's shape: {name, value, isRegex, isEqual}."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    name: str = Field(min_length=1)
    value: str
    is_regex: bool = Field(default=False, alias="isRegex")
    is_equal: bool = Field(default=True, alias="isEqual")

    @model_validator(mode="after")
    def _regex_compiles(self) -> MatcherModel:
        problem = regex_problem(self.value) if self.is_regex else None
        if problem:
            raise ValueError(problem)
        return self

    def to_matcher(self) -> Matcher:
        """The runtime matcher."""
        return Matcher(self.name, self.value, self.is_regex, self.is_equal)
