"""Fleet: N checks from 3 vantages into one PostgreSQL, side by side with the SQLite single instance.

Run from the repository root: `python bench/fleet.py [--checks 10000] [--interval 30] [--intervals 2]`.

A throwaway PostgreSQL cluster (initdb + pg_ctl on loopback, as the tests do) and nginx serve the
run. First one instance on SQLite alone probes the N checks: its CPU and start lateness p99 are the
baseline. Then three instances (vantages v1..v3, pinned round the cores), each probing all N
checks, share the database. One table, the single instance first: per instance CPU % of its core,
CPU µs a probe, the % of the window its event loop waited for its core (other work on it), peak RSS,
start lateness p99, probes completed vs scheduled, runs skipped and the worst /metrics
scrape, rows a second written to its own SQLite (probe results); then the database's CPU (every postgres process of the cluster, unpinned) and rows written
per second (pg_stat_user_tables), the fleet status latency (from the probe that makes
the quorum to the fleet status change, on a service the bench fails on purpose), and the decider
failover time after SIGKILL. On a small shared machine three instances compete for the same
cores; compare per-probe CPU rather than lateness there, and say so when quoting.
"""

from __future__ import annotations

import argparse
import http.server
import os
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg

from bench.common import (
    Figures,
    Nginx,
    Outwatch,
    cores,
    cpu_seconds,
    figures,
    free_port,
    load_average,
    metric_sum,
    outwatch_config,
    sample,
    sqlite_rows,
    stop,
)
from tests.postgres import PostgresServer

VANTAGES = ("v1", "v2", "v3")


class Toggle(http.server.BaseHTTPRequestHandler):
    """The service the bench fails on purpose: 200, or 503 while `failing`."""

    failing = False

    def do_GET(self) -> None:
        self.send_response(503 if Toggle.failing else 200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def toggle_server() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Toggle)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()


def config(
    urls: list[str],
    port: int,
    args: argparse.Namespace,
    db: Path,
    vantage: str,
    dsn: str | None,
    toggle: int,
) -> str:
    text = outwatch_config(
        urls, port, args.interval, min(10.0, args.interval / 2), db, vantage=vantage
    )
    if dsn is None:
        return text
    text = text.replace(
        f"storage: {{path: {db}}}", f'storage: {{path: {db}, url: "{dsn}"}}\nfleet: {{quorum: 2}}'
    )
    return text + (
        "  - name: probe-latency\n    group: bench\n    checks:\n"
        f'      - {{kind: http, url: "http://127.0.0.1:{toggle}/", id: web, interval: 1s, timeout: 500ms,'
        " failures_before_down: 1, successes_before_up: 1}\n"
    )


def postgres_cpu(server: PostgresServer) -> float:
    """CPU seconds of every process of the cluster (the postmaster and its children)."""
    master = int((server.data / "postmaster.pid").read_text().split()[0])
    total = cpu_seconds(master)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == master:
                total += cpu_seconds(int(stat.parent.name))
        except (OSError, ValueError):
            continue
    return total


def rows_written(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0) FROM pg_stat_user_tables"
        ).fetchone()
    return int(row[0]) if row else 0


def window(
    instances: list[Outwatch], dbs: list[Path], args: argparse.Namespace
) -> tuple[list[Figures], list[float]]:
    """What each instance did over one window, scraped at its ends and once per interval, and
    the rows a second it wrote to its own SQLite (probe results stay there in a fleet too)."""
    firsts = [sample(i) for i in instances]
    r0 = [sqlite_rows(db) for db in dbs]
    scrapes = [[f.scrape] for f in firsts]
    for _ in range(args.intervals):
        time.sleep(args.interval)
        for ow, took in zip(instances, scrapes, strict=True):
            took.append(ow.metrics()[1])
    lasts = [sample(i, end=True) for i in instances]
    time.sleep(1.5)  # the store flushes once a second
    figs = [
        figures(f, last, [*took, last.scrape], args.interval, ow.proc.pid)
        for ow, f, last, took in zip(instances, firsts, lasts, scrapes, strict=True)
        if ow.proc is not None
    ]
    rates = [(sqlite_rows(db) - r) / f.seconds for db, r, f in zip(dbs, r0, figs, strict=True)]
    return figs, rates


ROW = "{:<16} {:>4} {:>11} {:>9} {:>9} {:>8} {:>8} {:>10} {:>8} {:>11} {:>14}"
HEAD = ROW.format(
    "", "core", "CPU % core", "us/probe", "waited %", "RSS MB", "p99 ms", "completed", "skipped",
    "/metrics ms", "SQLite rows/s",
)  # fmt: skip


def row(name: str, cpu: int, f: Figures, rate: float) -> str:
    """One instance's figures as a table row."""
    return ROW.format(
        name,
        cpu,
        f"{f.cpu_pct:.1f}",
        f"{f.cpu / max(f.done, 1) * 1e6:.0f}",
        f"{f.wait_pct:.1f}",
        f"{f.rss_mb:.0f}",
        f"{f.p99 * 1e3:.0f}",
        f"{f.done / max(f.expected, 1) * 100:.1f}%",
        f"{f.skipped:.0f}",
        f"{f.scrape_ms:.0f}",
        f"{rate:.0f}",
    )


def single(tmp: Path, urls: list[str], args: argparse.Namespace, cpu: int) -> tuple[Figures, float]:
    port = free_port()
    cfg = tmp / "single" / "config.yaml"
    cfg.parent.mkdir()
    cfg.write_text(config(urls, port, args, cfg.parent / "ow.db", "single", None, 0))
    ow = Outwatch(cfg, port, cpu)
    try:
        ow.start()
        time.sleep(args.interval + 1.0)
        figs, rates = window([ow], [cfg.parent / "ow.db"], args)
        return figs[0], rates[0]
    finally:
        if ow.proc is not None:
            stop(ow.proc, timeout=60)


def decider(instances: dict[str, Outwatch]) -> list[str]:
    out = []
    for name, ow in instances.items():
        if ow.proc is None or ow.proc.poll() is not None:
            continue
        if metric_sum(ow.metrics()[0], "outwatch_fleet_decider") == 1.0:
            out.append(name)
    return out


def fleet_latency(dsn: str) -> float:
    """Fail the toggle service everywhere; seconds from the quorum-making probe to fleet down."""
    Toggle.failing = True
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with psycopg.connect(dsn) as conn:
                row = conn.execute(
                    "SELECT status, changed_at FROM fleet_status WHERE service = 'probe-latency'"
                ).fetchone()
                if row and row[0] == "down":
                    ats = [
                        r[0]
                        for r in conn.execute(
                            "SELECT max(at) FROM check_transitions WHERE service = 'probe-latency'"
                            " AND new = 'down' GROUP BY vantage ORDER BY 1"
                        ).fetchall()
                    ]
                    return float(
                        (row[1] - ats[1]).total_seconds()
                    )  # the second vantage made quorum
            time.sleep(0.2)
        raise RuntimeError("the fleet never saw probe-latency down")
    finally:
        Toggle.failing = False


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--checks", type=int, default=10_000)
    ap.add_argument("--interval", type=float, default=30.0)
    ap.add_argument("--intervals", type=int, default=2)
    ap.add_argument("--ports", type=int, default=4)
    args = ap.parse_args()
    prober_cpu, other_cpu = cores()
    os.sched_setaffinity(0, {other_cpu})
    pg = PostgresServer()
    pg.start()
    with tempfile.TemporaryDirectory(prefix="outwatch-fleet-") as d, toggle_server() as toggle:
        tmp = Path(d)
        nginx = Nginx(tmp / "nginx", other_cpu)
        nginx.tmp.mkdir()
        nginx.start(n_http=args.ports)
        urls = [
            f"http://127.0.0.1:{nginx.http_ports[i % args.ports]}/svc/{i // 10}/check/{i}"
            for i in range(args.checks)
        ]
        instances: dict[str, Outwatch] = {}
        try:
            print(f"load average (1, 5, 15 min) {load_average()} at the start")
            base, base_rate = single(tmp, urls, args, prober_cpu)
            print(f"{args.checks} checks every {args.interval:g}s from each instance")
            print(HEAD)
            print(row("single (SQLite)", prober_cpu, base, base_rate))
            with psycopg.connect(pg.dsn(), autocommit=True) as conn:
                conn.execute("CREATE DATABASE fleet")
            dsn = pg.dsn("fleet")
            all_cpus = sorted(os.sched_getaffinity(0) | {prober_cpu, other_cpu})
            for n, v in enumerate(VANTAGES):
                port = free_port()
                cfg = tmp / v / "config.yaml"
                cfg.parent.mkdir()
                cfg.write_text(config(urls, port, args, cfg.parent / "ow.db", v, dsn, toggle))
                instances[v] = Outwatch(cfg, port, all_cpus[n % len(all_cpus)])
                instances[v].launch()
            for ow in instances.values():
                ow.wait()
            time.sleep(args.interval + 1.0)
            pg0, r0, t0 = postgres_cpu(pg), rows_written(dsn), time.monotonic()
            dbs = [tmp / v / "ow.db" for v in instances]
            per, rates = window(list(instances.values()), dbs, args)
            seconds = time.monotonic() - t0
            pg_cpu = (postgres_cpu(pg) - pg0) / seconds * 100
            rows = (rows_written(dsn) - r0) / seconds
            deciding = decider(instances)
            for (v, ow), f, rate in zip(instances.items(), per, rates, strict=True):
                print(row(f"fleet {v} (PG){'*' if v in deciding else ''}", ow.cpu, f, rate))
            print(
                f"PostgreSQL (unpinned): CPU {pg_cpu:.1f}% of a core, {rows:.0f} rows/s written; "
                f"nginx on CPU {other_cpu}; load average {load_average()}; * the decider"
            )
            latency = fleet_latency(dsn)
            print(f"fleet status latency: {latency:.2f} s from the quorum-making probe")
            (first,) = decider(instances)
            killed = time.monotonic()
            proc = instances[first].proc
            assert proc is not None
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            while not decider(instances):
                if time.monotonic() - killed > 30:
                    raise RuntimeError("no decider 30 s after SIGKILL")
                time.sleep(0.2)
            failover = time.monotonic() - killed
            print(f"decider failover after SIGKILL: {failover:.1f} s")
            print(
                f"fleet checks={args.checks} interval={args.interval:g}s single_cpu={base.cpu_pct:.1f}% "
                f"single_rss={base.rss_mb:.0f}MB single_p99={base.p99 * 1e3:.0f}ms "
                f"fleet_cpu={max(f.cpu_pct for f in per):.1f}% "
                f"fleet_rss={max(f.rss_mb for f in per):.0f}MB "
                f"fleet_p99={max(f.p99 for f in per) * 1e3:.0f}ms "
                f"skipped={sum(f.skipped for f in per):.0f} pg_cpu={pg_cpu:.1f}% rows_s={rows:.0f} "
                f"latency={latency:.2f}s failover={failover:.1f}s"
            )
            return 0
        finally:
            for ow in instances.values():
                if ow.proc is not None and ow.proc.poll() is None:
                    stop(ow.proc, timeout=60)
            nginx.stop()
            pg.close()


if __name__ == "__main__":
    sys.exit(main())
