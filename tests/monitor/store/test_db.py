"""Store: pruning keeps failures longer than successes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitor.core.base import Observation
from monitor.store import db as store

T0 = datetime(2022, 2, 15, tzinfo=UTC)


def test_prune_keeps_failures_past_success_retention(tmp_path: Path) -> None:
    s = store.Store(str(tmp_path / "ow.db"))
    rows = [
        Observation(
            "privatbank", "web", "http", T0 + timedelta(days=d), ok, None if ok else "timeout"
        )
        for d in range(10)
        for ok in (True, False)
    ]
    s.run_sync(lambda db: store.insert_results(db, rows))
    now = T0 + timedelta(days=10)
    s.run_sync(lambda db: store.prune_results(db, now - timedelta(days=2), only_ok=True))
    s.run_sync(lambda db: store.prune_results(db, now - timedelta(days=7)))
    left = s.run_sync(lambda db: list(db.query("SELECT ok, count(*) n FROM results GROUP BY ok")))
    s.close()
    assert {r["ok"]: r["n"] for r in left} == {0: 7, 1: 2}
    assert (tmp_path / "ow.db").stat().st_mode & 0o777 == 0o600
