"""Replay: the real state machine, classifier and correlator over recorded data, on a fake clock."""

from __future__ import annotations

import importlib
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from monitor.config import Config
from monitor.core.base import Announcement, Classification, FakeClock, Message, Observation
from monitor.core.engine import CANARY_SERVICE, Engine
from monitor.core.incidents import Campaign, Change, Gap, Incident
from monitor.core.timebounds import usable
from probes.base import ERROR_CLASSES


class Classify(Protocol):
    """Text (and the channel's own service, if it has one) to a classification."""

    def __call__(self, text: str, service: str | None = None, /) -> Classification: ...


class ReplayError(Exception):
    """Bad replay input; the message is one line naming the file and line."""


# -- input -------------------------------------------------------------------------------------


def known_checks(cfg: Config) -> dict[tuple[str, str], str]:
    """(service, check id) -> kind, canaries under CANARY_SERVICE."""
    checks = {(s.name, c.id): c.kind for s in cfg.services for c in s.checks}
    checks.update({(CANARY_SERVICE, c.id): c.kind for c in cfg.vantage.canaries})
    return checks


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _load_object(line: str, where: str) -> dict[str, Any]:
    try:
        data = json.loads(line)
    except (ValueError, RecursionError) as exc:
        msg = exc.msg if isinstance(exc, json.JSONDecodeError) else "nested too deeply"
        raise ReplayError(f"{where}: not JSON: {msg}") from None
    if not isinstance(data, dict):
        raise ReplayError(f"{where}: expected a JSON object, got {type(data).__name__}")
    return data


def _string(data: Mapping[str, Any], key: str, where: str) -> str:
    value = data.get(key)
    if isinstance(value, int) and not isinstance(value, bool) and key == "id":
        return str(value)
    if not isinstance(value, str) or not value:
        what = "missing" if value is None else f"must be a non-empty string, got {_short(value)}"
        raise ReplayError(f"{where}: {key!r} {what}")
    return value


def _time(data: Mapping[str, Any], key: str, where: str) -> datetime:
    raw = _string(data, key, where)
    try:
        when = datetime.fromisoformat(raw)
    except ValueError:
        raise ReplayError(f"{where}: {key!r} is not an ISO 8601 time: {_short(raw)}") from None
    # a time without a zone is taken as UTC, the zone everything here is recorded in
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when
    if not usable(when):  # replays are history: no receipt time, but the same outer bounds
        raise ReplayError(f"{where}: {key!r} is out of range (1970 to 9000): {_short(raw)}")
    return when.astimezone(UTC)


def parse_result(
    line: str, where: str, checks: Mapping[tuple[str, str], str]
) -> Observation | None:
    """One RESULTS.jsonl line -> Observation (None for a blank line); ReplayError if bad."""
    if not line.strip():
        return None
    data = _load_object(line, where)
    ts = _time(data, "ts", where)
    service, check = _string(data, "service", where), _string(data, "check", where)
    kind = checks.get((service, check))
    if kind is None:
        raise ReplayError(f"{where}: unknown check {_short(check)} of service {_short(service)}")
    ok = data.get("ok")
    if not isinstance(ok, bool):
        raise ReplayError(f"{where}: 'ok' must be true or false, got {_short(ok)}")
    error = data.get("error")
    if error is not None and error not in ERROR_CLASSES:
        raise ReplayError(
            f"{where}: 'error' {_short(error)} is not one of {', '.join(ERROR_CLASSES)}"
        )
    duration = data.get("duration", 0.0)
    if (
        isinstance(duration, bool)
        or not isinstance(duration, int | float)
        or not math.isfinite(duration)
        or duration < 0
    ):
        raise ReplayError(f"{where}: 'duration' must be seconds >= 0, got {_short(duration)}")
    return Observation(
        service=service,
        check=check,
        kind=kind,
        ts=ts,
        ok=ok,
        error=None if ok else (error or "error"),
        duration=float(duration),
    )


def _lines(path: Path) -> Iterable[tuple[int, str]]:
    try:
        with path.open(encoding="utf-8") as f:
            yield from enumerate(f, 1)
    except OSError as exc:
        raise ReplayError(f"{path}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ReplayError(f"{path}: not UTF-8 text") from None


def load_results(path: Path, cfg: Config) -> list[Observation]:
    """Every result in a RESULTS.jsonl file, in time order."""
    checks = known_checks(cfg)
    out = [
        obs
        for n, line in _lines(path)
        if (obs := parse_result(line, f"{path}:{n}", checks)) is not None
    ]
    out.sort(key=lambda o: o.ts)  # stable: lines with one time keep their order
    return out


def parse_message(line: str, where: str) -> Message | None:
    """One MESSAGES JSON line -> Message (None for a blank line); ReplayError if bad."""
    if not line.strip():
        return None
    data = _load_object(line, where)
    text = data.get("text")
    if not isinstance(text, str):
        raise ReplayError(f"{where}: 'text' must be a string, got {_short(text)}")
    return Message(
        source=_string(data, "source", where),
        id=_string(data, "id", where),
        published_at=_time(data, "published_at", where),
        text=text,
    )


def _is_telegram_export(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            head = f.read(4096).lstrip()
    except OSError as exc:
        raise ReplayError(f"{path}: cannot read: {exc.strerror}") from None
    if not head.startswith(b"{"):
        return False
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, RecursionError):
        return False  # JSON lines (or garbage the line parser will name)
    return isinstance(data, dict) and isinstance(data.get("messages"), list)


def load_messages(path: Path) -> list[Message]:
    """Messages from a Telegram Desktop export (result.json) or JSON lines, in time order."""
    if _is_telegram_export(path):
        msgs = _load_export(path)
    else:
        msgs = [
            m for n, line in _lines(path) if (m := parse_message(line, f"{path}:{n}")) is not None
        ]
    msgs.sort(key=lambda m: m.published_at)
    return msgs


def _load_export(path: Path) -> list[Message]:
    try:
        export: Any = importlib.import_module("monitor.sources.export")
    except ImportError:
        raise ReplayError(f"{path}: reading Telegram Desktop exports is not available") from None
    try:
        return list(export.load_export(path))
    except export.ExportError as exc:
        raise ReplayError(str(exc).splitlines()[0] if str(exc) else f"{path}: bad export") from None


# -- the run -----------------------------------------------------------------------------------


@dataclass
class ReplayReport:
    """What the daemon would have decided over the recorded data."""

    incidents: list[Incident] = field(default_factory=list)
    campaigns: list[Campaign] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    results: int = 0
    messages: int = 0


class _Collector:
    """Keeps the last word on every incident and campaign the correlator reported."""

    def __init__(self) -> None:
        self.incidents: dict[str, Incident] = {}
        self.campaigns: dict[str, Campaign] = {}

    def add(self, changes: Iterable[Change]) -> None:
        for ch in changes:
            if ch.incident is not None:
                if ch.kind == "incident_withdrawn":
                    self.incidents.pop(ch.incident.id, None)
                else:
                    self.incidents[ch.incident.id] = ch.incident
            if ch.campaign is not None:
                if ch.kind == "campaign_withdrawn":
                    self.campaigns.pop(ch.campaign.id, None)
                else:
                    self.campaigns[ch.campaign.id] = ch.campaign


def replay(
    cfg: Config, results: list[Observation], messages: list[Message], classify: Classify
) -> ReplayReport:
    """Run state, classification and correlation over time-ordered results and messages."""
    engine = Engine(cfg)
    clock = FakeClock()
    seen = _Collector()
    own = cfg.sources.own_services()  # a notice on a service's own channel is about it
    # at one instant: canaries first (so the guard decides before outages open), then the rest
    stream: list[tuple[datetime, int, int, Observation | Message]] = [
        (o.ts, 0 if o.service == CANARY_SERVICE else 1, i, o) for i, o in enumerate(results)
    ]
    stream += [(m.published_at, 2, i, m) for i, m in enumerate(messages)]
    stream.sort(key=lambda x: (x[0], x[1], x[2]))
    if stream:
        clock.current = stream[0][0]
    for when, _, _, item in stream:
        clock.set(when)
        now = clock.now()
        if isinstance(item, Message):
            ann = Announcement(item, classify(item.text, own.get(item.source)))
            seen.add(engine.announcement(ann, now))
        else:
            seen.add(engine.observe(item)[1])
    seen.add(engine.tick(clock.now()))
    return ReplayReport(
        incidents=sorted(seen.incidents.values(), key=lambda i: (i.started_at, i.service)),
        campaigns=sorted(seen.campaigns.values(), key=lambda c: (c.started_at, c.id)),
        gaps=engine.correlator.gaps(),
        results=len(results),
        messages=len(messages),
    )


# -- output ------------------------------------------------------------------------------------


def _utc(t: datetime | None) -> str | None:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if t else None


def report_dict(report: ReplayReport) -> dict[str, Any]:
    """The `--format json` object."""
    return {
        "incidents": [
            {
                "id": i.id,
                "service": i.service,
                "observed": i.observed,
                "announced": i.announced,
                "status": i.status,
                "started_at": _utc(i.started_at),
                "ended_at": _utc(i.ended_at),
                "announcements": list(i.announcements),
                "flags": list(i.flags),
            }
            for i in report.incidents
        ],
        "campaigns": [
            {"id": c.id, "services": list(c.services), "started_at": _utc(c.started_at)}
            for c in report.campaigns
        ],
    }


def report_json(report: ReplayReport) -> str:
    """One JSON object, stable for the same input."""
    return json.dumps(report_dict(report), ensure_ascii=False, indent=2) + "\n"


def _count(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def report_table(report: ReplayReport) -> str:
    """The same, for a person."""
    rows = [("ID", "SERVICE", "SEEN", "STATUS", "STARTED", "ENDED", "NOTICES", "FLAGS")]
    for i in report.incidents:
        seen = "confirmed" if i.confirmed else ("observed" if i.observed else "announced")
        rows.append(
            (
                i.id,
                i.service,
                seen,
                i.status,
                _utc(i.started_at) or "",
                _utc(i.ended_at) or "-",
                ",".join(i.announcements) or "-",
                ",".join(i.flags) or "-",
            )
        )
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    lines = ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.append("")
    for c in report.campaigns:
        lines.append(f"campaign {c.id} {_utc(c.started_at)}: {', '.join(c.services)}")
    for g in report.gaps:
        lines.append(
            f"vantage offline {_utc(g.started_at)} .. {_utc(g.ended_at) or 'end'}: "
            f"{len(g.outages)} outages not counted as incidents"
        )
    lines.append(
        f"{_count(len(report.incidents), 'incident')}, "
        f"{_count(len(report.campaigns), 'campaign')} "
        f"from {report.results} results and {report.messages} messages"
    )
    return "\n".join(lines) + "\n"
