"""Writes results.jsonl for the founding case: one probe a minute per check, 11:30-17:00 UTC.

Run from this directory: python make_results.py
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

DAY = datetime(2022, 2, 15, tzinfo=UTC)
START, END = DAY.replace(hour=11, minute=30), DAY.replace(hour=17)


def at(hhmm: str) -> datetime:
    h, m = hhmm.split(":")
    return DAY.replace(hour=int(h), minute=int(m))


# service -> (failing from, failing until (exclusive), error classes cycled while failing)
FAILING = {
    "privatbank": (at("12:00"), at("14:30"), ["timeout", "timeout", "http_status"]),
    "oschadbank": (at("12:07"), at("16:00"), ["timeout", "http_status"]),
    "mod": (at("12:15"), at("15:00"), ["timeout"]),
    "zsu": (at("12:25"), at("15:10"), ["timeout", "refused"]),
    # a blip: two failures, below failures_before_down (3)
    "monobank": (at("13:10"), at("13:12"), ["timeout"]),
}
CHECKS = [(s, "web") for s in ("privatbank", "oschadbank", "monobank", "mod", "zsu")]
CANARIES = [("_vantage", "resolver"), ("_vantage", "reference")]


def lines() -> list[str]:
    """The results, in time order."""
    out = []
    t = START
    n = 0
    while t <= END:
        for service, check in CANARIES + CHECKS:
            start, stop, errors = FAILING.get(service, (END, END, []))
            failing = start <= t < stop
            row = {
                "ts": t.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "service": service,
                "check": check,
                "ok": not failing,
                "error": errors[n % len(errors)] if failing else None,
                "duration": 10.0 if failing else 0.2,
            }
            out.append(json.dumps(row, ensure_ascii=False))
        t += timedelta(minutes=1)
        n += 1
    return out


if __name__ == "__main__":
    Path(__file__).with_name("results.jsonl").write_text("\n".join(lines()) + "\n")
