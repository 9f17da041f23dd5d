"""glibc's allocator settings for a long-running daemon, set by the daemon itself at start.

glibc gives each thread that contends for the heap an arena of its own (up to 8 per core) and
raises the size it serves from mmap as large blocks are freed (up to 32 MB), so a /metrics
body built in a worker thread stays in a heap that is never given back: at 10,000 checks, 19 of
64 MB of arenas were free space. Two arenas and a fixed 1 MB mmap threshold (large buffers are
mapped and unmapped, the heap top is trimmed) kept ~20 MB less (bench/PROFILE.md). The same
as MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=1048576 in the environment, which wins when set.
"""

from __future__ import annotations

import ctypes
import os
import platform
from collections.abc import Mapping

M_MMAP_THRESHOLD = -3  # glibc's malloc.h
M_ARENA_MAX = -8
SETTINGS = (
    (M_ARENA_MAX, "MALLOC_ARENA_MAX", 2),
    (M_MMAP_THRESHOLD, "MALLOC_MMAP_THRESHOLD_", 1 << 20),
)


def tune(environ: Mapping[str, str] | None = None) -> list[str]:
    """Set what the environment does not (call before threads start); the names set.

    A no-op off glibc (musl, macOS): their allocators have neither setting.
    """
    env = os.environ if environ is None else environ
    if platform.libc_ver()[0] != "glibc" or "glibc.malloc" in env.get("GLIBC_TUNABLES", ""):
        return []
    mallopt = ctypes.CDLL(None).mallopt
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    # mallopt answers 1 on success, 0 for a value it refuses
    return [name for param, name, value in SETTINGS if name not in env and mallopt(param, value)]
