"""SQLite through sqlite-utils, WAL mode, one writer thread; nothing on the event loop waits on disk."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
import sqlite3
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import sqlite_utils

from monitor.core.base import Observation, Outage
from monitor.store import schema

T = TypeVar("T")
log = logging.getLogger("outwatch.store")


class StoreError(Exception):
    """The database could not be used (locked, full, read-only); the message says which."""


def _open(path: str, busy_timeout: float) -> sqlite_utils.Database:
    if path != ":memory:":
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        if not p.exists():
            # created 0600: it holds announcements and state an operator may consider private
            os.close(os.open(p, os.O_CREAT | os.O_WRONLY, 0o600))
    conn = sqlite3.connect(
        path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
    )
    db = sqlite_utils.Database(conn)
    if path != ":memory:":
        db.enable_wal()
    conn.execute("PRAGMA synchronous=NORMAL")
    return db


def _identity(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


_ORDER = {"table": 0, "index": 1, "view": 2, "trigger": 3}


def _schema(db: sqlite_utils.Database) -> list[str]:
    """The CREATE statements of an open database, tables first."""
    try:
        rows = db.execute(
            "SELECT type, sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%'"
        ).fetchall()
    except sqlite3.Error:
        return []
    return [sql for kind, sql in sorted(rows, key=lambda r: _ORDER.get(r[0], 9))]


def _apply_schema(db: sqlite_utils.Database, statements: list[str]) -> None:
    for sql in statements:
        with contextlib.suppress(sqlite3.OperationalError):  # "already exists": the core tables
            db.execute(sql)


class Store:
    """Owns the database; every read and write runs on its one thread, in a transaction."""

    def __init__(self, path: str, busy_timeout: float = 5.0) -> None:
        self.path = path
        self.busy_timeout = busy_timeout
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="outwatch-store")
        self._db: sqlite_utils.Database | None = None
        self._identity: tuple[int, int] | None = None  # (st_dev, st_ino) of the file opened
        self._schema: list[str] = []  # carried over from a file deleted while open
        self.replaced = 0  # how many times the file was found deleted or replaced

    def _db_or_open(self) -> sqlite_utils.Database:
        if self._db is None:
            db = _open(self.path, self.busy_timeout)
            schema.create_all(db)
            _apply_schema(db, self._schema)
            self._schema = []
            self._db, self._identity = db, _identity(self.path)
        return self._db

    def _check_identity(self, db: sqlite_utils.Database) -> None:
        """Raise StoreError once when the file at `path` is no longer the one open.

        Someone deleted (or replaced) the database: writes would go to an unlinked inode and
        vanish at exit. The next call opens a new file with the same tables.
        """
        if self.path == ":memory:" or _identity(self.path) == self._identity:
            return
        self._schema = _schema(db)
        self._reset()
        self.replaced += 1
        raise StoreError(
            f"database {self.path}: the file was deleted or replaced while open; "
            "opening a new one (what memory holds is written again)"
        )

    def _call(self, fn: Callable[[sqlite_utils.Database], T]) -> T:
        try:
            db = self._db_or_open()
            self._check_identity(db)
            # one transaction per call: the connection is in autocommit mode
            # (isolation_level=None), where `with conn:` opens none and each statement would
            # commit (and sync) on its own; sqlite-utils' own atomic blocks nest as savepoints
            with db.atomic():
                return fn(db)
        except sqlite3.Error as exc:
            self._reset()
            raise StoreError(f"database {self.path}: {exc}") from exc
        except OSError as exc:
            self._reset()
            raise StoreError(f"database {self.path}: {exc.strerror or exc}") from exc

    def _reset(self) -> None:
        # reopen on the next call: a connection SQLite opened read-only (the file was not
        # writable then) stays read-only for good, even after the file is fixed
        if self._db is not None:
            with contextlib.suppress(sqlite3.Error):
                self._db.conn.close()
            self._db = None

    async def run(self, fn: Callable[[sqlite_utils.Database], T]) -> T:
        """Run `fn(db)` on the store thread inside one transaction; raises StoreError."""
        return await asyncio.get_running_loop().run_in_executor(self._pool, self._call, fn)

    def run_sync(self, fn: Callable[[sqlite_utils.Database], T]) -> T:
        """Same as run(), for commands without an event loop."""
        return self._pool.submit(self._call, fn).result()

    def close(self) -> None:
        """Close the connection and the thread."""

        def _close() -> None:
            if self._db is not None:
                with contextlib.suppress(sqlite3.Error):
                    self._db.conn.close()
                self._db = None

        self._pool.submit(_close).result()
        self._pool.shutdown(wait=True)


# -- core tables: results, state snapshots, outages ---------------------------------------


RESULT_COLUMNS = (
    "ts",
    "service",
    "check_id",
    "kind",
    "ok",
    "error",
    "duration",
    "status_code",
    "detail",
)
RESULT_BATCH = 1000  # rows per transaction
_INSERT_RESULT = (
    f"INSERT INTO results ({', '.join(RESULT_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(RESULT_COLUMNS))})"
)


def result_row(o: Observation) -> tuple[Any, ...]:
    """One observation's values for the results table, in RESULT_COLUMNS order."""
    return (
        o.ts.isoformat(),
        o.service,
        o.check,
        o.kind,
        int(o.ok),
        o.error,
        round(o.duration, 6),
        o.status_code,
        o.detail[:500],
    )


def insert_results(db: sqlite_utils.Database, observations: Iterable[Observation]) -> int:
    """Append results, prepared once per 1,000 rows (inside Store.run's transaction; its own
    when called on a bare connection); returns how many."""
    # one prepared statement per batch: insert_all costs several times as much per row (a
    # dict per row, rewritten into multi-row INSERTs)
    rows = iter(observations)
    count = 0
    while batch := [result_row(o) for o in itertools.islice(rows, RESULT_BATCH)]:
        with db.atomic():
            db.conn.executemany(_INSERT_RESULT, batch)
        count += len(batch)
    return count


def prune_results(
    db: sqlite_utils.Database, before: datetime, limit: int = 5000, only_ok: bool = False
) -> int:
    """Delete up to `limit` results older than `before` (small batches keep the writer responsive).

    With `only_ok`, only successes go: failures are the evidence, kept for the longer retention.
    """
    ok = " AND ok = 1" if only_ok else ""
    cur = db.execute(
        f"DELETE FROM results WHERE rowid IN (SELECT rowid FROM results WHERE ts < ?{ok} LIMIT ?)",
        [before.isoformat(), limit],
    )
    return int(cur.rowcount or 0)


def put_state(db: sqlite_utils.Database, key: str, value: Any) -> None:
    """Save a JSON value under a key."""
    put_state_text(db, key, json.dumps(value))


def put_state_text(db: sqlite_utils.Database, key: str, text: str) -> None:
    """Save a value already encoded as JSON text under a key."""
    db.execute(
        "INSERT INTO state (key, value) VALUES (?, ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [key, text],
    )


def get_state(db: sqlite_utils.Database, key: str) -> Any:
    """Load a JSON value saved with put_state (None if absent)."""
    row = next(db.query("SELECT value FROM state WHERE key = ?", [key]), None)
    return json.loads(row["value"]) if row else None


def outage_row(o: Outage) -> dict[str, Any]:
    """Row for the outages table."""
    return {
        "id": o.id,
        "service": o.service,
        "started_at": o.started_at.isoformat(),
        "ended_at": o.ended_at.isoformat() if o.ended_at else None,
        "worst": o.worst,
        "signature": json.dumps(dict(o.signature), sort_keys=True),
        "failing_checks": json.dumps(list(o.failing_checks)),
    }


def upsert_outage(db: sqlite_utils.Database, o: Outage) -> None:
    """Insert or update an outage by its id (service and start)."""
    db.table("outages").upsert(outage_row(o), pk="id")


def list_outages(
    db: sqlite_utils.Database, service: str | None = None, limit: int = 500
) -> list[dict[str, Any]]:
    """Outages, newest first."""
    where, args = ("WHERE service = ?", [service]) if service else ("", [])
    rows = db.query(
        f"SELECT * FROM outages {where} ORDER BY started_at DESC LIMIT ?",
        [*args, limit],
    )
    out = []
    for r in rows:
        r["signature"] = json.loads(r["signature"] or "{}")
        r["failing_checks"] = json.loads(r["failing_checks"] or "[]")
        out.append(r)
    return out
