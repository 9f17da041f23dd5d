"""CPU per probe, outwatch vs blackbox_exporter, on loopback, each prober pinned to the same core.

Run from the repository root: `python bench/vs_blackbox.py [--duration 10] [--rate 200]`.

One nginx (HTTP, and HTTPS with an ECDSA P-256 certificate, no session cache or tickets, so
every probe pays a full handshake) is pinned to one core with this script, which is also the
driver. On the other core, in turn:

- outwatch: a real daemon (`python -m monitor run`, uvloop) with rate x interval checks, so its
  own scheduler fires `rate` probes a second; probes counted from its /metrics
  (outwatch_probes_total). Its scheduling, state machine, store writes and metrics all count;
  the two scrapes that bracket the window are measured and left out.
- blackbox_exporter: driven through /probe?target=...&module=... at the same rate and the same
  concurrency cap by this script (keep-alive to the exporter; the exporter opens a new
  connection per probe, as outwatch does). Probes counted as completed /probe requests.

CPU is utime+stime of the prober process (all threads) from /proc/<pid>/stat over the window.
The last line is the headline: `cpu_per_probe outwatch/blackbox http=<ratio> https=<ratio>`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (
    Nginx,
    Outwatch,
    cores,
    cpu_seconds,
    free_port,
    metric_sum,
    outwatch_config,
    pinned,
    stop,
    wait_port,
)


@dataclass
class Measured:
    """CPU seconds and completed probes over one window."""

    cpu: float
    probes: int
    seconds: float

    @property
    def us_per_probe(self) -> float:
        return self.cpu / self.probes * 1e6 if self.probes else float("nan")


def measure_outwatch(
    tmp: Path,
    urls: list[str],
    interval: float,
    duration: float,
    cpu: int,
    limit: int,
    ca: Path | None,
) -> Measured:
    """Start a daemon firing len(urls)/interval probes a second; measure one window after a warm-up."""
    tmp.mkdir()
    port = free_port()
    cfg = tmp / "config.yaml"
    timeout = min(2.0, interval / 2)
    cfg.write_text(
        outwatch_config(urls, port, interval, timeout, tmp / "ow.db", max_concurrency=limit)
    )
    ow = Outwatch(cfg, port, cpu, ca)
    ow.start()
    assert ow.proc is not None
    try:
        time.sleep(
            interval + 1.0
        )  # every check has started (first runs are spread over one interval)
        c0 = cpu_seconds(ow.proc.pid)
        text0, _ = ow.metrics()
        c1 = cpu_seconds(ow.proc.pid)
        t0 = time.monotonic()
        time.sleep(duration)
        c2 = cpu_seconds(ow.proc.pid)
        text1, _ = ow.metrics()
        c3 = cpu_seconds(ow.proc.pid)
        seconds = time.monotonic() - t0
        probes = metric_sum(text1, "outwatch_probes_total") - metric_sum(
            text0, "outwatch_probes_total"
        )
        failed = metric_sum(text1, "probe_success") < len(urls)
        if failed:
            print(
                f"  warning: outwatch saw failures: {len(urls) - metric_sum(text1, 'probe_success'):.0f} checks failing"
            )
        scrape_cpu = (c1 - c0) + (c3 - c2)
        print(
            f"  outwatch: {len(urls)} checks every {interval:g}s; two scrapes cost {scrape_cpu * 1e3:.0f} ms CPU (excluded)"
        )
        return Measured(c2 - c1, int(probes), seconds)
    finally:
        stop(ow.proc)


def start_blackbox(tmp: Path, cpu: int, ca: Path) -> tuple[subprocess.Popen[bytes], int]:
    """blackbox_exporter with an http and an https module, pinned to `cpu`."""
    binary = shutil.which("prometheus-blackbox-exporter") or shutil.which("blackbox_exporter")
    if binary is None:
        sys.exit(
            "blackbox_exporter is not installed (apt-get install prometheus-blackbox-exporter)"
        )
    port = free_port()
    cfg = tmp / "blackbox.yml"
    cfg.write_text(
        f"""modules:
  http:
    prober: http
    timeout: 5s
    http: {{preferred_ip_protocol: ip4}}
  https:
    prober: http
    timeout: 5s
    http:
      preferred_ip_protocol: ip4
      tls_config: {{ca_file: {ca}}}
"""
    )
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={cfg}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        preexec_fn=pinned(cpu),
        stdout=subprocess.DEVNULL,
        stderr=(tmp / "blackbox.log").open("wb"),
    )
    wait_port(port, proc=proc)
    return proc, port


async def drive(
    port: int, module: str, urls: list[str], rate: float, seconds: float, limit: int
) -> tuple[int, int, int]:
    """Open-loop: one /probe request every 1/rate s, at most `limit` in flight. (done, ok, peak in flight)."""
    sem = asyncio.Semaphore(limit)
    done = ok = peak = inflight = 0
    base = f"http://127.0.0.1:{port}/probe"

    async def one(session: aiohttp.ClientSession, target: str) -> None:
        nonlocal done, ok, peak, inflight
        async with sem:
            inflight += 1
            peak = max(peak, inflight)
            try:
                async with session.get(base, params={"target": target, "module": module}) as r:
                    body = await r.text()
                done += 1
                ok += "\nprobe_success 1" in body
            finally:
                inflight -= 1

    loop = asyncio.get_running_loop()
    tasks: set[asyncio.Task[None]] = set()
    conn = aiohttp.TCPConnector(limit=limit)
    async with aiohttp.ClientSession(connector=conn) as session:
        start = loop.time()
        n = 0
        while (at := start + n / rate) < start + seconds:
            await asyncio.sleep(max(0.0, at - loop.time()))
            t = asyncio.create_task(one(session, urls[n % len(urls)]))
            tasks.add(t)
            t.add_done_callback(tasks.discard)
            n += 1
        await asyncio.gather(*tasks, return_exceptions=True)
    return done, ok, peak


def measure_blackbox(
    pid: int, port: int, module: str, urls: list[str], rate: float, duration: float, limit: int
) -> Measured:
    """Warm up for a second, then drive one window and count what completed."""
    asyncio.run(drive(port, module, urls, rate, 1.0, limit))
    c0 = cpu_seconds(pid)
    t0 = time.monotonic()
    done, ok, peak = asyncio.run(drive(port, module, urls, rate, duration, limit))
    c1 = cpu_seconds(pid)
    print(
        f"  blackbox: {done} /probe requests completed, {ok} with probe_success 1, peak {peak} in flight"
    )
    return Measured(c1 - c0, done, time.monotonic() - t0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--duration", type=float, default=10.0, help="seconds measured per prober and scheme"
    )
    ap.add_argument("--rate", type=float, default=200.0, help="probes per second for both probers")
    ap.add_argument(
        "--interval",
        type=float,
        default=3.0,
        help="outwatch check interval (checks = rate x interval)",
    )
    ap.add_argument("--concurrency", type=int, default=50, help="in-flight cap for both probers")
    args = ap.parse_args()
    prober_cpu, other_cpu = cores()
    if prober_cpu == other_cpu:
        print("warning: only one CPU available; prober and target share it")
    os.sched_setaffinity(0, {other_cpu})  # the driver lives with the target, away from the prober
    n = max(1, round(args.rate * args.interval))
    print(
        f"rate {args.rate:g}/s, {args.duration:g}s per window, concurrency cap {args.concurrency}, prober on CPU {prober_cpu}, nginx and driver on CPU {other_cpu}"
    )
    results: dict[str, tuple[Measured, Measured]] = {}
    with tempfile.TemporaryDirectory(prefix="outwatch-bench-") as d:
        tmp = Path(d)
        nginx = Nginx(tmp / "nginx", other_cpu)
        nginx.tmp.mkdir()
        nginx.start(n_http=1, https=True)
        assert nginx.tls is not None
        bb, bb_port = start_blackbox(tmp, prober_cpu, nginx.tls.ca_pem)
        try:
            for scheme, port in (("http", nginx.http_ports[0]), ("https", nginx.https_port)):
                urls = [f"{scheme}://127.0.0.1:{port}/p{i}" for i in range(n)]
                print(f"{scheme}:")
                ca = nginx.tls.ca_pem if scheme == "https" else None
                ow = measure_outwatch(
                    tmp / f"ow-{scheme}",
                    urls,
                    args.interval,
                    args.duration,
                    prober_cpu,
                    args.concurrency,
                    ca,
                )
                bx = measure_blackbox(
                    bb.pid, bb_port, scheme, urls, args.rate, args.duration, args.concurrency
                )
                results[scheme] = (ow, bx)
                for name, m in (("outwatch", ow), ("blackbox", bx)):
                    print(
                        f"  {name:9s} {m.probes:6d} probes in {m.seconds:5.1f}s ({m.probes / m.seconds:6.1f}/s), "
                        f"{m.cpu:6.2f} CPU s, {m.us_per_probe:7.0f} us per probe"
                    )
        finally:
            stop(bb)
            nginx.stop()
    ratios = {s: ow.us_per_probe / bx.us_per_probe for s, (ow, bx) in results.items()}
    print(f"cpu_per_probe outwatch/blackbox http={ratios['http']:.2f} https={ratios['https']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
