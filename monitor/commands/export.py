"""`outwatch export results -c FILE [--since T]`: write stored results as RESULTS.jsonl for replay."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, TextIO

from alerts.base import parse_duration
from monitor import config
from monitor.store.db import Store, StoreError

BATCH = 5000


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the subcommand."""
    p = sub.add_parser("export", help="export stored data (results as RESULTS.jsonl)")
    what = p.add_subparsers(dest="what", metavar="WHAT", required=True)
    r = what.add_parser("results", help="probe results, one JSON object per line")
    r.add_argument("-c", "--config", required=True, help="config file (for the database path)")
    r.add_argument("--since", help="an ISO 8601 time, or a duration back from now (6h, 2d)")
    r.add_argument("-o", "--output", help="write here instead of stdout")
    r.set_defaults(func=run)


def parse_since(text: str | None, now: datetime) -> datetime | None:
    """`--since`: an ISO 8601 time (UTC if no zone) or a duration before `now`."""
    if not text:
        return None
    try:
        return now - timedelta(seconds=parse_duration(text))
    except ValueError:
        pass
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"--since {text!r}: expected an ISO 8601 time or a duration like 6h"
        ) from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when


def line(row: dict[str, Any]) -> str:
    """A results-table row as one RESULTS.jsonl line."""
    ts = datetime.fromisoformat(row["ts"]).astimezone(UTC)
    return json.dumps(
        {
            "ts": ts.isoformat().replace("+00:00", "Z"),
            "service": row["service"],
            "check": row["check_id"],
            "ok": bool(row["ok"]),
            "error": None if row["ok"] else row["error"],
            "duration": row["duration"] or 0.0,
        },
        ensure_ascii=False,
    )


def _batch(db: Any, after: int, since: datetime | None) -> list[dict[str, Any]]:
    where = "rowid > ?" + (" AND ts >= ?" if since else "")
    args: list[Any] = [after, *([since.isoformat()] if since else [])]
    sql = f"SELECT rowid, * FROM results WHERE {where} ORDER BY rowid LIMIT {BATCH}"
    return list(db.query(sql, args))


def rows(store: Store, since: datetime | None) -> Iterator[dict[str, Any]]:
    """Stored results in the order written, in batches (the table can be large)."""
    last = -1
    while got := store.run_sync(partial(_batch, after=last, since=since)):
        yield from got
        last = got[-1]["rowid"]


def run(args: argparse.Namespace) -> int:
    """Export; exit 2 on a bad --since or a missing database."""
    cfg = config.load(args.config)
    try:
        since = parse_since(args.since, datetime.now(UTC))
    except ValueError as exc:
        print(f"outwatch: {exc}", file=sys.stderr)
        return 2
    path = Path(cfg.storage.path)  # as the daemon opens it
    if not path.exists():
        print(f"outwatch: no database at {path}", file=sys.stderr)
        return 2
    store = Store(str(path))
    try:
        out: TextIO = open(args.output, "w", encoding="utf-8") if args.output else sys.stdout  # noqa: SIM115
        try:
            n = 0
            for r in rows(store, since):
                out.write(line(r) + "\n")
                n += 1
        finally:
            if args.output:
                out.close()
    except StoreError as exc:
        print(f"outwatch: {exc}", file=sys.stderr)
        return 1
    finally:
        store.close()
    print(f"exported {n} results", file=sys.stderr)
    return 0
