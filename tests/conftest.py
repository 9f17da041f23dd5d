"""Shared test helpers: free ports, and servers that must exist in CI."""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.integration.helpers import Target

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared"


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def require_binary(name: str) -> str:
    """Path of a program a test needs; missing is a failure in CI, a skip elsewhere."""
    path = shutil.which(name)
    if path:
        return path
    if os.environ.get("CI") == "true":
        pytest.fail(f"{name} is not installed, and CI must run this test (see .ci/run)")
    pytest.skip(f"{name} is not installed")


@pytest.fixture
async def target() -> AsyncIterator[Target]:
    """A loopback HTTP target the test can turn up or down (tests.integration.helpers.Target)."""
    t = Target(free_port())
    await t.start()
    yield t
    await t.stop()


# the PostgreSQL fixtures (pg_server, pg_dsn, pg_own) for the fleet's tests
pytest_plugins = ["tests.postgres"]
