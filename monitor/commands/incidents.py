"""`outwatch incidents -c FILE [--status S] [--service S] [--since T]`: incidents, newest first;
in a fleet, the fleet's (one per service for the whole fleet)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from typing import Any, get_args

from monitor.commands._state import Source, add_common, origin, run_reading, since_arg
from monitor.commands.status import vantage_words
from monitor.core.incidents import IncidentStatus


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the subcommand."""
    p = sub.add_parser("incidents", help="incidents, newest first (in a fleet: the fleet's)")
    add_common(p)
    p.add_argument("--status", choices=get_args(IncidentStatus))
    p.add_argument("--service", help="only this service's")
    p.add_argument("--since", help="open, or ended after: an ISO 8601 time or a duration (6h)")
    p.add_argument("--limit", type=int, default=100, help="at most this many (default 100)")
    p.set_defaults(func=run)


def table(source: Source, rows: list[dict[str, Any]]) -> list[str]:
    """One line per incident: id, service, status, how it is known, when; then (open, in a
    fleet) which vantages see its service how, its campaign and flags."""
    lines = [f"{origin(source)} · {len(rows)} incidents"]
    for r in rows:
        how = (
            "confirmed" if r.get("confirmed") else "observed" if r.get("observed") else "announced"
        )
        when = f"{r.get('started_at')} → {r.get('ended_at') or 'now'}"
        extra = [vantage_words(r["vantages"])] if isinstance(r.get("vantages"), Mapping) else []
        extra += [f"campaign {r['campaign']}"] if r.get("campaign") else []
        extra += [str(f) for f in r.get("flags") or []]
        lines.append(
            "  ".join([str(r.get("id")), str(r.get("service")), str(r.get("status")), how, when])
            + ("  " + " · ".join(extra) if extra else "")
        )
    return lines


def run(args: argparse.Namespace) -> int:
    """Print the incidents; exit 2 on a bad option, 1 when the state cannot be read."""
    try:
        since = since_arg(args.since)
    except ValueError as exc:
        print(f"outwatch: {exc}", file=sys.stderr)
        return 2
    if args.limit < 1:
        print("outwatch: --limit must be at least 1", file=sys.stderr)
        return 2

    def read(source: Source) -> list[dict[str, Any]]:
        rows = source.read(
            "incidents", status=args.status, service=args.service, since=since, limit=args.limit
        )
        if source.fleet and any(r.get("status") == "open" for r in rows):
            # an open fleet incident says which vantages see its service how, now
            verdicts = {v["service"]: v["vantages"] for v in source.read("services")}
            for r in rows:
                if r.get("status") == "open" and r.get("service") in verdicts:
                    r["vantages"] = verdicts[r["service"]]
        return rows

    return run_reading(args, read, table)
