"""Database size over a simulated month of probing: results are pruned, so the size levels off.

Writes results through the real store (monitor.store.db.Store, insert_results, prune_results) with a
simulated clock: N checks every interval seconds, written in batches as the daemon's flusher
does, and pruned in batches of 5000 past storage.retention every 5 simulated minutes, as the
daemon's pruner does. No sleeping. Prints the size per simulated week, then a last line
`db_size_after_30d=<MB> MB rows=<n>`.

    python bench/retention.py [--checks 500] [--interval 30] [--days 30] [--retention 7d]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from alerts.base import parse_duration
from monitor.core.base import Observation
from monitor.store import db as store

PRUNE_EVERY = 300.0  # monitor.runtime.daemon.PRUNE_EVERY
FAILURE_SHARE = 0.03
ERRORS = [
    ("timeout", "timed out after 10s"),
    ("refused", "connection refused"),
    ("http_status", "HTTP 503"),
]


def observations(
    checks: int, interval: float, start: datetime, seconds: float, rng: random.Random
) -> Iterator[Observation]:
    """Every check's results in [start, start + seconds), one per interval, spread like the scheduler."""
    rounds = int(seconds // interval)
    for r in range(rounds):
        base = start + timedelta(seconds=r * interval)
        for c in range(checks):
            ts = base + timedelta(seconds=interval * c / checks)
            failed = rng.random() < FAILURE_SHARE
            error, detail = rng.choice(ERRORS) if failed else (None, "")
            yield Observation(
                service=f"svc{c // 3}",
                check=f"c{c % 3}",
                kind="http",
                ts=ts,
                ok=not failed,
                error=error,
                duration=rng.uniform(0.02, 0.4),
                detail=detail,
                status_code=503 if error == "http_status" else (None if failed else 200),
            )


def size_mb(path: Path) -> float:
    """The database file plus its WAL, in MB."""
    total = 0
    for p in (path, path.with_name(path.name + "-wal")):
        if p.exists():
            total += p.stat().st_size
    return total / 1e6


def count(db: store.Store) -> int:
    """Rows in results."""
    return int(db.run_sync(lambda d: d.execute("SELECT count(*) FROM results").fetchone()[0]))


def main() -> int:
    """Run the simulation and print sizes."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checks", type=int, default=500)
    ap.add_argument("--interval", type=float, default=30.0, help="seconds between probes")
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--retention", default="7d", help="storage.retention")
    ap.add_argument(
        "--success-retention",
        default=None,
        help="storage.success_retention (default: same as retention)",
    )
    ap.add_argument("--batch", type=float, default=PRUNE_EVERY, help="simulated seconds per write")
    ap.add_argument("--db", help="database path (default: a temporary file)")
    args = ap.parse_args()
    retention_s = parse_duration(args.retention)
    success_s = parse_duration(args.success_retention) if args.success_retention else retention_s

    tmp = tempfile.TemporaryDirectory(prefix="outwatch-retention-")
    path = Path(args.db) if args.db else Path(tmp.name) / "outwatch.db"
    db = store.Store(str(path))
    rng = random.Random(1)
    start = datetime(2022, 2, 1, tzinfo=UTC)
    now = start
    end = start + timedelta(days=args.days)
    began = time.monotonic()
    last_prune = start
    written = pruned = 0
    per_day = int(86400 // args.interval) * args.checks
    print(
        f"{args.checks} checks every {args.interval:g}s = {per_day} results/day, "
        f"retention {args.retention} (successes {args.success_retention or args.retention}), "
        f"{args.days} days, writes every {args.batch:g}s simulated"
    )
    while now < end:
        batch = list(observations(args.checks, args.interval, now, args.batch, rng))
        written += db.run_sync(partial(store.insert_results, observations=batch))
        now += timedelta(seconds=args.batch)
        if (now - last_prune).total_seconds() >= PRUNE_EVERY:
            last_prune = now
            passes = [(now - timedelta(seconds=retention_s), False)]
            if success_s < retention_s:  # successes go sooner, failures are kept as evidence
                passes.append((now - timedelta(seconds=success_s), True))
            for before, only_ok in passes:
                deleted = -1
                while deleted != 0:  # small batches, as the daemon does
                    deleted = db.run_sync(
                        partial(store.prune_results, before=before, only_ok=only_ok)
                    )
                    pruned += deleted
        day = (now - start).total_seconds() / 86400
        if day % 7 == 0 or now >= end:
            print(
                f"day {day:4.0f}: db {size_mb(path):8.1f} MB, rows {count(db):>10,}, "
                f"written {written:>11,}, pruned {pruned:>11,}, "
                f"{time.monotonic() - began:6.1f}s wall",
                flush=True,
            )
    rows = count(db)
    mb = size_mb(path)
    db.close()
    tmp.cleanup()
    print(f"db_size_after_{args.days}d={mb:.1f} MB rows={rows}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
