"""`outwatch schema`: print the config's JSON Schema (for editors)."""

from __future__ import annotations

import argparse
import sys

from monitor import config


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the subcommand."""
    p = sub.add_parser("schema", help="print the JSON Schema of the config")
    p.add_argument("-o", "--output", help="write to this file instead of stdout")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print or write the schema."""
    text = config.json_schema()
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return 0
