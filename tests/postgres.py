"""A real PostgreSQL for tests: initdb + pg_ctl on a free loopback port, as an unprivileged user."""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import free_port

USER = "outwatch"  # the database superuser the cluster is created with
_SYSTEM_USER = "outwatch-pg"  # the Unix user the server runs as when the tests run as root


def bindir() -> str | None:
    """Where Debian's initdb and pg_ctl live (they are not on PATH), or None."""
    found = shutil.which("pg_ctl")
    if found:
        return str(Path(found).parent)
    # Debian keeps the server programs per major version; take the newest
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=_major)
    return str(Path(dirs[-1]).parent) if dirs else None


def _major(path: str) -> int:
    part = Path(path).parts[-3]
    return int(part) if part.isdigit() else 0


def require_postgres() -> str:
    """The server's bin directory; missing is a failure in CI, a skip elsewhere."""
    found = bindir()
    if found:
        return found
    if os.environ.get("CI") == "true":
        pytest.fail("PostgreSQL is not installed, and CI must run this test (see scripts/test)")
    pytest.skip("PostgreSQL is not installed")


def _run_as() -> str | None:
    """The Unix user to run the server as: None when we are not root (PostgreSQL refuses root)."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(_SYSTEM_USER)
    except KeyError:
        subprocess.run(
            [
                "useradd",
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                _SYSTEM_USER,
            ],
            check=True,
            capture_output=True,
        )
    return _SYSTEM_USER


class PostgresServer:
    """One throwaway cluster; start(), stop() and restart() it at will, close() removes it."""

    def __init__(self) -> None:
        self.bin = require_postgres()
        self.user = _run_as()
        self.dir = Path(tempfile.mkdtemp(prefix="outwatch-pg-"))
        self.data = self.dir / "data"
        self.port = free_port()
        if self.user:
            shutil.chown(self.dir, self.user, self.user)
        self._cmd(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            USER,
            "--auth=trust",
            "--no-sync",
            "-E",
            "UTF8",
            "--locale=C",
        )
        conf = [
            "listen_addresses = '127.0.0.1'",
            f"port = {self.port}",
            "unix_socket_directories = ''",
            "fsync = off",
            "synchronous_commit = off",
            "full_page_writes = off",
            "max_connections = 200",
            "shared_buffers = 32MB",
        ]
        with (self.data / "postgresql.conf").open("a") as f:
            f.write("\n".join(conf) + "\n")

    def _cmd(self, prog: str, *args: str) -> None:
        argv = [str(Path(self.bin) / prog), *args]
        if self.user:
            argv = ["runuser", "-u", self.user, "--", *argv]
        done = subprocess.run(argv, capture_output=True, text=True, cwd=self.dir, timeout=60)
        if done.returncode != 0:
            raise RuntimeError(f"{prog} failed: {done.stdout}{done.stderr}")

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        self._cmd("pg_ctl", "-D", str(self.data), "-l", str(self.dir / "log"), "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (`immediate` is a crash: no shutdown checkpoint)."""
        self._cmd("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def restart(self) -> None:
        """Stop and start again on the same port."""
        self.stop()
        self.start()

    def dsn(self, dbname: str = "postgres") -> str:
        """A connection URL for one database."""
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{dbname}"

    def close(self) -> None:
        """Stop if running and remove the cluster."""
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):  # already stopped
            self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    """One cluster shared by the session's tests (each gets its own database from `pg_dsn`)."""
    server = PostgresServer()
    server.start()
    yield server
    server.close()


@pytest.fixture
def pg_dsn(pg_server: PostgresServer) -> Iterator[str]:
    """A fresh, empty database on the shared cluster."""
    import psycopg

    name = f"t{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server.dsn(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield pg_server.dsn(name)
    with psycopg.connect(pg_server.dsn(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_own() -> Iterator[PostgresServer]:
    """A cluster of the test's own, for tests that stop or restart the server."""
    server = PostgresServer()
    server.start()
    yield server
    server.close()
