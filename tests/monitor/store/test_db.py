"""Store: result rows, state values, and pruning that keeps failures longer than successes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

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


def test_results_are_stored_as_rows_in_batches(tmp_path: Path) -> None:
    """Every observation becomes one row, values as before (rounded duration, detail cut)."""
    s = store.Store(str(tmp_path / "ow.db"))
    long = "x" * 700
    first = Observation(
        "privatbank", "web", "http", T0, False, "timeout", 1.23456789, long, None, 5.0
    )
    rest = [
        Observation(
            "privatbank", "web", "http", T0 + timedelta(seconds=k), True, None, 0.1, "ok", 200
        )
        for k in range(1, 2500)
    ]
    assert s.run_sync(lambda db: store.insert_results(db, iter([first, *rest]))) == 2500
    assert s.run_sync(lambda db: store.insert_results(db, [])) == 0
    rows = s.run_sync(lambda db: list(db.query("SELECT * FROM results ORDER BY rowid")))
    s.close()
    assert len(rows) == 2500
    assert rows[0] == {
        "ts": T0.isoformat(),
        "service": "privatbank",
        "check_id": "web",
        "kind": "http",
        "ok": 0,
        "error": "timeout",
        "duration": 1.234568,
        "status_code": None,
        "detail": long[:500],
    }
    assert rows[-1]["ts"] == (T0 + timedelta(seconds=2499)).isoformat()
    assert rows[-1]["status_code"] == 200


def test_state_saved_as_text_or_value_reads_back(tmp_path: Path) -> None:
    s = store.Store(str(tmp_path / "ow.db"))
    s.run_sync(lambda db: store.put_state(db, "a", {"x": [1, 2]}))
    s.run_sync(lambda db: store.put_state_text(db, "a", '{"x": [3]}'))
    s.run_sync(lambda db: store.put_state_text(db, "b", "null"))
    got = s.run_sync(lambda db: (store.get_state(db, "a"), store.get_state(db, "b")))
    s.close()
    assert got == ({"x": [3]}, None)


def test_a_call_is_one_transaction(tmp_path: Path) -> None:
    """A call that fails halfway leaves nothing behind: its writes were one transaction."""
    s = store.Store(str(tmp_path / "ow.db"))
    rows = [Observation("privatbank", "web", "http", T0, True, None, 0.1, "ok", 200)]

    def half(db: object) -> None:
        store.insert_results(db, rows)  # type: ignore[arg-type]
        store.put_state(db, "k", 1)  # type: ignore[arg-type]
        raise RuntimeError("the writer died")

    with pytest.raises(RuntimeError):
        s.run_sync(half)
    n = s.run_sync(lambda db: db.execute("SELECT count(*) FROM results").fetchone()[0])
    value = s.run_sync(lambda db: store.get_state(db, "k"))
    s.close()
    assert (n, value) == (0, None)
