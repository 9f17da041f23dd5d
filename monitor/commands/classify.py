"""`outwatch classify -c FILE [INPUT]`: classify JSON-lines notices, one JSON line out per line in.

Input lines are `{"id": ..., "text": "..."}` ("id" is echoed back as given; blank lines are
skipped); an optional `"service"` names the channel's own service, which a notice naming none
is about. A bad line is reported on stderr as `INPUT:LINE: what is wrong` and skipped; the
others are still classified, and the exit status is then 1. The config needs only `services`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterable, Iterator
from typing import IO, Any

from monitor import config
from monitor.core.base import claim_dict
from monitor.core.classify.classifier import Classifier


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the subcommand."""
    p = sub.add_parser(
        "classify",
        help="classify notices (JSON lines {id, text}) into claims, kind and services",
        description='Read JSON lines {"id": ..., "text": ...} and print one JSON line per '
        "notice: id, kind, services, confidence, evidence, claims (service, kind, polarity, "
        "time, cause, evidence). Bad lines are reported on stderr "
        "and skipped; the exit status is then 1.",
    )
    p.add_argument("-c", "--config", required=True, help="config file (only services are used)")
    p.add_argument("input", nargs="?", default="-", help="JSON-lines file (default: stdin)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Classify every line; 0 when all were good, 1 when some were not, 2 when INPUT is unreadable."""
    cfg = config.load(args.config)
    classifier = Classifier.from_services(cfg.services)
    name = "<stdin>" if args.input == "-" else args.input
    try:
        stream: IO[bytes] = sys.stdin.buffer if args.input == "-" else open(args.input, "rb")  # noqa: SIM115
    except OSError as exc:
        print(f"{name}: cannot read: {exc.strerror}", file=sys.stderr)
        return 2
    try:
        with stream:
            return _classify_lines(classifier, name, stream, sys.stdout)
    except BrokenPipeError:
        # the reader went away (`| head`): stop quietly, and keep Python from complaining at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _classify_lines(classifier: Classifier, name: str, lines: Iterable[bytes], out: IO[str]) -> int:
    failed = False
    for number, item in _notices(lines):
        if isinstance(item, str):
            print(f"{name}:{number}: {item}", file=sys.stderr)
            failed = True
            continue
        own = item.get("service")
        result = classifier.classify(item["text"], own if isinstance(own, str) else None)
        row = {
            "id": item.get("id"),
            "kind": result.kind,
            "services": list(result.services),
            "confidence": result.confidence,
            "evidence": list(result.evidence),
            "claims": [claim_dict(c) for c in result.claims],
        }
        out.write(json.dumps(row, ensure_ascii=False) + "\n")
    out.flush()
    return 1 if failed else 0


def _notices(lines: Iterable[bytes]) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """(line number, notice) for each non-blank line, or (line number, what is wrong with it)."""
    for number, raw in enumerate(lines, start=1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield number, f"not UTF-8 text (byte {exc.start + 1})"
            continue
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            yield number, f"not JSON: {exc.msg} at column {exc.colno}"
            continue
        except RecursionError:
            yield number, "not JSON: nested too deeply"
            continue
        if not isinstance(item, dict):
            yield (
                number,
                f'expected an object {{"id": ..., "text": ...}}, got {type(item).__name__}',
            )
        elif "text" not in item:
            yield number, 'missing "text"'
        elif not isinstance(item["text"], str):
            yield number, f'"text" must be a string, got {type(item["text"]).__name__}'
        elif isinstance(item.get("id"), dict | list):
            yield number, '"id" must be a string or a number'
        else:
            yield number, item
