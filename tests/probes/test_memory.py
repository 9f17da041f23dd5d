"""Hundreds of hostile probes in one process must not grow memory (or leak tasks and sockets)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from probes.base import ProbeContext
from tests.conftest import free_port
from tests.probes import servers
from tests.probes.servers import raw_server, run_probe, web_server

ROUNDS = 40  # x 8 probes per round = 320 probes


def rss_bytes() -> int:
    """Resident set size of this process."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE")


def open_fds() -> int:
    """Open file descriptors of this process."""
    return len(os.listdir("/proc/self/fd"))


async def test_hostile_probes_do_not_grow_memory(tmp_path: Path) -> None:
    certs = servers.Certs(tmp_path)
    ctx = ProbeContext()  # shared, like the daemon's: SSL contexts are cached in it
    async with (
        raw_server(servers.endless_body) as endless,
        raw_server(servers.endless_chunked) as chunked,
        raw_server(servers.huge_headers) as headers,
        raw_server(servers.huge_header_line) as line,
        raw_server(servers.garbage) as garbage,
        raw_server(servers.reset_mid_response) as reset,
        web_server(certs.server_context("expired")) as expired,
    ):
        refused = free_port()
        urls = [
            f"http://127.0.0.1:{endless}/",
            f"http://127.0.0.1:{chunked}/",
            f"http://127.0.0.1:{headers}/",
            f"http://127.0.0.1:{line}/",
            f"http://127.0.0.1:{garbage}/",
            f"http://127.0.0.1:{reset}/",
            f"https://127.0.0.1:{expired}/ok",
            f"http://127.0.0.1:{refused}/",
        ]

        async def round_() -> None:
            results = await asyncio.gather(
                *(run_probe("http", url=u, ctx=ctx, ca_file=certs.ca_file, timeout=1) for u in urls)
            )
            assert all(not r.ok or r.extra.get("body_truncated") for r, _ in results)

        for _ in range(5):  # warm up: caches, allocator arenas, lazily imported modules
            await round_()
        before, fds = rss_bytes(), open_fds()
        tasks = len(asyncio.all_tasks())
        for _ in range(ROUNDS):
            await round_()
        grown = rss_bytes() - before
    print(f"RSS growth {grown / 1e6:.1f} MB over {ROUNDS * len(urls)} probes")  # shown with -s
    assert grown < 24 * 1024 * 1024, f"RSS grew by {grown / 1e6:.1f} MB"
    assert open_fds() <= fds
    assert len(asyncio.all_tasks()) <= tasks
    assert len(ctx.ssl_contexts) == 1
