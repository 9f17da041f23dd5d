"""Where a 10,000-check daemon's memory goes: tracemalloc over a real daemon run in process.

Run from the repository root: `python bench/metrics_memory.py [--checks 10000] [--seconds 45]`.

Like bench/scale.py (nginx on loopback ports, N http checks every 30 s) but the daemon runs in
this process with tracemalloc on, so what it holds after one interval and a /metrics scrape is
counted by the file that allocated it, and by owner (the package directory). tracemalloc sees
Python's allocations only (not sqlite's page cache, OpenSSL, or the allocator's free lists);
the gap to VmRSS is printed too. tracemalloc slows the daemon down: the figures are sizes,
not speeds.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import tracemalloc
import urllib.request
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import Nginx, cores, free_port, mem_kb, outwatch_config
from bench.metrics_render import GcTime

ROOT = Path(__file__).resolve().parents[1]


def owner(filename: str) -> str:
    """The package directory (ours) or the library (theirs) a file belongs to."""
    path = Path(filename)
    try:
        rel = path.relative_to(ROOT)
        return "/".join(rel.parts[:2]) if len(rel.parts) > 2 else str(rel)
    except ValueError:
        pass
    parts = path.parts
    if "site-packages" in parts:
        return parts[parts.index("site-packages") + 1]
    return "stdlib:" + path.name if path.suffix == ".py" else path.name


async def run(cfg: Path, port: int, seconds: float) -> tuple[int, tracemalloc.Snapshot]:
    from monitor import config as config_mod
    from monitor.runtime.daemon import Daemon

    daemon = Daemon(config_mod.load(str(cfg)), str(cfg))
    await daemon.start()
    try:
        await asyncio.sleep(seconds)
        url = f"http://127.0.0.1:{port}/metrics"
        body = await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=120).read())
        await asyncio.sleep(1.0)
        traced = tracemalloc.is_tracing()
        return len(body), tracemalloc.take_snapshot() if traced else tracemalloc.Snapshot([], 1)
    finally:
        await daemon.stop(grace=1)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--checks", type=int, default=10_000)
    ap.add_argument("--seconds", type=float, default=45.0, help="run this long, then scrape")
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument(
        "--gc", action="store_true", help="no tracemalloc: time the garbage collections instead"
    )
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="outwatch-memory-") as d:
        tmp = Path(d)
        nginx = Nginx(tmp / "nginx", cores()[1])
        nginx.tmp.mkdir()
        nginx.start(n_http=4)
        try:
            urls = [
                f"http://127.0.0.1:{nginx.http_ports[i % 4]}/svc/{i // 10}/check/{i}"
                for i in range(args.checks)
            ]
            port = free_port()
            cfg = tmp / "config.yaml"
            cfg.write_text(outwatch_config(urls, port, 30.0, 10.0, tmp / "outwatch.db"))
            collections = GcTime()
            if not args.gc:
                tracemalloc.start()
            start = time.monotonic()
            size, snap = asyncio.run(run(cfg, port, args.seconds))
            rss, hwm = mem_kb(os.getpid(), "VmRSS") / 1024, mem_kb(os.getpid()) / 1024
        finally:
            nginx.stop()
    print(f"garbage collections over the run: {collections.take()}")
    if args.gc:
        return 0
    stats = snap.statistics("filename")
    total = sum(s.size for s in stats)
    by_owner: Counter[str] = Counter()
    for s in stats:
        by_owner[owner(s.traceback[0].filename)] += s.size
    print(f"{args.checks} checks, {time.monotonic() - start:.0f}s, /metrics {size / 1e6:.1f} MB")
    print(f"VmRSS {rss:.0f} MB, VmHWM {hwm:.0f} MB, traced now {total / 2**20:.0f} MB")
    print("by owner (MB):")
    for name, n in by_owner.most_common(args.top):
        print(f"  {n / 2**20:7.1f}  {name}")
    print("by line (MB):")
    for s in snap.statistics("lineno")[: args.top]:
        frame = s.traceback[0]
        print(f"  {s.size / 2**20:7.1f}  {s.count:8d}  {owner(frame.filename)}:{frame.lineno}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
