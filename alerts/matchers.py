"""Label matchers as Alertmanager has them: equal or not, literal or anchored regex."""

from __future__ import annotations

import re
from collections.abc import Mapping
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

    def __str__(self) -> str:
        op = ("=" if self.is_equal else "!") + ("~" if self.is_regex else "")
        op = {"!": "!=", "=~": "=~", "!~": "!~", "=": "="}[op]
        return f'{self.name}{op}"{self.value}"'


def matches_all(matchers: tuple[Matcher, ...], labels: Mapping[str, str]) -> bool:
    """True when every matcher matches (an empty list matches everything)."""
    return all(m.matches(labels) for m in matchers)


def from_maps(match: Mapping[str, str], match_re: Mapping[str, str]) -> tuple[Matcher, ...]:
    """Matchers from a route-style `match:` / `match_re:` pair."""
    return tuple(Matcher(k, v) for k, v in sorted(match.items())) + tuple(
        Matcher(k, v, is_regex=True) for k, v in sorted(match_re.items())
    )


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
