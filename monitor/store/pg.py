"""The fleet's shared PostgreSQL: connections, versioned migrations under a lock, and its tables.

PostgreSQL holds decisions, not raw telemetry: check states and transitions per vantage, outages,
announcements, fleet incidents and campaigns, the outbox and its log. Probe results stay local.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

import psycopg

log = logging.getLogger("outwatch.fleet")

# advisory lock keys (any 64-bit number the fleet agrees on; "outw" + a role)
MIGRATE_LOCK = 0x6F757477_00000001
DECIDER_LOCK = 0x6F757477_00000002
CONNECT_TIMEOUT = 5  # seconds


class SchemaError(Exception):
    """The database's schema is newer than this outwatch knows."""


# every failure of the shared database: the caller keeps running and says so once
DB_ERRORS: tuple[type[Exception], ...] = (psycopg.Error, SchemaError, OSError, TimeoutError)

MIGRATIONS: tuple[str, ...] = (
    # 1: the fleet's tables
    """
    CREATE TABLE fleet_instances (
        instance text PRIMARY KEY,
        vantage text NOT NULL,
        offline boolean NOT NULL DEFAULT false,
        offline_since timestamptz,
        started_at timestamptz NOT NULL,
        heartbeat_at timestamptz NOT NULL
    );
    CREATE TABLE check_states (
        vantage text NOT NULL,
        service text NOT NULL,
        check_id text NOT NULL,
        instance text NOT NULL,
        state text NOT NULL,
        error text,
        since timestamptz,
        updated_at timestamptz NOT NULL,
        PRIMARY KEY (vantage, service, check_id)
    );
    CREATE TABLE check_transitions (
        vantage text NOT NULL,
        service text NOT NULL,
        check_id text NOT NULL,
        at timestamptz NOT NULL,
        old text NOT NULL,
        new text NOT NULL,
        instance text NOT NULL,
        PRIMARY KEY (vantage, service, check_id, at)
    );
    CREATE TABLE outages (
        vantage text NOT NULL,
        id text NOT NULL,
        service text NOT NULL,
        started_at timestamptz NOT NULL,
        ended_at timestamptz,
        worst text NOT NULL,
        signature jsonb NOT NULL,
        failing_checks jsonb NOT NULL,
        PRIMARY KEY (vantage, id)
    );
    CREATE TABLE fleet_status (
        service text PRIMARY KEY,
        status text NOT NULL,
        verdict jsonb NOT NULL,
        changed_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL
    );
    CREATE TABLE incidents (
        id text PRIMARY KEY,
        service text NOT NULL,
        status text NOT NULL,
        started_at timestamptz NOT NULL,
        ended_at timestamptz,
        data jsonb NOT NULL
    );
    CREATE INDEX incidents_started ON incidents (started_at);
    CREATE TABLE campaigns (
        id text PRIMARY KEY,
        status text NOT NULL,
        started_at timestamptz NOT NULL,
        ended_at timestamptz,
        data jsonb NOT NULL
    );
    CREATE TABLE announcements (
        seq bigserial UNIQUE,
        source text NOT NULL,
        id text NOT NULL,
        published_at timestamptz NOT NULL,
        kind text NOT NULL,
        text text NOT NULL,
        url text,
        deleted boolean NOT NULL DEFAULT false,
        data jsonb NOT NULL,
        recorded_by text NOT NULL,
        recorded_at timestamptz NOT NULL,
        PRIMARY KEY (source, id)
    );
    CREATE TABLE announcement_claims (
        source text NOT NULL,
        id text NOT NULL,
        service text NOT NULL,
        kind text NOT NULL,
        PRIMARY KEY (source, id, service),
        FOREIGN KEY (source, id) REFERENCES announcements (source, id) ON DELETE CASCADE
    );
    CREATE TABLE silences (
        id text PRIMARY KEY,
        matchers jsonb NOT NULL,
        starts_at timestamptz NOT NULL,
        ends_at timestamptz NOT NULL,
        created_by text NOT NULL DEFAULT '',
        comment text NOT NULL DEFAULT ''
    );
    CREATE TABLE outbox (
        id bigserial PRIMARY KEY,
        key text NOT NULL UNIQUE,
        receiver text NOT NULL,
        payload jsonb NOT NULL,
        created_at timestamptz NOT NULL,
        next_at timestamptz NOT NULL,
        attempts integer NOT NULL DEFAULT 0,
        sent_at timestamptz,
        failed_at timestamptz,
        error text
    );
    CREATE INDEX outbox_due ON outbox (next_at) WHERE sent_at IS NULL AND failed_at IS NULL;
    CREATE TABLE notification_log (
        key text PRIMARY KEY,
        receiver text NOT NULL,
        sent_at timestamptz NOT NULL,
        sent_by text NOT NULL
    );
    CREATE TABLE fleet_memory (
        key text PRIMARY KEY,
        value jsonb NOT NULL,
        updated_at timestamptz NOT NULL
    );
    """,
    # 2: check states carry the transaction that wrote them, so the decider reads only what
    # changed since the oldest transaction still open when it last looked
    """
    ALTER TABLE check_states ADD COLUMN writer xid8 NOT NULL DEFAULT pg_current_xact_id();
    CREATE INDEX check_states_by_writer ON check_states (writer);
    """,
    # 3: each instance's facts for the alerts not about services (its sources, its certificates);
    # silences say when they last changed, so the latest change wins across instances
    """
    ALTER TABLE fleet_instances ADD COLUMN facts jsonb NOT NULL DEFAULT '{}'::jsonb;
    ALTER TABLE silences ADD COLUMN created_at timestamptz NOT NULL DEFAULT now();
    ALTER TABLE silences ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
    """,
    # 4: the decider's notification log (what each receiver was last told about each group, and
    # when: the dedup and repeat_interval survive a failover), and the fleet's alerts as the
    # decider last saw them, for every instance's /api/v1/alerts
    """
    CREATE TABLE fleet_nflog (
        receiver text NOT NULL,
        group_key text NOT NULL,
        firing jsonb NOT NULL,
        resolved jsonb NOT NULL,
        at timestamptz NOT NULL,
        PRIMARY KEY (receiver, group_key)
    );
    CREATE TABLE fleet_alerts (
        fingerprint text PRIMARY KEY,
        alert jsonb NOT NULL,
        silenced_by jsonb NOT NULL,
        inhibited_by jsonb NOT NULL,
        receivers jsonb NOT NULL,
        updated_at timestamptz NOT NULL
    );
    """,
)


def where(url: str) -> str:
    """host:port/db of a URL, for messages (never the user or password)."""
    try:
        parts = urlsplit(url)
        return f"{parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path or ''}"
    except ValueError:
        return "the configured database"


def describe(exc: BaseException) -> str:
    """One line about a driver error, without the connection string."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:300]


async def connect(url: str, name: str) -> psycopg.AsyncConnection[tuple[object, ...]]:
    """An autocommit connection named after this instance (seen in pg_stat_activity)."""
    return await psycopg.AsyncConnection.connect(
        url,
        autocommit=True,
        connect_timeout=CONNECT_TIMEOUT,
        application_name=f"outwatch {name}"[:63],
        # the server notices a vanished client by itself too: dead peers free their locks
        keepalives=1,
        keepalives_idle=5,
        keepalives_interval=2,
        keepalives_count=3,
    )


async def migrate(conn: psycopg.AsyncConnection[tuple[object, ...]]) -> int:
    """Apply the migrations this database lacks, under a lock so instances starting together
    apply each once; returns the schema version."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", [MIGRATE_LOCK])
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations"
            " (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        cur = await conn.execute("SELECT version FROM schema_migrations")
        done = {int(str(r[0])) for r in await cur.fetchall()}
        for version, sql in enumerate(MIGRATIONS, 1):
            if version in done:
                continue
            await conn.execute(sql.encode())
            await conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", [version])
            log.info("database schema migrated to version %d", version)
        newest = max(done, default=0)
        if newest > len(MIGRATIONS):
            raise SchemaError(
                f"the database schema is version {newest}, newer than this outwatch knows"
                f" ({len(MIGRATIONS)}): upgrade this instance"
            )
    return len(MIGRATIONS)
