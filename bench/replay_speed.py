"""Replay speed: 100,000 probe results and 10,000 messages through state, classify and correlate.

Prints results/s, messages/s and, last, the headline (the issue's bound is 10 s for both).
Usage: python bench/replay_speed.py [--results N] [--messages N]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor import config
from monitor.core.base import Classification
from monitor.core.classify.classifier import Classifier
from monitor.replay import load_messages, load_results, replay

SERVICES = 50
T0 = datetime(2022, 2, 15, tzinfo=UTC)
WORDS = ["DDoS-атака на", "Відновлено роботу", "Збій у роботі", "Новини:", "Попередження:"]


def make_config() -> config.Config:
    """50 services of two groups, one http check each."""
    lines = ["vantage: bench", "services:"]
    for i in range(SERVICES):
        lines += [
            f"  - name: svc{i}",
            f"    group: {'bank' if i % 2 else 'government'}",
            f"    aliases: [Сервіс{i}]",
            f'    checks: [{{kind: http, id: web, url: "https://svc{i}.example/"}}]',
        ]
    return config.parse("\n".join(lines))


def write_results(path: Path, n: int, rng: random.Random) -> None:
    """n results, one per service per minute, with outages of a few minutes to hours."""
    down_until = [T0] * SERVICES
    with path.open("w", encoding="utf-8") as f:
        for k in range(n):
            i, minute = k % SERVICES, k // SERVICES
            ts = T0 + timedelta(minutes=minute)
            if ts >= down_until[i] and rng.random() < 0.002:
                down_until[i] = ts + timedelta(minutes=rng.randint(2, 240))
            ok = ts >= down_until[i]
            row = {
                "ts": ts.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "service": f"svc{i}",
                "check": "web",
                "ok": ok,
                "error": None if ok else rng.choice(["timeout", "http_status", "refused"]),
                "duration": 0.2 if ok else 10.0,
            }
            f.write(json.dumps(row) + "\n")


def write_messages(path: Path, n: int, span_minutes: int, rng: random.Random) -> None:
    """n messages spread over the results' time span, each naming a service or none."""
    with path.open("w", encoding="utf-8") as f:
        for k in range(n):
            ts = T0 + timedelta(seconds=rng.randint(0, span_minutes * 60))
            text = f"{rng.choice(WORDS)} Сервіс{rng.randrange(SERVICES)}"
            row = {"source": "bench", "id": k, "published_at": ts.isoformat(), "text": text}
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def classifier(cfg: config.Config) -> Callable[[str], Classification]:
    """The real classifier for the configured services."""
    return Classifier.from_services(cfg.services).classify


def main() -> None:
    """Generate, replay, print."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--results", type=int, default=100_000)
    ap.add_argument("--messages", type=int, default=10_000)
    args = ap.parse_args()
    rng = random.Random(20220215)
    cfg = make_config()
    classify = classifier(cfg)
    with tempfile.TemporaryDirectory() as d:
        rpath, mpath = Path(d) / "results.jsonl", Path(d) / "messages.jsonl"
        write_results(rpath, args.results, rng)
        write_messages(mpath, args.messages, args.results // SERVICES, rng)

        t = time.perf_counter()
        results = load_results(rpath, cfg)
        only_results = replay(cfg, results, [], classify)
        r_s = time.perf_counter() - t
        t = time.perf_counter()
        messages = load_messages(mpath)
        replay(cfg, [], messages, classify)
        m_s = time.perf_counter() - t
        t = time.perf_counter()
        both = replay(cfg, load_results(rpath, cfg), load_messages(mpath), classify)
        total = time.perf_counter() - t
    print(
        f"results:  {args.results} in {r_s:.2f} s = {args.results / r_s:,.0f} results/s "
        f"({len(only_results.incidents)} incidents)"
    )
    print(f"messages: {args.messages} in {m_s:.2f} s = {args.messages / m_s:,.0f} messages/s")
    print(f"both: {len(both.incidents)} incidents, {len(both.campaigns)} campaigns")
    print(
        f"replay of {args.results} results + {args.messages} messages: {total:.2f} s "
        f"(bound 10 s: {'ok' if total < 10 else 'TOO SLOW'})"
    )


if __name__ == "__main__":
    main()
