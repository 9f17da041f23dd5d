"""Scale: N HTTP checks on one core — CPU, peak RSS, start lateness, skipped runs, /metrics, store.

Run from the repository root: `python bench/scale.py [--checks 10000] [--interval 30] [--intervals 3]`.

nginx (pinned to the other core) serves a few loopback ports on many paths; a real daemon
(`python -m monitor run`, uvloop) pinned to one core probes them. After one interval of warm-up
(first runs are spread over an interval) the window of `--intervals` intervals is measured:
CPU % of one core (utime+stime from /proc), peak RSS (VmHWM), probe start lateness p50/p99 (from
outwatch_probe_start_lateness_seconds, interpolated inside buckets), probes completed vs
scheduled, runs skipped, /metrics scrape time, and store write rate (rows in the results table).
The last line is the headline. 100,000 checks may degrade; the script reports what happened.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (
    Nginx,
    Outwatch,
    cores,
    cpu_seconds,
    free_port,
    histogram_buckets,
    mem_kb,
    metric_sum,
    outwatch_config,
    quantile,
    stop,
)

LATENESS = "outwatch_probe_start_lateness_seconds"


def rows(db: Path) -> int:
    """Rows in the results table (read through WAL from another connection)."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as conn:
        return int(conn.execute("SELECT max(rowid) FROM results").fetchone()[0] or 0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--checks", type=int, default=10_000)
    ap.add_argument("--interval", type=float, default=30.0, help="seconds between runs of a check")
    ap.add_argument("--intervals", type=int, default=3, help="intervals measured after warm-up")
    ap.add_argument("--ports", type=int, default=4, help="loopback target ports")
    args = ap.parse_args()
    prober_cpu, other_cpu = cores()
    os.sched_setaffinity(0, {other_cpu})
    with tempfile.TemporaryDirectory(prefix="outwatch-scale-") as d:
        tmp = Path(d)
        nginx = Nginx(tmp / "nginx", other_cpu)
        nginx.tmp.mkdir()
        nginx.start(n_http=args.ports)
        urls = [
            f"http://127.0.0.1:{nginx.http_ports[i % args.ports]}/svc/{i // 10}/check/{i}"
            for i in range(args.checks)
        ]
        port = free_port()
        cfg = tmp / "config.yaml"
        db = tmp / "outwatch.db"
        timeout = min(10.0, args.interval / 2)
        cfg.write_text(outwatch_config(urls, port, args.interval, timeout, db))
        ow = Outwatch(cfg, port, prober_cpu)
        t_start = time.monotonic()
        try:
            ow.start()
            assert ow.proc is not None
            pid = ow.proc.pid
            print(
                f"{args.checks} checks every {args.interval:g}s on CPU {prober_cpu} "
                f"(nginx on CPU {other_cpu}, {args.ports} ports); listening after "
                f"{time.monotonic() - t_start:.1f}s, RSS {mem_kb(pid, 'VmRSS') / 1024:.0f} MB"
            )
            time.sleep(args.interval + 1.0)
            return measure(ow, pid, db, args)
        finally:
            if ow.proc is not None:
                stop(ow.proc, timeout=60)
            nginx.stop()


def measure(ow: Outwatch, pid: int, db: Path, args: argparse.Namespace) -> int:
    """One window of `intervals` intervals, scraping at its ends and once per interval."""
    text0, scrape0 = ow.metrics()
    c0, r0, t0 = cpu_seconds(pid), rows(db), time.monotonic()
    scrapes = [scrape0]
    for _ in range(args.intervals):
        time.sleep(args.interval)
        _, took = ow.metrics()
        scrapes.append(took)
        if ow.proc is not None and ow.proc.poll() is not None:
            print(f"daemon exited with {ow.proc.returncode}:\n{ow.log()[-2000:]}")
            return 1
    c1, t1 = cpu_seconds(pid), time.monotonic()
    text1, took = ow.metrics()
    scrapes.append(took)
    time.sleep(1.5)  # the store flushes once a second
    r1 = rows(db)
    seconds = t1 - t0
    done = metric_sum(text1, "outwatch_probes_total") - metric_sum(text0, "outwatch_probes_total")
    expected = args.checks * seconds / args.interval
    skipped = metric_sum(text1, "outwatch_probe_runs_skipped_total") - metric_sum(
        text0, "outwatch_probe_runs_skipped_total"
    )
    failed = args.checks - metric_sum(text1, "probe_success")
    b0, b1 = histogram_buckets(text0, LATENESS), histogram_buckets(text1, LATENESS)
    window = {le: b1[le] - b0.get(le, 0.0) for le in b1}
    p50, p99 = quantile(window, 0.5), quantile(window, 0.99)
    cpu_pct = (c1 - c0) / seconds * 100
    rss = mem_kb(pid) / 1024
    scrape_ms = max(scrapes) * 1e3
    print(f"window: {seconds:.1f}s ({args.intervals} intervals)")
    print(f"CPU: {cpu_pct:.1f}% of one core ({(c1 - c0) / max(done, 1) * 1e6:.0f} us per probe)")
    print(f"peak RSS (VmHWM): {rss:.0f} MB")
    print(f"start lateness: p50 {p50 * 1e3:.1f} ms, p99 {p99 * 1e3:.1f} ms")
    print(
        f"probes: {done:.0f} completed vs {expected:.0f} scheduled ({done / expected * 100:.1f}%), "
        f"{skipped:.0f} runs skipped, {failed:.0f} checks failing at the end"
    )
    print(
        f"/metrics: {scrape_ms:.0f} ms worst of {len(scrapes)} scrapes "
        f"(median {sorted(scrapes)[len(scrapes) // 2] * 1e3:.0f} ms), {len(text1) / 1e6:.1f} MB"
    )
    print(f"store: {(r1 - r0) / seconds:.0f} rows/s written")
    print(
        f"scale checks={args.checks} interval={args.interval:g}s cpu={cpu_pct:.1f}% rss={rss:.0f}MB "
        f"lateness_p99={p99 * 1e3:.0f}ms completed={done / expected * 100:.1f}% skipped={skipped:.0f} "
        f"metrics={scrape_ms:.0f}ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
