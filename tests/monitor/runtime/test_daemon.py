"""The daemon in-process: reload, auth, secrets, and a store that is locked by someone else."""

from __future__ import annotations

import asyncio
import base64
import sqlite3
from pathlib import Path
from urllib.parse import quote

import aiohttp
import bcrypt
import pytest

from monitor import config
from monitor.runtime.daemon import Daemon
from tests.conftest import free_port
from tests.integration.helpers import Target, wait_for
from tests.monitor.runtime.rig import write

SECRET = "tok-9f8e7d6c5b4a"


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # storage.path is relative to the working directory


async def started(path: Path) -> Daemon:
    cfg = config.parse(path.read_text(), str(path), path.parent)
    cfg = cfg.model_copy(
        update={"storage": cfg.storage.model_copy(update={"path": str(path.parent / "ow.db")})}
    )
    d = Daemon(cfg, str(path))
    await d.start()
    return d


async def get(
    port: int, path: str, headers: dict[str, str] | None = None, method: str = "GET"
) -> tuple[int, str]:
    async with (
        aiohttp.ClientSession() as s,
        s.request(method, f"http://127.0.0.1:{port}{path}", headers=headers) as r,
    ):
        return r.status, await r.text()


async def test_reload_applies_valid_config_and_keeps_state(tmp_path: Path, target: Target) -> None:
    port = free_port()
    path = write(
        tmp_path, port, target, more='      - {kind: tcp, target: "127.0.0.1:1", id: gone}'
    )
    d = await started(path)
    try:
        await wait_for(lambda: _state(d, "web", "up"), 5)
        key_web = "privatbank/web"
        write(tmp_path, port, target, more='      - {kind: tcp, target: "127.0.0.1:2", id: new}')
        ok, detail = await d.reload()
        assert ok, detail
        assert set(d.scheduler.keys()) == {key_web, "privatbank/new"}
        assert d.pipeline.machine.check_state("privatbank", "web") == "up"  # kept its state
        _, metrics = await get(port, "/metrics")
        assert 'outwatch_config_last_reload_successful{vantage="unit"} 1.0' in metrics
    finally:
        await d.stop(grace=1)


async def test_invalid_reload_is_rejected_whole(
    tmp_path: Path, target: Target, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()
    path = write(tmp_path, port, target)
    d = await started(path)
    try:
        path.write_text(path.read_text().replace("kind: http", "kind: htp"))
        ok, detail = await d.reload()
        assert not ok and "services[0].checks[0].kind" in detail
        assert d.scheduler.keys() == ["privatbank/web"]
        assert any("services[0].checks[0].kind" in r.getMessage() for r in caplog.records)
        _, metrics = await get(port, "/metrics")
        assert 'outwatch_config_last_reload_successful{vantage="unit"} 0.0' in metrics
        status, _ = await get(port, "/-/reload", method="POST")
        assert status == 403  # state-changing endpoints need web.auth configured
    finally:
        await d.stop(grace=1)


async def test_auth_tokens_and_basic(
    tmp_path: Path, target: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OW_TOKEN", SECRET)
    hashed = bcrypt.hashpw(b"pw", bcrypt.gensalt(rounds=4)).decode()
    port = free_port()
    extra = f"""web:
  listen: "127.0.0.1:{port}"
  auth: {{tokens: ["${{OW_TOKEN}}"], basic: {{soc: "{hashed}"}}, protect_metrics: true}}"""
    path = (
        write(tmp_path, port, target)
        .read_text()
        .replace(f'web: {{listen: "127.0.0.1:{port}"}}\n', "")
    )
    (tmp_path / "config.yaml").write_text(path + extra)
    d = await started(tmp_path / "config.yaml")
    try:
        assert (await get(port, "/healthz"))[0] == 200
        assert (await get(port, "/api/v1/services"))[0] == 401
        assert (await get(port, "/metrics"))[0] == 401
        assert (await get(port, "/api/v1/services", {"Authorization": "Bearer wrong"}))[0] == 401
        assert (await get(port, "/api/v1/services", {"Authorization": f"Bearer {SECRET}"}))[
            0
        ] == 200
        basic = base64.b64encode(b"soc:pw").decode()
        assert (await get(port, "/metrics", {"Authorization": f"Basic {basic}"}))[0] == 200
        bad = base64.b64encode(b"soc:nope").decode()
        assert (await get(port, "/metrics", {"Authorization": f"Basic {bad}"}))[0] == 401
        status, _ = await get(port, "/-/reload", {"Authorization": f"Bearer {SECRET}"}, "POST")
        assert status == 200
        # the token never shows up anywhere the daemon writes or serves
        _, body = await get(port, "/api/v1/services", {"Authorization": f"Bearer {SECRET}"})
        _, metrics = await get(port, "/metrics", {"Authorization": f"Bearer {SECRET}"})
        assert SECRET not in body and SECRET not in metrics
    finally:
        await d.stop(grace=1)
    assert SECRET.encode() not in (tmp_path / "ow.db").read_bytes()


async def test_locked_store_keeps_probing_from_memory(tmp_path: Path, target: Target) -> None:
    port = free_port()
    d = await started(write(tmp_path, port, target))
    try:
        await wait_for(lambda: _state(d, "web", "up"), 5)
        other = sqlite3.connect(tmp_path / "ow.db", isolation_level=None)
        other.execute("BEGIN EXCLUSIVE")  # another process holds the database
        await wait_for(lambda: _false(lambda: d.store_up), 5, "store failure not noticed")
        before = d.pipeline.probes[("privatbank", "web", "http")]
        await target.stop()
        await wait_for(
            lambda: _state(d, "web", "down"), 5, "probing stopped while the store was locked"
        )
        assert d.pipeline.probes[("privatbank", "web", "http")] > before
        _, metrics = await get(port, "/metrics")
        assert 'outwatch_store_up{vantage="unit"} 0.0' in metrics
        other.execute("ROLLBACK")
        other.close()
        await wait_for(lambda: _false(lambda: not d.store_up), 5, "store never came back")
        rows = d.store.run_sync(lambda db: db.execute("select count(*) from outages").fetchone()[0])
        assert rows == 1  # the outage seen while locked was written once the lock went away
    finally:
        await d.stop(grace=1)


async def test_database_file_mode_is_0600(tmp_path: Path, target: Target) -> None:
    d = await started(write(tmp_path, free_port(), target))
    await d.stop(grace=1)
    assert (tmp_path / "ow.db").stat().st_mode & 0o777 == 0o600


async def _state(d: Daemon, check: str, want: str) -> bool:
    await asyncio.sleep(0)
    return d.pipeline.machine.check_state("privatbank", check) == want


async def _false(fn: object) -> bool:
    await asyncio.sleep(0)
    return not fn()  # type: ignore[operator]


async def test_web_serves_https_when_configured(tmp_path: Path, target: Target) -> None:
    import ssl

    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    cert.private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "web.pem"))
    cert.private_key_pem.write_to_path(str(tmp_path / "web.key"))
    port = free_port()
    path = write(tmp_path, port, target)
    path.write_text(
        path.read_text().replace(
            f'web: {{listen: "127.0.0.1:{port}"}}',
            f'web: {{listen: "127.0.0.1:{port}", tls: {{cert_path: web.pem, key_path: web.key}}}}',
        )
    )
    d = await started(path)
    try:
        client = ssl.create_default_context()
        ca.configure_trust(client)
        async with aiohttp.ClientSession() as s:
            async with s.get(f"https://127.0.0.1:{port}/healthz", ssl=client) as r:
                assert r.status == 200
            try:
                async with s.get(f"http://127.0.0.1:{port}/healthz") as r:
                    plain = r.status
            except aiohttp.ClientError:
                plain = 0
            assert plain != 200  # no plain HTTP beside it
    finally:
        await d.stop(grace=1)


async def test_a_database_deleted_while_running_is_noticed_and_made_again(
    tmp_path: Path, target: Target, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()
    d = await started(write(tmp_path, port, target))
    db = tmp_path / "ow.db"
    try:

        async def stored() -> bool:
            return _rows(db, "results") > 0

        await wait_for(stored, 10, "no results stored")
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)

        async def remade() -> bool:
            return db.exists() and _rows(db, "results") > 0 and _rows(db, "state") >= 2

        await wait_for(remade, 10, "the database was not made again")
        assert d.store.replaced == 1 and d.store_errors == 1 and d.store_up
        lines = [r.getMessage() for r in caplog.records if "deleted or replaced" in r.getMessage()]
        assert len(lines) == 1 and str(db) in lines[0]
        assert _rows(db, "announcements") == 0  # every table is there again
    finally:
        await d.stop(grace=1)
    assert _rows(db, "results") > 0  # and it survives a clean stop


def _rows(db: Path, table: str) -> int:
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.Error:
        return -1


@pytest.mark.parametrize(
    ("since", "status", "error"),
    [
        ("99999999999w", 400, "since must be an ISO 8601 time or a duration like 6h"),
        ("5199w", 400, "since: "),  # 99 years back: before 1970
        ("0001-01-01T00:00:00+14:00", 400, "since: 0001-01-01T00:00:00+14:00 is out of range"),
        ("9999-12-31T23:59:59Z", 400, "since: 9999-12-31T23:59:59+00:00 is out of range"),
        ("6h", 200, ""),
        ("2022-02-15T12:00:00Z", 200, ""),
    ],
)
async def test_since_is_bounded(
    tmp_path: Path, target: Target, since: str, status: int, error: str
) -> None:
    port = free_port()
    d = await started(write(tmp_path, port, target))
    try:
        for path in ("incidents", "campaigns", "announcements"):
            got, body = await get(port, f"/api/v1/{path}?since={quote(since)}")
            assert got == status, body
            assert error in body and "Traceback" not in body
    finally:
        await d.stop(grace=1)
