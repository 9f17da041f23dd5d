"""The `outwatch` command: one subcommand per module in monitor.commands."""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys
from collections.abc import Sequence

from monitor import __version__, commands
from monitor.config import ConfigError


def command_modules() -> list[str]:
    """Every module in monitor.commands; each has `register(subparsers)` setting `func`."""
    return sorted(
        m.name for m in pkgutil.iter_modules(commands.__path__) if not m.name.startswith("_")
    )


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser."""
    parser = argparse.ArgumentParser(
        prog="outwatch",
        description="Probe national services, watch official channels, correlate, alert.",
    )
    parser.add_argument("--version", action="version", version=f"outwatch {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in command_modules():
        importlib.import_module(f"monitor.commands.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; never shows a traceback for a user's mistake."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args))
    except ConfigError as exc:
        for line in exc.problems:
            print(line, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # the last line of defence: one line, not a traceback
        logging.getLogger("outwatch").debug("unexpected error", exc_info=True)
        print(f"outwatch: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
