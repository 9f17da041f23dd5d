"""/metrics in process: ms per scrape of N http checks with 0% and 50% of them changed, and memory.

Run from the repository root: `python bench/metrics_render.py [--checks 10000] [--scrapes 5]`.

A pipeline of N http checks (10 per service, as bench/scale.py configures them) gets results
shaped like a real http probe's (the families and labels it carries, new timings each run). A
scrape is what Api.metrics_text does: a snapshot, the small families, then the render. It prints
the median ms of `--scrapes` scrapes with none and with half of the checks given a new result
since the previous scrape, the body size, the per-result cost of recording a result for
/metrics, and (tracemalloc) what the kept /metrics lines hold.
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor import config
from monitor.runtime.pipeline import Pipeline
from monitor.web.families import families
from monitor.web.metrics import CheckLines, render
from monitor.web.server import WARM_EVERY
from probes import families as fam
from probes.base import Carried, ProbeResult
from tests.monitor.web.snapshot import snapshot

T = datetime(2022, 2, 15, 14, 0, tzinfo=UTC)
PHASES = ("resolve", "connect", "tls", "processing", "transfer")


def cfg_text(n: int) -> str:
    """N http checks, 10 to a service, like bench/common.outwatch_config."""
    lines = ["vantage: bench-1", "services:"]
    for i in range(0, n, 10):
        lines += [f"  - name: svc{i // 10:06d}", "    group: bank", "    checks:"]
        lines += [
            f'      - {{kind: http, url: "http://127.0.0.1:8080/svc/{i // 10}/check/{i + j}", '
            f"id: c{j}}}"
            for j in range(min(10, n - i))
        ]
    return "\n".join(lines) + "\n"


def result(rng: random.Random) -> ProbeResult:
    """What a real http probe of a loopback nginx returns: its families, fresh timings."""
    phases = {p: rng.random() * 1e-3 for p in PHASES if p != "tls"}
    samples = (
        (fam.HTTP_CONTENT_LENGTH, (), 23.0),
        (fam.HTTP_BODY_LENGTH, (), 23.0),
        (fam.HTTP_REDIRECTS, (), 0.0),
        (fam.HTTP_SSL, (), 0.0),
        (fam.HTTP_STATUS_CODE, (), 200.0),
        (fam.HTTP_VERSION, (), 1.1),
        (fam.FAILED_DUE_TO_REGEX, (), 0.0),
        (fam.IP_PROTOCOL, (), 4.0),
        (fam.DNS_LOOKUP_TIME, (), rng.random() * 1e-4),
        (fam.IP_ADDR_HASH, (), 3668918509.0),
    )
    return ProbeResult(
        ok=True,
        detail="HTTP 200 OK",
        duration=rng.random() * 3e-3,
        phases=phases,
        status_code=200,
        extra={"body_bytes": 23},
        carried=Carried(samples, fam.HTTP_DURATION, PHASES),
    )


class GcTime:
    """CPU seconds spent in garbage collections, by generation (gc.callbacks)."""

    def __init__(self) -> None:
        self.seconds = [0.0, 0.0, 0.0]
        self.counts = [0, 0, 0]
        self._start = 0.0
        gc.callbacks.append(self)

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._start = time.thread_time()
        else:
            self.seconds[info["generation"]] += time.thread_time() - self._start
            self.counts[info["generation"]] += 1

    def take(self) -> str:
        """What was spent since the last take, then start again."""
        text = ", ".join(
            f"gen{g} {n}x {s * 1e3:.0f} ms"
            for g, (n, s) in enumerate(zip(self.counts, self.seconds, strict=True))
        )
        self.seconds, self.counts = [0.0, 0.0, 0.0], [0, 0, 0]
        return text


def timed(fn: Callable[[], object], n: int) -> list[tuple[float, float]]:
    """(wall, CPU) seconds of n calls: on a shared machine CPU time is the steadier one."""
    out = []
    for _ in range(n):
        start, cpu = time.perf_counter(), time.process_time()
        fn()
        out.append((time.perf_counter() - start, time.process_time() - cpu))
    return out


def ms(runs: list[tuple[float, float]]) -> str:
    wall, cpu = (statistics.median(x) * 1e3 for x in zip(*runs, strict=True))
    return f"{wall:.0f} ms wall, {cpu:.0f} ms CPU (median of {len(runs)})"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--checks", type=int, default=10_000)
    ap.add_argument("--scrapes", type=int, default=5)
    args = ap.parse_args()
    rng = random.Random(1)
    cfg = config.parse(cfg_text(args.checks))
    p = Pipeline.from_config(cfg.services)
    keys = [(s.name, c.id) for s in cfg.services for c in s.checks]
    for s, c in keys:
        p.record(s, c, "http", result(rng), T)
    lines = CheckLines()

    def scrape() -> bytes:
        snap = snapshot(cfg, p)
        return render(snap, list(families(snap)), lines)

    body = scrape()
    collections = GcTime()
    unchanged = timed(scrape, args.scrapes)
    gc_unchanged = collections.take()
    per_result = 0.0
    tail = int(len(keys) * WARM_EVERY / 30)  # checks probed every 30 s, as scale.py does

    def changed(warm: bool) -> str:
        """Scrapes after half the checks got a new result; with `warm`, all but the last
        WARM_EVERY seconds' worth of them already written between scrapes (Api.metrics_warm)."""
        nonlocal per_result
        runs, gcs = [], []
        for _ in range(args.scrapes):
            batch = [(s, c, result(rng)) for s, c in rng.sample(keys, len(keys) // 2)]
            start = time.perf_counter()
            for i, (s, c, r) in enumerate(batch):
                if warm and i == len(batch) - tail:
                    lines.update(snapshot(cfg, p))
                p.record(s, c, "http", r, T)
            per_result = (time.perf_counter() - start) / len(batch)
            collections.take()
            runs += timed(scrape, 1)
            gcs.append(collections.take())
        return f"{ms(runs)}; collections in each: {'; '.join(gcs)}"

    print(f"{args.checks} checks, {len(body) / 1e6:.1f} MB per scrape")
    print(f"scrape, 0% changed: {ms(unchanged)}; collections in all: {gc_unchanged}")
    print(f"scrape, 50% changed: {changed(False)}")
    if hasattr(lines, "update"):
        print(f"scrape, 50% changed, written between scrapes but the last {tail}: {changed(True)}")
    print(f"recording a result (pipeline.record): {per_result * 1e6:.1f} us")
    tracemalloc.start()
    fresh = CheckLines()
    snap = snapshot(cfg, p)
    before = tracemalloc.take_snapshot()
    text = render(snap, list(families(snap)), fresh)
    del text
    after = tracemalloc.take_snapshot()
    kept = sum(s.size_diff for s in after.compare_to(before, "filename"))
    print(f"kept /metrics lines of {args.checks} checks: {kept / 1e6:.1f} MB (tracemalloc)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
