"""`outwatch demo`: replay 15 February 2022 live against the real daemon, on loopback only."""

from __future__ import annotations

import argparse
import sys


def _speed(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.1 <= value <= 20:
        raise argparse.ArgumentTypeError("speed must be between 0.1 and 20")
    return value


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the subcommand."""
    p = sub.add_parser(
        "demo",
        help="replay the founding case (15 Feb 2022) live: probes, notices, incidents, alerts",
        description="Start simulated bank and ministry sites on loopback, run the real daemon "
        "against them while they fail as on 15 February 2022, feed the official notices of "
        "that day, and show what outwatch makes of it. Needs no network, no credentials; "
        "writes only to a temporary directory. Exits 0 when the story played out as expected.",
    )
    p.add_argument("--speed", type=_speed, default=1.0, help="replay speed (default 1: ~2 min)")
    p.add_argument(
        "--keep-running",
        action="store_true",
        help="after the summary, keep the daemon and sites up (status page, metrics, API) until Ctrl-C",
    )
    p.add_argument("--no-view", action="store_true", help="plain log instead of the live view")
    p.add_argument(
        "--json-summary", action="store_true", help="also print the summary as one JSON line"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Play the demo."""
    from monitor.demo.run import Options, main

    opts = Options(
        speed=args.speed,
        keep_running=args.keep_running,
        view=not args.no_view and sys.stdout.isatty(),
        json_summary=args.json_summary,
    )
    return main(opts)
