"""`outwatch campaigns -c FILE [--status S] [--since T]`: campaigns, newest first; in a fleet,
the fleet's."""

from __future__ import annotations

import argparse
import sys
from typing import Any, get_args

from monitor.commands._state import Source, add_common, origin, run_reading, since_arg
from monitor.core.incidents import CampaignStatus


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the subcommand."""
    p = sub.add_parser("campaigns", help="campaigns, newest first (in a fleet: the fleet's)")
    add_common(p)
    p.add_argument("--status", choices=get_args(CampaignStatus))
    p.add_argument("--since", help="open, or ended after: an ISO 8601 time or a duration (6h)")
    p.set_defaults(func=run)


def table(source: Source, rows: list[dict[str, Any]]) -> list[str]:
    """One line per campaign: id, status, when, its services."""
    lines = [f"{origin(source)} · {len(rows)} campaigns"]
    for r in rows:
        when = f"{r.get('started_at')} → {r.get('ended_at') or 'now'}"
        services = ", ".join(str(s) for s in r.get("services") or [])
        lines.append(f"{r.get('id')}  {r.get('status')}  {when}  {services}")
    return lines


def run(args: argparse.Namespace) -> int:
    """Print the campaigns; exit 2 on a bad option, 1 when the state cannot be read."""
    try:
        since = since_arg(args.since)
    except ValueError as exc:
        print(f"outwatch: {exc}", file=sys.stderr)
        return 2

    def read(source: Source) -> list[dict[str, Any]]:
        return source.read("campaigns", status=args.status, since=since)

    return run_reading(args, read, table)
