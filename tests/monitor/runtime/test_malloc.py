"""The daemon's glibc allocator settings: two arenas however many threads, the environment wins."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from monitor.runtime import malloc

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's allocator")

# a fresh interpreter (the setting is for the process): 12 threads alive at once that each
# allocate, then glibc's malloc_stats() lists the arenas they got on stderr
THREADS = """
import ctypes, sys, threading
from monitor.runtime import malloc
if sys.argv[1] == "tune":
    print(",".join(malloc.tune()))
together = threading.Barrier(12)
def work():
    keep = [bytearray(4096) for _ in range(200)]
    together.wait()
threads = [threading.Thread(target=work) for _ in range(12)]
for t in threads: t.start()
for t in threads: t.join()
sys.stdout.flush()
ctypes.CDLL(None).malloc_stats()
"""


def arenas(mode: str, env: dict[str, str]) -> tuple[str, int]:
    done = subprocess.run(
        [sys.executable, "-c", THREADS, mode],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env={**env, "PYTHONPATH": ":".join(sys.path)},
    )
    return done.stdout.strip(), done.stderr.count("Arena ")


def test_tune_keeps_the_threads_to_two_arenas() -> None:
    assert arenas("tune", {}) == ("MALLOC_ARENA_MAX,MALLOC_MMAP_THRESHOLD_", 2)
    assert arenas("plain", {})[1] > 2  # what glibc does by itself


def test_the_environment_wins() -> None:
    assert arenas("tune", {"MALLOC_ARENA_MAX": "3"}) == ("MALLOC_MMAP_THRESHOLD_", 3)
    assert malloc.tune({"GLIBC_TUNABLES": "glibc.malloc.arena_max=4"}) == []
