"""The test cluster itself: it runs unprivileged on loopback, and survives a restart."""

from __future__ import annotations

import psycopg

from tests.postgres import PostgresServer


def test_cluster_answers_on_loopback(pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn) as conn:
        row = conn.execute("SELECT current_setting('listen_addresses'), current_user").fetchone()
    assert row == ("127.0.0.1", "outwatch")


def test_restart_keeps_data(pg_own: PostgresServer) -> None:
    with psycopg.connect(pg_own.dsn(), autocommit=True) as conn:
        conn.execute("CREATE TABLE kept (n int)")
        conn.execute("INSERT INTO kept VALUES (7)")
    pg_own.restart()
    with psycopg.connect(pg_own.dsn()) as conn:
        assert conn.execute("SELECT n FROM kept").fetchone() == (7,)
