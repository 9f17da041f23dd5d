"""Alerting configuration: the route tree, receivers, silences, maintenance and inhibition."""

from __future__ import annotations

from datetime import datetime, time
from typing import Annotated, Any, Literal, Union
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    create_model,
    field_validator,
    model_validator,
)

from alerts.base import Duration
from alerts.matchers import parse_matchers, regex_problem
from alerts.registry import KINDS
from alerts.timeintervals import NamedTimeInterval

Loc = tuple[str | int, ...]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


def _matcher_lines(value: object) -> object:
    # each line is Alertmanager's `{a="b", c=~"d"}` list syntax; parsed here so a bad one
    # is reported at its own path (alerts.route.routes[0].matchers[1])
    if isinstance(value, str):
        parse_matchers(value)
    return value


MatcherLines = list[Annotated[str, BeforeValidator(_matcher_lines)]]


class RouteConfig(_Frozen):
    """One node of the route tree, as in Alertmanager; unset timings and group_by inherit.

    `matchers` (Alertmanager's syntax) is the current form; `match`/`match_re` still work.
    `mute_time_intervals`/`active_time_intervals` name top-level `time_intervals` and, as in
    Alertmanager, are not inherited.
    """

    receiver: str | None = None
    matchers: MatcherLines = Field(default_factory=list)
    match: dict[str, str] = Field(default_factory=dict)
    match_re: dict[str, str] = Field(default_factory=dict)
    mute_time_intervals: list[str] = Field(default_factory=list)
    active_time_intervals: list[str] = Field(default_factory=list)
    continue_: bool = Field(default=False, alias="continue")
    group_by: list[str] | None = None
    group_wait: Duration | None = None
    group_interval: Duration | None = None
    repeat_interval: Duration | None = None
    routes: list[RouteConfig] = Field(default_factory=list)


class ReceiverCommon(_Frozen):
    """Fields every receiver has, whatever its kind."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    timeout: Duration = 10.0
    send_resolved: bool = True


def _receiver_model(kind: str) -> type[BaseModel]:
    spec = KINDS[kind].model
    return create_model(f"{spec.__name__}Config", __base__=(ReceiverCommon, spec))


_RECEIVERS: Any = tuple(_receiver_model(k) for k in KINDS)
ReceiverConfig = Annotated[Union[_RECEIVERS], Field(discriminator="kind")]  # noqa: UP007


class SilenceConfig(_Frozen):
    """A silence written in the config: matchers, why, and optionally when."""

    match: dict[str, str] = Field(default_factory=dict)
    match_re: dict[str, str] = Field(default_factory=dict)
    comment: str = ""
    starts_at: datetime | None = None
    ends_at: datetime | None = None

    @model_validator(mode="after")
    def _sane(self) -> SilenceConfig:
        if not self.match and not self.match_re:
            raise ValueError("a silence needs at least one matcher (match or match_re)")
        for when in (self.starts_at, self.ends_at):
            if when is not None and when.tzinfo is None:
                raise ValueError("starts_at/ends_at need a time zone, e.g. 2022-02-15T10:00:00Z")
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


def _clock_time(value: object) -> object:
    # YAML 1.1 reads an unquoted 02:30 as the base-60 integer 150; take it back as hh:mm
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 24 * 60:
        return time(value // 60, value % 60)
    return value


ClockTime = Annotated[time, BeforeValidator(_clock_time)]


class MaintenanceConfig(_Frozen):
    """A recurring window (e.g. Sundays 02:00–04:00 Europe/Kyiv) muting matching alerts."""

    name: str = ""
    weekdays: list[Weekday] = Field(default_factory=lambda: list(WEEKDAYS))
    start: ClockTime
    end: ClockTime
    time_zone: str = "UTC"
    match: dict[str, str] = Field(default_factory=dict)
    match_re: dict[str, str] = Field(default_factory=dict)
    comment: str = ""

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {v!r} (use an IANA name like Europe/Kyiv)"
            ) from None
        return v

    @model_validator(mode="after")
    def _sane(self) -> MaintenanceConfig:
        if self.start == self.end:
            raise ValueError("start and end are the same time; the window would be empty")
        return self


class InhibitRuleConfig(_Frozen):
    """While a source alert fires, mute target alerts that agree with it on the `equal` labels."""

    source_matchers: MatcherLines = Field(default_factory=list)
    target_matchers: MatcherLines = Field(default_factory=list)
    source_match: dict[str, str] = Field(default_factory=dict)
    source_match_re: dict[str, str] = Field(default_factory=dict)
    target_match: dict[str, str] = Field(default_factory=dict)
    target_match_re: dict[str, str] = Field(default_factory=dict)
    equal: list[str] = Field(default_factory=list)


class DeliveryConfig(_Frozen):
    """How the outbox retries: exponential backoff with jitter, then gives up."""

    initial_backoff: Duration = 1.0
    max_backoff: Duration = 300.0
    # also the maximum age: an older notification is dropped, never sent late
    give_up_after: Duration = 86400.0
    max_retry_after: Duration = 3600.0  # a receiver's Retry-After is honoured up to this
    concurrency: int = Field(default=8, ge=1)


# Built in: when this vantage itself is offline, its service alerts say nothing about services.
VANTAGE_OFFLINE_RULE = InhibitRuleConfig(
    source_match={"alertname": "vantage_offline"},
    target_match_re={"service": ".+"},
    equal=["vantage"],
)


class AlertsConfig(_Frozen):
    """`alerts:` in the config."""

    route: RouteConfig = RouteConfig()
    receivers: list[ReceiverConfig] = Field(default_factory=list)
    silences: list[SilenceConfig] = Field(default_factory=list)
    maintenance: list[MaintenanceConfig] = Field(default_factory=list)
    inhibit_rules: list[InhibitRuleConfig] = Field(default_factory=list)
    time_intervals: list[NamedTimeInterval] = Field(default_factory=list)
    # Alertmanager's older name for time_intervals, still read by it
    mute_time_intervals: list[NamedTimeInterval] = Field(default_factory=list)
    inhibit_vantage_offline: bool = True
    group_campaigns: bool = True
    delivery: DeliveryConfig = DeliveryConfig()

    def receiver(self, name: str) -> Any:
        """The receiver config called `name`, or None."""
        return next((r for r in self.receivers if r.name == name), None)

    def intervals(self) -> dict[str, NamedTimeInterval]:
        """Every named time interval (both spellings)."""
        return {t.name: t for t in [*self.mute_time_intervals, *self.time_intervals]}

    def all_inhibit_rules(self) -> list[InhibitRuleConfig]:
        """Configured rules plus the built-in vantage_offline one (unless turned off)."""
        extra = [VANTAGE_OFFLINE_RULE] if self.inhibit_vantage_offline else []
        return [*extra, *self.inhibit_rules]


def _regex_problems(maps: dict[str, dict[str, str]], loc: Loc) -> list[tuple[Loc, str]]:
    out = []
    for key, patterns in maps.items():
        for label, pattern in patterns.items():
            problem = regex_problem(pattern)
            if problem:
                out.append(((*loc, key, label), problem))
    return out


def _interval_problems(cfg: AlertsConfig) -> list[tuple[Loc, str]]:
    out: list[tuple[Loc, str]] = []
    seen: set[str] = set()
    for key in ("mute_time_intervals", "time_intervals"):
        for i, t in enumerate(getattr(cfg, key)):
            if t.name in seen:
                out.append((("alerts", key, i, "name"), f"duplicate time interval {t.name!r}"))
            seen.add(t.name)
    return out


def problems(cfg: AlertsConfig) -> list[tuple[Loc, str]]:
    """Cross-field problems (unknown or duplicate receivers, bad regexes), each with its path."""
    out: list[tuple[Loc, str]] = []
    names: set[str] = set()
    for i, rc in enumerate(cfg.receivers):
        if rc.name in names:
            out.append((("alerts", "receivers", i, "name"), f"duplicate receiver name {rc.name!r}"))
        names.add(rc.name)

    intervals = cfg.intervals()
    out.extend(_interval_problems(cfg))

    def walk(route: RouteConfig, loc: Loc) -> None:
        if route.receiver is not None and route.receiver not in names:
            known = ", ".join(sorted(names)) or "none configured"
            out.append((loc + ("receiver",), f"no receiver named {route.receiver!r} ({known})"))
        out.extend(_regex_problems({"match_re": route.match_re}, loc))
        for key in ("mute_time_intervals", "active_time_intervals"):
            if len(loc) == 2 and getattr(route, key):
                out.append(((*loc, key), f"the root route cannot have {key}"))
                continue
            for j, name in enumerate(getattr(route, key)):
                if name not in intervals:
                    known = ", ".join(sorted(intervals)) or "none configured"
                    out.append(((*loc, key, j), f"no time interval named {name!r} ({known})"))
        for j, child in enumerate(route.routes):
            walk(child, loc + ("routes", j))

    if cfg.receivers and cfg.route.receiver is None:
        out.append((("alerts", "route", "receiver"), "the root route needs a receiver"))
    if cfg.receivers or cfg.route.receiver:
        walk(cfg.route, ("alerts", "route"))
    for i, s in enumerate(cfg.silences):
        out.extend(_regex_problems({"match_re": s.match_re}, ("alerts", "silences", i)))
    for i, m in enumerate(cfg.maintenance):
        out.extend(_regex_problems({"match_re": m.match_re}, ("alerts", "maintenance", i)))
    for i, r in enumerate(cfg.inhibit_rules):
        maps = {"source_match_re": r.source_match_re, "target_match_re": r.target_match_re}
        out.extend(_regex_problems(maps, ("alerts", "inhibit_rules", i)))
    return out
