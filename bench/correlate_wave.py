"""A wave of services going down at once through the correlator, in-process: ms per wave.

Run from the repository root: `python bench/correlate_wave.py [--sizes 50,200,500]`.

Per size N: N configured services; within one minute all N open outages (the state machine's
events and the evidence updates a round feeds), an official notice names a few of them, then
they close and the quiet period passes. Prints the wave round's ms, the whole scenario's ms and
a digest of every change and the final snapshot, so two commits can be compared for identical
decisions as well as speed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.config import Correlation
from monitor.core.base import Announcement, Classification, Message, Outage
from monitor.core.correlate import Correlator
from monitor.core.incidents import Change

T0 = datetime(2022, 2, 15, 12, 0, tzinfo=UTC)


def services(n: int) -> dict[str, str]:
    """n services in seven groups."""
    return {f"s{i:04d}": f"g{i % 7}" for i in range(n)}


def wave(corr: Correlator, names: list[str]) -> list[Change]:
    """Every service goes down within a minute (the round that used to be quadratic)."""
    out: list[Change] = []
    for i, svc in enumerate(names):
        at = T0 + timedelta(seconds=60 * i // len(names))
        o = Outage(svc, at, signature={"timeout": 3}, failing_checks=("http:x",))
        out += corr.status(svc, "down", at)
        out += corr.outage_opened(o, at)
        out += corr.outage_updated(o, at)
    return out


def after(corr: Correlator, names: list[str]) -> list[Change]:
    """A notice names a few, everything comes back, the quiet period passes."""
    at = T0 + timedelta(minutes=5)
    msg = Message("dsszzi", "1", at, "text")
    named = tuple(names[:3])
    out = corr.announcement(Announcement(msg, Classification("attack", named)), at)
    end = T0 + timedelta(minutes=20)
    for i, svc in enumerate(names):
        start = T0 + timedelta(seconds=60 * i // len(names))
        o = Outage(svc, start, ended_at=end, signature={"timeout": 5})
        out += corr.status(svc, "up", end)
        out += corr.outage_closed(o, end)
    out += corr.tick(end + timedelta(hours=1))
    return out


def digest(changes: list[Change], corr: Correlator) -> str:
    """A short hash of every change and the final memory (equal on two commits = same decisions)."""
    now = T0 + timedelta(hours=2)
    text = repr(changes) + json.dumps(corr.snapshot(), sort_keys=True) + repr(corr.boosts(now))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def run(n: int) -> dict[str, Any]:
    """One scenario of n services: timings and digest."""
    names = sorted(services(n))
    corr = Correlator(Correlation(), services(n), "kyiv-1")
    t0 = time.perf_counter()
    out = wave(corr, names)
    t1 = time.perf_counter()
    out += after(corr, names)
    t2 = time.perf_counter()
    return {
        "services": n,
        "wave_ms": round((t1 - t0) * 1000, 1),
        "total_ms": round((t2 - t0) * 1000, 1),
        "changes": len(out),
        "digest": digest(out, corr),
    }


def main() -> None:
    """Print one line per size."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", default="50,200,500")
    args = ap.parse_args()
    for n in (int(s) for s in args.sizes.split(",")):
        print(json.dumps(run(n)))


if __name__ == "__main__":
    main()
