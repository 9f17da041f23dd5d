"""`outwatch status -c FILE`: each service's status; in a fleet, the fleet's with which vantages
see what."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from monitor.commands._state import Source, add_common, origin, run_reading
from monitor.vocabulary import NO_VANTAGE_YET, VANTAGE_SEEN, VANTAGE_VIEWS


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the subcommand."""
    p = sub.add_parser(
        "status",
        help="each service's status (in a fleet: the fleet's, with the vantages that see it)",
    )
    add_common(p)
    p.set_defaults(func=run)


def vantage_words(verdict: Mapping[str, Any]) -> str:
    """`down from lviv; up from kyiv, odesa`: which vantages see the service how."""
    parts = []
    for view in VANTAGE_VIEWS:
        names = [str(n) for n in verdict.get(view) or []]
        if names:
            parts.append(f"{VANTAGE_SEEN[view]} {', '.join(names)}")
    return "; ".join(parts) or NO_VANTAGE_YET


def read(source: Source) -> list[dict[str, Any]]:
    """Every configured service (then any other the state knows), with its status."""
    found = {str(r["service"]): r for r in source.read("services")}
    names = [s.name for s in source.cfg.services]
    names += [n for n in found if n not in names]
    out = []
    for name in names:
        row = found.get(name)
        if source.fleet:
            # a service the decider has not judged yet (just added, or no decider so far)
            out.append(row or {"service": name, "status": "unknown", "vantages": None})
        else:
            # the local store keeps outages: a service without an open one was last seen up
            out.append(row or {"service": name, "status": "up", "changed_at": None})
    return out


def table(source: Source, rows: list[dict[str, Any]]) -> list[str]:
    """One line per service."""
    width = max([len("SERVICE"), *(len(str(r["service"])) for r in rows)])
    lines = [origin(source)]
    if source.fleet:
        judged = max((str(r["updated_at"]) for r in rows if r.get("updated_at")), default=None)
        lines[0] += f" · judged at {judged}" if judged else " · no fleet status yet"
        lines.append(f"{'SERVICE':<{width}}  {'STATUS':<8}  VANTAGES")
        for r in rows:
            v = r.get("vantages")
            words = vantage_words(v) if isinstance(v, Mapping) else "no fleet status yet"
            lines.append(f"{r['service']:<{width}}  {r['status']:<8}  {words}")
        return lines
    lines[0] += " (as last recorded)"
    lines.append(f"{'SERVICE':<{width}}  {'STATUS':<8}  SINCE")
    for r in rows:
        lines.append(f"{r['service']:<{width}}  {r['status']:<8}  {r.get('changed_at') or ''}")
    return lines


def run(args: argparse.Namespace) -> int:
    """Print the status table (or JSON); exit 1 when the state cannot be read."""
    return run_reading(args, read, table)
