"""The cut-off spool: bounded, ordered, survives a torn last line."""

from __future__ import annotations

from pathlib import Path

from monitor.runtime.spool import Spool


def test_spool_keeps_order_and_its_bound(tmp_path: Path) -> None:
    spool = Spool(str(tmp_path / "s.spool"), max_bytes=200)
    spool.append([("transition", {"n": i}) for i in range(3)])
    assert [r["n"] for _, r in spool.read()] == [0, 1, 2]
    spool.append([("transition", {"n": i, "pad": "x" * 40}) for i in range(3, 10)])
    assert spool.size() <= 200 and spool.dropped > 0
    assert [r["n"] for _, r in spool.read()][:3] == [0, 1, 2]
    assert (tmp_path / "s.spool").stat().st_mode & 0o777 == 0o600
    spool.clear()
    assert spool.read() == [] and spool.size() == 0


def test_a_torn_last_line_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "s.spool"
    spool = Spool(str(path), max_bytes=10_000)
    spool.append([("outage", {"id": "a"})])
    with path.open("a") as f:
        f.write('{"t": "outage", "r": {"id"')  # the process died mid-write
    assert spool.read() == [("outage", {"id": "a"})]
    spool.append([("outage", {"id": "b"})])  # appended after the torn line, not onto it
    assert spool.read() == [("outage", {"id": "a"}), ("outage", {"id": "b"})]
