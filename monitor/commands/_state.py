"""What the reading commands (status, incidents, campaigns) read: the fleet's shared PostgreSQL
when `storage.url` is set, else this instance's SQLite. Not a command itself (leading `_`)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from monitor import config
from monitor.commands.export import parse_since
from monitor.store import db as local
from monitor.store import incidents as local_incidents

# one bound for connecting and reading: a command never hangs on a dead link
READ_TIMEOUT = 10.0


class Unavailable(Exception):
    """The state cannot be read (database unreachable, or none yet): one line for the user."""


class Source:
    """Where a command reads the state from, named for its messages."""

    def __init__(self, cfg: config.Config) -> None:
        self.cfg = cfg
        url = cfg.storage.url
        self.url = url.get_secret_value() if url is not None else None

    @property
    def fleet(self) -> bool:
        """Whether this reads the fleet's shared state."""
        return self.url is not None

    def read(self, what: str, **filters: Any) -> list[dict[str, Any]]:
        """Rows of `what` (services, incidents, campaigns); raises Unavailable."""
        if self.url is not None:
            return asyncio.run(self._fleet(self.url, what, filters))
        return self._local(what, filters)

    async def _fleet(self, url: str, what: str, filters: dict[str, Any]) -> list[dict[str, Any]]:
        # imported here: the cli imports this module for every command, `outwatch run` too,
        # and psycopg is ~20 MB that an instance on SQLite never uses
        import psycopg

        from monitor.store import fleet as q
        from monitor.store import pg

        where = pg.where(url)
        try:
            async with asyncio.timeout(READ_TIMEOUT):
                conn = await pg.connect(url, f"{self.cfg.instance} {what} command")
                async with conn:
                    return await q.READS[what](conn, **filters)
        except psycopg.errors.UndefinedTable:
            raise Unavailable(
                f"fleet database {where} has no outwatch tables yet (no instance has started on it)"
            ) from None
        except TimeoutError:
            raise Unavailable(
                f"fleet database {where} unreachable: no answer in {READ_TIMEOUT:g}s"
            ) from None
        except (psycopg.OperationalError, OSError) as exc:
            raise Unavailable(f"fleet database {where} unreachable: {pg.describe(exc)}") from None
        except pg.DB_ERRORS as exc:  # reached, but it refused the read (rights, schema)
            raise Unavailable(f"fleet database {where}: {pg.describe(exc)}") from None

    def _local(self, what: str, filters: dict[str, Any]) -> list[dict[str, Any]]:
        path = Path(self.cfg.storage.path)  # as the daemon opens it
        if not path.exists():
            raise Unavailable(f"no database at {path} (has the daemon run with this config?)")
        store = local.Store(str(path))
        try:
            return store.run_sync(lambda db: _LOCAL_READS[what](db, **filters))
        except local.StoreError as exc:
            raise Unavailable(str(exc)) from None
        finally:
            store.close()


def _local_services(db: Any) -> list[dict[str, Any]]:
    """This instance's services as its store last recorded them: an open outage is its status."""
    open_ = {
        o["service"]: o
        for o in reversed(local.list_outages(db, None, 10_000))
        if not o.get("ended_at")
    }
    return [
        {
            "service": svc,
            "status": str(o.get("worst") or "down"),
            "changed_at": o.get("started_at"),
        }
        for svc, o in open_.items()
    ]


_LOCAL_READS: dict[str, Callable[..., list[dict[str, Any]]]] = {
    "services": _local_services,
    "incidents": local_incidents.list_incidents,
    "campaigns": local_incidents.list_campaigns,
}


def add_common(p: argparse.ArgumentParser) -> None:
    """The options every reading command takes."""
    p.add_argument("-c", "--config", required=True, help="config file (storage.path or .url)")
    p.add_argument("--format", choices=["table", "json"], default="table")


def since_arg(text: str | None) -> datetime | None:
    """`--since` as a time; ValueError with a one-line message."""
    return parse_since(text, datetime.now(UTC))


def run_reading(
    args: argparse.Namespace,
    read: Callable[[Source], list[dict[str, Any]]],
    table: Callable[[Source, list[dict[str, Any]]], list[str]],
) -> int:
    """Load the config, read, print as a table or JSON; exit 1 when the state is unavailable."""
    cfg = config.load(args.config)
    source = Source(cfg)
    try:
        rows = read(source)
    except Unavailable as exc:
        print(f"outwatch: {exc}", file=sys.stderr)
        return 1
    if args.format == "json":
        sys.stdout.write(json.dumps(rows, ensure_ascii=False, indent=1, default=str) + "\n")
    else:
        sys.stdout.write("".join(line + "\n" for line in table(source, rows)))
    return 0


def origin(source: Source) -> str:
    """Whose state a table shows, for its first line."""
    if source.url is not None:
        from monitor.store import pg  # psycopg: see Source._fleet

        return f"fleet state from {pg.where(source.url)}"
    return f"{source.cfg.vantage.name}'s own state from {source.cfg.storage.path}"
