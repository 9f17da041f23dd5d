"""`outwatch replay -c FILE --results RESULTS.jsonl --messages MESSAGES`: decide over recorded data."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from monitor import config
from monitor.core.classify.classifier import Classifier
from monitor.replay import (
    Classify,
    ReplayError,
    load_messages,
    load_results,
    replay,
    report_json,
    report_table,
)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the subcommand."""
    p = sub.add_parser(
        "replay",
        help="run state, classification and correlation over recorded results and messages",
    )
    p.add_argument("-c", "--config", required=True, help="config file")
    p.add_argument("--results", required=True, help="RESULTS.jsonl: one probe result per line")
    p.add_argument(
        "--messages", help="a Telegram Desktop result.json export, or JSON lines of messages"
    )
    p.add_argument("--format", choices=["json", "table"], default="table")
    p.set_defaults(func=run)


def classifier(cfg: config.Config) -> Classify:
    """The real classifier for the configured services."""
    return Classifier.from_services(cfg.services).classify


def run(args: argparse.Namespace) -> int:
    """Replay and print; bad input is one line on stderr and exit 2."""
    cfg = config.load(args.config)
    try:
        results = load_results(Path(args.results), cfg)
        messages = load_messages(Path(args.messages)) if args.messages else []
        report = replay(cfg, results, messages, classifier(cfg))
    except ReplayError as exc:
        print(f"outwatch: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write(report_json(report) if args.format == "json" else report_table(report))
    return 0
