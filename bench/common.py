"""Shared bench helpers: loopback nginx targets, outwatch daemons, /proc CPU and memory, CPU pinning."""

from __future__ import annotations

import gzip
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TICK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cores() -> tuple[int, int]:
    """(prober core, other core): probers get the last core, target and driver share the first."""
    cpus = sorted(os.sched_getaffinity(0))
    return cpus[-1], cpus[0]


def pinned(cpu: int) -> Callable[[], None]:
    """A preexec_fn pinning the child before exec, so every thread it starts inherits the pin."""

    def pin() -> None:
        os.sched_setaffinity(0, {cpu})

    return pin


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # after the command name: state is field 3, utime 14, stime 15 (1-based) -> offsets 11 and 12
    return (int(fields[11]) + int(fields[12])) / TICK


def run_wait(pid: int) -> float:
    """Seconds the main thread (the event loop) was runnable but its core busy (/proc schedstat):
    with other processes, or the daemon's own threads."""
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[1]) / 1e9


def load_average() -> str:
    """The 1, 5 and 15 minute load averages, as uptime prints them."""
    return ", ".join(Path("/proc/loadavg").read_text().split()[:3])


def sqlite_rows(db: Path) -> int:
    """Rows in a store's results table (read through WAL from another connection)."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as conn:
        return int(conn.execute("SELECT max(rowid) FROM results").fetchone()[0] or 0)


def mem_kb(pid: int, key: str = "VmHWM") -> int:
    """A line of /proc/<pid>/status in kB (VmHWM: peak RSS, VmRSS: current)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def wait_port(
    port: int, timeout: float = 15.0, proc: subprocess.Popen[bytes] | None = None
) -> None:
    """Until something accepts on 127.0.0.1:port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listening on 127.0.0.1:{port} after {timeout:g}s")


def http_get(url: str, timeout: float = 30.0) -> tuple[str, float]:
    """GET a URL as Prometheus scrapes (accepting gzip): (body, seconds it took)."""
    start = time.perf_counter()
    request = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"})
    with urllib.request.urlopen(request, timeout=timeout) as resp:
        raw = resp.read()
        if resp.headers.get("Content-Encoding") == "gzip":
            raw = gzip.decompress(raw)
    return raw.decode(), time.perf_counter() - start


def stop(proc: subprocess.Popen[bytes], timeout: float = 15.0) -> int | None:
    """SIGTERM, then SIGKILL if it lingers."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    return proc.returncode


@dataclass
class Tls:
    """An ECDSA P-256 test CA and a server certificate for 127.0.0.1, written to files."""

    ca_pem: Path
    cert_pem: Path
    key_pem: Path


def make_tls(tmp: Path) -> Tls:
    """trustme's default key type is ECDSA P-256, like the bar in the issue."""
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    tls = Tls(tmp / "ca.pem", tmp / "cert.pem", tmp / "key.pem")
    ca.cert_pem.write_to_path(str(tls.ca_pem))
    cert.private_key_pem.write_to_path(str(tls.key_pem))
    with tls.cert_pem.open("wb") as f:
        for blob in cert.cert_chain_pems:
            f.write(blob.bytes())
    return tls


@dataclass
class Nginx:
    """nginx (one process, no master) answering 200 on every path; HTTP ports and one HTTPS port."""

    tmp: Path
    cpu: int
    http_ports: list[int] = field(default_factory=list)
    https_port: int | None = None
    tls: Tls | None = None
    proc: subprocess.Popen[bytes] | None = None

    def start(self, n_http: int = 1, https: bool = False) -> None:
        """Write a config and start nginx pinned to `cpu`."""
        binary = shutil.which("nginx") or "/usr/sbin/nginx"
        if not Path(binary).exists():
            sys.exit("nginx is not installed (apt-get install nginx-light)")
        self.http_ports = [free_port() for _ in range(n_http)]
        listens = [f"listen 127.0.0.1:{p} backlog=4096;" for p in self.http_ports]
        if https:
            self.tls = make_tls(self.tmp)
            self.https_port = free_port()
            listens.append(f"listen 127.0.0.1:{self.https_port} ssl backlog=4096;")
            listens += [
                f"ssl_certificate {self.tls.cert_pem};",
                f"ssl_certificate_key {self.tls.key_pem};",
                # every probe must pay a full handshake, on both sides of the comparison
                "ssl_session_cache off;",
                "ssl_session_tickets off;",
            ]
        for d in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (self.tmp / d).mkdir(exist_ok=True)
        conf = self.tmp / "nginx.conf"
        conf.write_text(
            f"""daemon off;
master_process off;
worker_processes 1;
pid {self.tmp}/nginx.pid;
error_log {self.tmp}/nginx-error.log warn;
worker_rlimit_nofile 65536;
events {{ worker_connections 16384; }}
http {{
    access_log off;
    client_body_temp_path {self.tmp}/body;
    proxy_temp_path {self.tmp}/proxy;
    fastcgi_temp_path {self.tmp}/fastcgi;
    uwsgi_temp_path {self.tmp}/uwsgi;
    scgi_temp_path {self.tmp}/scgi;
    keepalive_timeout 5s;
    server {{
        {chr(10).join("        " + line for line in listens).strip()}
        location / {{ default_type text/html; return 200 "<html><title>bank</title>ok</html>\\n"; }}
    }}
}}
"""
        )
        self.proc = subprocess.Popen(
            [binary, "-p", str(self.tmp), "-e", str(self.tmp / "nginx-error.log"), "-c", str(conf)],
            preexec_fn=pinned(self.cpu),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for port in [*self.http_ports, *([self.https_port] if self.https_port else [])]:
            wait_port(port, proc=self.proc)

    def stop(self) -> None:
        """Stop nginx."""
        if self.proc is not None:
            self.proc.send_signal(signal.SIGQUIT)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def outwatch_config(
    urls: Sequence[str],
    port: int,
    interval: float,
    timeout: float,
    db: Path,
    per_service: int = 10,
    vantage: str = "bench-1",
    max_concurrency: int = 500,
    shard: tuple[int, int] | None = None,
) -> str:
    """A config with one http check per URL, `per_service` checks to a service; `shard` is
    (index, total)."""
    lines = [
        f"vantage: {vantage}",
        f"storage: {{path: {db}}}",
        f'web: {{listen: "127.0.0.1:{port}"}}',
        f"defaults: {{interval: {interval:g}s, timeout: {timeout:g}s}}",
        f"scheduler: {{max_concurrency: {max_concurrency}}}",
        *([f"shard: {{index: {shard[0]}, total: {shard[1]}}}"] if shard else []),
        "services:",
    ]
    # trust comes from SSL_CERT_FILE (see Outwatch.ca): a `ca_file` key would be read by the
    # config loader's `*_file` secret substitution instead of reaching the check
    for i in range(0, len(urls), per_service):
        lines.append(f"  - name: svc{i // per_service:06d}")
        lines.append("    group: bank")
        lines.append("    checks:")
        for j, url in enumerate(urls[i : i + per_service]):
            lines.append(f'      - {{kind: http, url: "{url}", id: c{j}}}')
    return "\n".join(lines) + "\n"


@dataclass
class Outwatch:
    """`python -m monitor run` in a subprocess, pinned to one core, on uvloop like production."""

    config: Path
    port: int
    cpu: int
    ca: Path | None = None  # a test CA the default SSL context should trust
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start and wait until it listens."""
        self.launch()
        self.wait()

    def launch(self) -> None:
        """Start without waiting (several daemons then start side by side)."""
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        if self.ca is not None:
            env["SSL_CERT_FILE"] = str(self.ca)
        log = (self.config.parent / "outwatch.log").open("ab")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "monitor",
                "run",
                "-c",
                str(self.config),
                "--log-level",
                "warning",
            ],
            cwd=self.config.parent,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=pinned(self.cpu),
        )

    def wait(self) -> None:
        """Until the web server listens (after the config is loaded and the checks scheduled)."""
        assert self.proc is not None
        try:
            wait_port(self.port, timeout=180, proc=self.proc)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}\n{self.log()}") from None

    def metrics(self) -> tuple[str, float]:
        """(exposition text, seconds the scrape took)."""
        return http_get(f"http://127.0.0.1:{self.port}/metrics", timeout=120)

    def log(self) -> str:
        """What the daemon wrote."""
        return (self.config.parent / "outwatch.log").read_text(errors="replace")


def metric_sum(text: str, name: str, **match: str) -> float:
    """Sum of every sample of `name` (exact name) whose labels include `match`."""
    total = 0.0
    want = [f'{k}="{v}"' for k, v in match.items()]
    for line in text.splitlines():
        if not line.startswith(name):
            continue
        head, _, value = line.rpartition(" ")
        rest = head[len(name) :]
        if rest and rest[0] != "{":
            continue
        if all(w in rest for w in want):
            total += float(value)
    return total


def histogram_buckets(text: str, name: str) -> dict[float, float]:
    """Cumulative bucket counts of an unlabelled-but-vantage histogram, summed over label sets."""
    out: dict[float, float] = {}
    for line in text.splitlines():
        if not line.startswith(name + "_bucket{"):
            continue
        head, _, value = line.rpartition(" ")
        le = head.split('le="', 1)[1].split('"', 1)[0]
        key = float("inf") if le == "+Inf" else float(le)
        out[key] = out.get(key, 0.0) + float(value)
    return out


def quantile(buckets: dict[float, float], q: float) -> float:
    """A quantile from cumulative buckets, interpolated linearly inside a bucket (like histogram_quantile)."""
    items = sorted(buckets.items())
    if not items or items[-1][1] <= 0:
        return float("nan")
    rank = q * items[-1][1]
    prev_le, prev_c = 0.0, 0.0
    for le, c in items:
        if c >= rank:
            if le == float("inf"):
                return prev_le
            span = c - prev_c
            return prev_le + (le - prev_le) * ((rank - prev_c) / span if span else 0.0)
        prev_le, prev_c = le, c
    return prev_le


LATENESS = "outwatch_probe_start_lateness_seconds"
SKIPPED = "outwatch_probe_runs_skipped_total"


@dataclass
class Sample:
    """One look at a daemon: its /metrics text, the scrape's seconds, its CPU seconds, when."""

    text: str
    scrape: float
    cpu: float
    wait: float  # seconds the event loop was runnable but its core busy
    at: float


def sample(ow: Outwatch, end: bool = False) -> Sample:
    """Scrape and read CPU; a window's own end scrapes are kept out of it (scrape first at the
    start, last at the end), the scrapes inside it are in, as Prometheus's would be."""
    assert ow.proc is not None
    pid = ow.proc.pid
    if end:
        cpu, wait, at = cpu_seconds(pid), run_wait(pid), time.monotonic()
        text, took = ow.metrics()
    else:
        text, took = ow.metrics()
        cpu, wait, at = cpu_seconds(pid), run_wait(pid), time.monotonic()
    return Sample(text, took, cpu, wait, at)


@dataclass
class Figures:
    """What one daemon did over a window."""

    checks: int  # checks with a result (probe_success series) at the end
    seconds: float
    cpu: float  # CPU seconds
    wait: float  # seconds the event loop was runnable but its core busy
    rss_mb: float  # peak RSS
    done: float  # probes completed
    expected: float  # probes the schedule asked for
    skipped: float  # runs the scheduler skipped
    failing: float  # checks whose last probe failed
    lateness: dict[float, float]  # cumulative start lateness buckets of the window
    scrapes: list[float]  # seconds of every /metrics scrape
    metrics_mb: float

    @property
    def cpu_pct(self) -> float:
        """CPU % of one core."""
        return self.cpu / self.seconds * 100

    @property
    def wait_pct(self) -> float:
        """% of the window the event loop waited for its core."""
        return self.wait / self.seconds * 100

    @property
    def p99(self) -> float:
        """Start lateness p99, seconds."""
        return quantile(self.lateness, 0.99)

    @property
    def scrape_ms(self) -> float:
        """The worst /metrics scrape, ms."""
        return max(self.scrapes) * 1e3


def figures(
    first: Sample, last: Sample, scrapes: list[float], interval: float, pid: int
) -> Figures:
    """The window between two samples of one daemon (`scrapes`: every scrape, ends included)."""
    seconds = last.at - first.at
    checks = sum(1 for line in last.text.splitlines() if line.startswith("probe_success{"))
    b0, b1 = histogram_buckets(first.text, LATENESS), histogram_buckets(last.text, LATENESS)
    return Figures(
        checks=checks,
        seconds=seconds,
        cpu=last.cpu - first.cpu,
        wait=last.wait - first.wait,
        rss_mb=mem_kb(pid) / 1024,
        done=metric_sum(last.text, "outwatch_probes_total")
        - metric_sum(first.text, "outwatch_probes_total"),
        expected=checks * seconds / interval,
        skipped=metric_sum(last.text, SKIPPED) - metric_sum(first.text, SKIPPED),
        failing=checks - metric_sum(last.text, "probe_success"),
        lateness={le: b1[le] - b0.get(le, 0.0) for le in b1},
        scrapes=scrapes,
        metrics_mb=len(last.text) / 1e6,
    )


def add_buckets(many: Sequence[dict[float, float]]) -> dict[float, float]:
    """Cumulative histograms added bucket by bucket (the same bounds in each)."""
    out: dict[float, float] = {}
    for buckets in many:
        for le, count in buckets.items():
            out[le] = out.get(le, 0.0) + count
    return out
