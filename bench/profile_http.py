"""Where one HTTP probe's CPU goes: py-spy samples an outwatch daemon set up as vs_blackbox.py does.

Run from the repository root: `python bench/profile_http.py [--duration 15] [--rate 200]`.

nginx and this driver share one core; the daemon (rate x interval http checks, uvloop) has the
other. py-spy records the daemon (all threads, non-blocking) for one window; every sample is
put in the room of the innermost outwatch or APScheduler frame on its stack (so ssl, sqlite,
asyncio internals count for the code that called them); samples with none are the event loop's.
CPU per probe is from /proc over the same window, split in the sampled proportions.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (
    Nginx,
    Outwatch,
    cores,
    cpu_seconds,
    free_port,
    metric_sum,
    outwatch_config,
    stop,
)

# (room, path fragment of a frame's file); first match from the leaf up wins
ROOMS = (
    ("scheduling (APScheduler)", "apscheduler/"),
    ("scheduling (runtime/scheduler.py)", "monitor/runtime/scheduler.py"),
    ("probe: h1 (HTTP/1.1 exchange)", "probes/h1.py"),
    ("probe: net (resolve, connect)", "probes/net.py"),
    ("probe: tls", "probes/tls"),
    ("probe: http.py", "probes/http.py"),
    ("gauges (probes/base.py, families.py)", "probes/"),
    ("runner (runtime/runner.py)", "monitor/runtime/runner.py"),
    ("result handling (runtime/pipeline.py)", "monitor/runtime/pipeline.py"),
    ("state machine (core/state.py)", "monitor/core/state.py"),
    ("decisions (core engine, correlate)", "monitor/core/"),
    ("store (writer thread, sqlite)", "monitor/store/"),
    ("metrics and web", "monitor/web/"),
    ("daemon (flush, alerts, loops)", "monitor/runtime/"),
    ("other outwatch", "monitor/"),
)


def room(stack: str) -> str:
    """The room of one collapsed stack (frames outermost first, `;`-separated)."""
    frames = stack.split(";")
    # frames up to the loop's run (the daemon's main) are not what runs: callbacks come after
    cut = max((i for i, f in enumerate(frames) if "asyncio/runners.py" in f), default=-1)
    for frame in reversed(frames[cut + 1 :]):
        for name, frag in ROOMS:
            if frag in frame:
                return name
    return "event loop and I/O (uvloop, asyncio, no outwatch frame)"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--duration", type=float, default=15.0)
    ap.add_argument("--rate", type=float, default=200.0)
    ap.add_argument("--interval", type=float, default=3.0)
    ap.add_argument("--https", action="store_true", help="probe the HTTPS port instead")
    ap.add_argument("--keep", type=Path, help="also write py-spy's raw stacks here")
    ap.add_argument(
        "--gil",
        action="store_true",
        help="sample only while the GIL is held (py-spy --gil): without it, idle waits in epoll "
        "are counted as the loop's, which inflates that room on a busy host",
    )
    args = ap.parse_args()
    spy = shutil.which("py-spy")
    if spy is None:
        sys.exit("py-spy is not installed (pip install py-spy)")
    prober_cpu, other_cpu = cores()
    os.sched_setaffinity(0, {other_cpu})
    n = max(1, round(args.rate * args.interval))
    with tempfile.TemporaryDirectory(prefix="outwatch-profile-") as d:
        tmp = Path(d)
        nginx = Nginx(tmp / "nginx", other_cpu)
        nginx.tmp.mkdir()
        nginx.start(n_http=1, https=args.https)
        try:
            scheme = "https" if args.https else "http"
            port = nginx.https_port if args.https else nginx.http_ports[0]
            urls = [f"{scheme}://127.0.0.1:{port}/p{i}" for i in range(n)]
            ow_dir = tmp / "ow"
            ow_dir.mkdir()
            web = free_port()
            cfg = ow_dir / "config.yaml"
            timeout = min(2.0, args.interval / 2)
            cfg.write_text(
                outwatch_config(
                    urls, web, args.interval, timeout, ow_dir / "ow.db", max_concurrency=50
                )
            )
            ca = nginx.tls.ca_pem if args.https and nginx.tls else None
            ow = Outwatch(cfg, web, prober_cpu, ca)
            ow.start()
            assert ow.proc is not None
            try:
                time.sleep(args.interval + 1.0)
                text0, _ = ow.metrics()
                raw = tmp / "stacks.txt"
                c0 = cpu_seconds(ow.proc.pid)
                subprocess.run(
                    [spy, "record", "-p", str(ow.proc.pid), "-d", str(int(args.duration)), "-r", "1000",
                     "--nonblocking", "-f", "raw", "-o", str(raw), *(["--gil"] if args.gil else [])],
                    check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                )  # fmt: skip
                c1 = cpu_seconds(ow.proc.pid)
                text1, _ = ow.metrics()
            finally:
                stop(ow.proc)
            probes = metric_sum(text1, "outwatch_probes_total") - metric_sum(
                text0, "outwatch_probes_total"
            )
            if args.keep:
                shutil.copy(raw, args.keep)
            counts: Counter[str] = Counter()
            for line in raw.read_text().splitlines():
                stack, _, count = line.rpartition(" ")
                if stack:
                    counts[room(stack)] += int(count)
        finally:
            nginx.stop()
    total = sum(counts.values())
    us = (c1 - c0) / probes * 1e6 if probes else float("nan")
    print(
        f"{scheme}: {probes:.0f} probes, {c1 - c0:.2f} CPU s, {us:.0f} us per probe, {total} samples"
    )
    for name, c in counts.most_common():
        print(f"  {name:58s} {c / total * 100:5.1f}%  {us * c / total:6.0f} us")
    return 0


if __name__ == "__main__":
    sys.exit(main())
