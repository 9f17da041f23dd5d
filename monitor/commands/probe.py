"""`outwatch probe TARGET`: run one check now and print what happened, phase by phase."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from dataclasses import asdict
from typing import Any

from alerts.base import parse_duration
from monitor.runtime.runner import check_from_target, run_check
from probes.base import ProbeContext, ProbeResult


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the subcommand."""
    p = sub.add_parser(
        "probe",
        help="probe a URL, host:port, tls://host, dns:name or icmp://host once (exit 0 ok, 1 failed)",
        description="Run one check now, like curl -w: result, error class, phases, certificate.",
    )
    p.add_argument(
        "target", help="https://host/path, host:port, tls://host[:port], dns:name, icmp://host"
    )
    p.add_argument("--timeout", default="10s", help="give up after this long (default 10s)")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    p.add_argument("-k", "--insecure", action="store_true", help="do not verify TLS certificates")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Probe once; exit 0 if ok, 1 if the probe failed, 2 on bad input."""
    try:
        timeout = parse_duration(args.timeout)
        if timeout <= 0:
            raise ValueError("the timeout must be positive")
        check = check_from_target(args.target, timeout)
    except ValueError as exc:
        print(f"outwatch probe: {exc}", file=sys.stderr)
        return 2
    if args.insecure:
        field = {"http": "verify_tls", "tls": "verify"}.get(check.kind)
        if field:
            check = check.model_copy(update={field: False})
    result = asyncio.run(run_check(check, ProbeContext()))
    print(json.dumps(as_json(check, result)) if args.json else as_text(check, result))
    return 0 if result.ok else 1


def as_json(check: Any, result: ProbeResult) -> dict[str, Any]:
    """The result as plain JSON values, with the check it ran."""
    data = asdict(result)
    data["phases"] = dict(result.phases)
    data["extra"] = dict(result.extra)
    del data["carried"]  # shown as blackbox's series instead: name{labels} -> value
    data["gauges"] = {_series(f.name, f.labels, lv): v for f, lv, v in result.gauges()}
    return {"check": check.id, "kind": check.kind, **data}


def _series(name: str, labels: tuple[str, ...], values: tuple[str, ...]) -> str:
    pairs = ",".join(
        f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in zip(labels, values, strict=True)
    )
    return f"{name}{{{pairs}}}" if pairs else name


def as_text(check: Any, result: ProbeResult) -> str:
    """Aligned lines a person reads at a glance."""
    head = "OK  " if result.ok else "FAIL"
    lines = [f"{head} {check.kind} {check.endpoint()}"]
    rows: list[tuple[str, str]] = []
    if result.error:
        rows.append(("error", result.error))
    rows.append(("detail", result.detail))
    if result.status_code is not None:
        rows.append(("status", str(result.status_code)))
    rows += [(name, f"{seconds * 1000:9.1f} ms") for name, seconds in result.phases.items()]
    rows.append(("total", f"{result.duration * 1000:9.1f} ms"))
    if result.cert_expiry is not None:
        days = (result.cert_expiry - time.time()) / 86400
        when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(result.cert_expiry))
        rows.append(("cert expiry", f"{when} ({days:.0f} days)"))
    for key, value in result.extra.items():
        if key != "answers":
            rows.append((key, str(value)))
    lines += [f"  {name:<12} {value}" for name, value in rows]
    return "\n".join(lines)
