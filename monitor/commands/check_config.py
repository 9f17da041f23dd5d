"""`outwatch check-config FILE`: validate a config; exit 0 when good, 2 when not."""

from __future__ import annotations

import argparse
import sys

from monitor import config


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the subcommand."""
    p = sub.add_parser("check-config", help="validate a config file (exit 0 or 2)")
    p.add_argument("file", help="config file")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Validate and summarise (never printing secrets)."""
    cfg, warnings = config.load_checked(args.file)
    for line in warnings:
        print(f"warning: {line}", file=sys.stderr)
    checks = sum(len(s.checks) for s in cfg.services)
    sources = len(cfg.sources.feeds) + (1 if cfg.sources.telegram else 0)
    print(
        f"{args.file}: ok: vantage {cfg.vantage.name}, {len(cfg.services)} services, "
        f"{checks} checks, {sources} sources, {len(cfg.alerts.receivers)} receivers"
    )
    return 0
