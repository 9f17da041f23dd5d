"""Syscalls, loop callbacks and CPU per HTTP probe: outwatch's runner against a bare streams prober.

Run from the repository root: `python bench/probe_syscalls.py [--n 3000] [--bare] [--asyncio]`.

nginx answers on one core; this process runs `--n` probes (50 at a time) on the other, after a
warm-up. CPU per probe is this process's (getrusage). With strace installed it is attached for
the measured batch and its `-c` table is printed per probe. With `--asyncio` (the stdlib loop,
whose call_soon/call_at are Python methods we can count) it prints loop callbacks per probe;
uvloop runs the same code, so its count is the same.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import Nginx, cores
from monitor.runtime.daemon import settle_heap


async def bare(port: int) -> None:
    """What the issue's floor does: open_connection, one request, read to EOF, close."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /p HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    await reader.read()
    writer.close()
    await writer.wait_closed()


def outwatch_runner(port: int) -> Any:
    """One run_check of an http check, as the daemon's runner does it."""
    from monitor.runtime.runner import check_from_target, run_check
    from probes.base import ProbeContext

    check = check_from_target(f"http://127.0.0.1:{port}/p", 2.0)
    ctx = ProbeContext()

    async def one(_: int) -> None:
        result = await run_check(check, ctx)
        assert result.ok, result.detail

    return one


async def batch(fn: Any, port: int, n: int, width: int = 50, rate: float = 0.0) -> None:
    """n probes, `width` at a time; with a rate, started as the daemon does (a burst per 20 ms)."""
    if rate:
        per_tick = max(1, round(rate * 0.02))
        tasks = []
        for _ in range(0, n, per_tick):
            tasks += [asyncio.ensure_future(fn(port)) for _ in range(per_tick)]
            await asyncio.sleep(0.02)
        await asyncio.gather(*tasks)
        return
    sem = asyncio.Semaphore(width)

    async def guarded() -> None:
        async with sem:
            await fn(port)

    await asyncio.gather(*(guarded() for _ in range(n)))


class Counting(asyncio.SelectorEventLoop):
    """The stdlib loop, counting the callbacks it is asked to run."""

    calls = 0

    def call_soon(self, *a: Any, **k: Any) -> Any:  # type: ignore[override]
        Counting.calls += 1
        return super().call_soon(*a, **k)

    def call_at(self, *a: Any, **k: Any) -> Any:  # type: ignore[override]
        Counting.calls += 1
        return super().call_at(*a, **k)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=3000)
    ap.add_argument("--bare", action="store_true", help="the bare streams prober instead")
    ap.add_argument("--asyncio", action="store_true", help="stdlib loop; count callbacks")
    ap.add_argument(
        "--rate", type=float, default=0.0, help="probes/s in 20 ms bursts (default: 50 at a time)"
    )
    ap.add_argument("--no-strace", action="store_true")
    args = ap.parse_args()
    probe_cpu, other_cpu = cores()
    os.sched_setaffinity(0, {probe_cpu})
    if args.asyncio:
        loop: asyncio.AbstractEventLoop = Counting()
    else:
        import uvloop

        loop = uvloop.new_event_loop()
    with tempfile.TemporaryDirectory(prefix="outwatch-sys-") as d:
        nginx = Nginx(Path(d), other_cpu)
        nginx.start()
        try:
            port = nginx.http_ports[0]
            fn = bare if args.bare else outwatch_runner(port)
            loop.run_until_complete(batch(fn, port, 500))  # warm-up
            settle_heap()  # the daemon's collector settings
            out = Path(d) / "strace.txt"
            tracer = None
            if shutil.which("strace") and not (args.asyncio or args.no_strace):
                cmd = ["strace", "-f", "-c", "-o", str(out), "-p", str(os.getpid())]
                tracer = subprocess.Popen(cmd, stderr=subprocess.DEVNULL)
                time.sleep(1.0)  # attached
            Counting.calls = 0
            r0 = resource.getrusage(resource.RUSAGE_SELF)
            loop.run_until_complete(batch(fn, port, args.n, rate=args.rate))
            r1 = resource.getrusage(resource.RUSAGE_SELF)
            calls = Counting.calls
            if tracer is not None:
                tracer.send_signal(signal.SIGINT)
                tracer.wait()
        finally:
            nginx.stop()
        cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
        name = "bare" if args.bare else "outwatch"
        loop_name = "asyncio" if args.asyncio else "uvloop"
        note = " (under strace)" if tracer is not None else ""
        print(f"{name} on {loop_name}: {cpu / args.n * 1e6:.0f} us CPU per probe{note}")
        if args.asyncio:
            print(f"  loop callbacks per probe (call_soon + call_at): {calls / args.n:.2f}")
        if tracer is not None:
            for line in out.read_text().splitlines()[2:]:
                parts = line.split()
                if len(parts) >= 5 and parts[3].isdigit():
                    errs = int(parts[4]) / args.n if len(parts) == 6 else 0.0
                    print(
                        f"  {parts[-1]:16s} {int(parts[3]) / args.n:6.2f} per probe, {errs:.2f} failed"
                    )
                elif len(parts) >= 4 and parts[2].isdigit():  # the total line
                    print(f"  {'total':16s} {int(parts[2]) / args.n:6.2f} per probe")
    return 0


if __name__ == "__main__":
    sys.exit(main())
