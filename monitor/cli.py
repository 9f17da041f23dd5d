"""The `outwatch` command: one subcommand per module in monitor.commands."""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys
from collections.abc import Sequence
from typing import Any, TextIO

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


class Printable:
    """A text stream that shows control characters as escapes instead of sending them.

    What commands print carries text from outside (channel names, message texts, URLs): an
    ESC or a bidi override in it must not drive the operator's terminal.
    """

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        self.stream.write(text.translate(_ESCAPES))
        return len(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


# C0 controls but tab and newline, DEL, C1 controls, and the bidi embeddings and isolates
_ESCAPES = {
    c: f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"
    for c in [
        *range(0x00, 0x09),
        *range(0x0B, 0x20),
        *range(0x7F, 0xA0),
        *range(0x202A, 0x202F),
        *range(0x2066, 0x206A),
    ]
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; never shows a traceback for a user's mistake."""
    out, err = sys.stdout, sys.stderr
    sys.stderr = Printable(err)
    if out.isatty():  # redirected output stays byte-exact (exports, schema)
        sys.stdout = Printable(out)
    try:
        return _main(argv)
    finally:
        sys.stdout, sys.stderr = out, err


def _main(argv: Sequence[str] | None) -> int:
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
