"""`outwatch run -c FILE`: the daemon."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the subcommand."""
    p = sub.add_parser("run", help="run the daemon")
    p.add_argument("-c", "--config", required=True, help="config file")
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    p.add_argument("--log-format", default="text", choices=["text", "json"])
    p.add_argument("--watch-config", action="store_true", help="reload when the file changes")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run until signalled."""
    from monitor.runtime import malloc

    malloc.tune()  # before the daemon's threads exist: arenas are made as threads need them
    from monitor.runtime.daemon import main

    return main(args)
