"""Run the daemon with a known value in every secret-bearing place, drive traffic, grep all it wrote."""

from __future__ import annotations

import asyncio
import base64
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import bcrypt
import pytest
from aiohttp import web
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from tests.conftest import free_port
from tests.integration.helpers import ROOT, DaemonProcess, Target, wait_for

SECRETS = {
    "web_token": "sEcr3t-webtoken-71f0c2",
    "basic_password": "sEcr3t-basicpw-93ad1e",
    "ingest_token": "sEcr3t-ingest-5b7e44",
    "webhook_url_token": "sEcr3t-hookurl-0c9d12",
    "webhook_hmac": "sEcr3t-hmac-8e2f6a",
    "dead_url_token": "sEcr3t-deadurl-47ab90",
    "slack_path": "sEcr3t-slack-T000-B000-d1e2f3",
    "pagerduty_key": "sEcr3t-pdkey-6c1a0b",
    "telegram_bot_token": "123456:sEcr3t-bot-AAE4f2d9",
    "smtp_password": "sEcr3t-smtppw-2d8c5f",
    "telegram_api_hash": "sEcr3t-apihash-9f3b7c",
}


@dataclass
class Receivers:
    """One loopback server standing in for the webhook, Slack, PagerDuty and Telegram APIs."""

    port: int = field(default_factory=free_port)
    hits: dict[str, int] = field(default_factory=dict)

    async def handle(self, request: web.Request) -> web.Response:
        kind = request.match_info["kind"]
        self.hits[kind] = self.hits.get(kind, 0) + 1
        await request.read()
        if self.hits[kind] == 1 and kind in ("hook", "tg"):
            # one refusal each, so the daemon logs a delivery failure and retries
            status = 500 if kind == "hook" else 429
            return web.json_response({"ok": False, "description": "try later"}, status=status)
        if kind == "pd":
            return web.json_response({"status": "success", "dedup_key": "x"}, status=202)
        return web.json_response({"ok": True})

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


class Mailbox:
    """aiosmtpd handler that keeps messages; logins need the known password."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []
        self.logins = 0

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        content = envelope.content or b""
        self.messages.append(content if isinstance(content, bytes) else content.encode())
        return "250 OK"

    def authenticate(
        self, server: Any, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and data.password == SECRETS["smtp_password"].encode()
        self.logins += ok
        return AuthResult(success=ok)


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    port = free_port()
    ctl = Controller(
        box,
        hostname="127.0.0.1",
        port=port,
        authenticator=box.authenticate,
        auth_require_tls=False,
    )
    ctl.start()
    yield box, port
    ctl.stop()


@pytest.fixture
async def receivers() -> AsyncIterator[Receivers]:
    r = Receivers()
    app = web.Application()
    app.router.add_route("*", "/{kind}/{tail:.*}", r.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", r.port).start()
    yield r
    await runner.cleanup()


def write_config(tmp: Path, port: int, target: Target, rx: Receivers, smtp_port: int) -> Path:
    hashed = bcrypt.hashpw(SECRETS["basic_password"].encode(), bcrypt.gensalt(rounds=4)).decode()
    (tmp / "pd.key").write_text(SECRETS["pagerduty_key"] + "\n")
    path = tmp / "config.yaml"
    s = SECRETS
    path.write_text(
        f"""vantage: sec-1
storage: {{path: ./outwatch.db}}
web:
  listen: "127.0.0.1:{port}"
  auth: {{tokens: ["${{OW_WEB_TOKEN}}"], basic: {{soc: "{hashed}"}}, protect_metrics: true}}
defaults: {{interval: 200ms, timeout: 150ms, failures_before_down: 2, successes_before_up: 1}}
services:
  - name: privatbank
    title: PrivatBank
    group: bank
    aliases: [ПриватБанк]
    checks: [{{kind: http, url: "{target.url}", id: web}}]
sources:
  ingest: {{tokens: ["{s["ingest_token"]}"]}}
  telegram:
    api_id: 12345
    api_hash: "{s["telegram_api_hash"]}"
    session: ./tg/outwatch.session
    channels: [dsszzi]
alerts:
  route:
    receiver: hook
    group_by: [service]
    group_wait: 100ms
    group_interval: 300ms
    routes:
      - {{receiver: hook, continue: true}}
      - {{receiver: dead, continue: true}}
      - {{receiver: slack, continue: true}}
      - {{receiver: pd, continue: true}}
      - {{receiver: tg, continue: true}}
      - {{receiver: mail, continue: true}}
  delivery: {{initial_backoff: 100ms, max_backoff: 300ms}}
  receivers:
    - name: hook
      kind: webhook
      url: "{rx.base}/hook/x?token={s["webhook_url_token"]}"
      secret: "{s["webhook_hmac"]}"
    - name: dead
      kind: webhook
      url: "http://127.0.0.1:1/{s["dead_url_token"]}?token={s["dead_url_token"]}"
      timeout: 1s
    - {{name: slack, kind: slack, url: "${{OW_SLACK_URL}}"}}
    - {{name: pd, kind: pagerduty, routing_key_file: ./pd.key, api_url: "{rx.base}/pd/enqueue"}}
    - name: tg
      kind: telegram
      bot_token: "${{OW_TG_BOT}}"
      chat_id: -1001234
      api_url: "{rx.base}/tg"
    - name: mail
      kind: email
      host: 127.0.0.1
      port: {smtp_port}
      username: soc
      password: "{s["smtp_password"]}"
      from: outwatch@example.org
      to: [soc@example.org]
"""
    )
    return path


def env() -> dict[str, str]:
    return {
        "OW_WEB_TOKEN": SECRETS["web_token"],
        "OW_SLACK_URL": f"http://127.0.0.1:{{port}}/slack/{SECRETS['slack_path']}",
        "OW_TG_BOT": SECRETS["telegram_bot_token"],
    }


class Client:
    """Talks to the daemon with the token or basic auth and keeps every body it got."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.bodies: list[str] = []
        self.bearer = {"Authorization": f"Bearer {SECRETS['web_token']}"}
        basic = base64.b64encode(f"soc:{SECRETS['basic_password']}".encode()).decode()
        self.basic = {"Authorization": f"Basic {basic}"}

    async def call(
        self, method: str, path: str, headers: dict[str, str] | None = None, **kw: Any
    ) -> tuple[int, str]:
        async with (
            aiohttp.ClientSession() as s,
            s.request(method, self.base + path, headers=headers, **kw) as r,
        ):
            text = await r.text()
            self.bodies.append(f"{method} {path} {r.status} {dict(r.headers)}\n{text}")
            return r.status, text


@pytest.mark.parametrize("log_format", ["text", "json"])
async def test_no_secret_in_anything_the_daemon_writes(
    tmp_path: Path,
    log_format: str,
    receivers: Receivers,
    mailbox: tuple[Mailbox, int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    box, smtp_port = mailbox
    for k, v in env().items():
        monkeypatch.setenv(k, v.replace("{port}", str(receivers.port)))
    target = Target(free_port())
    await target.start()
    port = free_port()
    path = write_config(tmp_path, port, target, receivers, smtp_port)
    daemon = DaemonProcess(path, port, tmp_path / "log")
    daemon.start("--log-format", log_format, "--log-level", "debug")
    api = Client(daemon.base)
    try:
        await wait_ready(daemon, api)
        await drive(daemon, api, target, receivers, box, path)
        running = files_of(tmp_path / "outwatch.db")  # the -wal and -shm exist only while it runs
        assert "outwatch.db-wal" in running
        assert daemon.stop() == 0
    finally:
        daemon.kill()
        await target.stop()

    outputs = {"log": daemon.log(), "api": "\n".join(api.bodies)}
    outputs.update(check_config(path))
    outputs.update({f"{k} (running)": v for k, v in running.items()})
    outputs.update(files_of(tmp_path / "outwatch.db"))
    leaks = {
        (name, where)
        for name, value in SECRETS.items()
        for where, text in outputs.items()
        if value in text
    }
    assert not leaks, f"secrets leaked: {sorted(leaks)}"
    assert set(outputs) >= {"log", "api", "outwatch.db", "check-config ok", "check-config bad"}

    # files it made are private; the Telegram source stayed offline and made no session file
    modes = {k: v for k, v in running.items() if k.endswith(" mode")}
    assert modes and all(m == "0o600" for m in modes.values()), modes
    tg = tmp_path / "tg"
    assert not tg.exists() or not any(tg.iterdir()), list(tg.iterdir())


def files_of(db: Path) -> dict[str, str]:
    """The database, its -wal and -shm: contents (as latin-1 text) and modes."""
    out = {}
    for f in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        if f.exists():
            out[f.name] = f.read_bytes().decode("latin-1")
            out[f"{f.name} mode"] = oct(f.stat().st_mode & 0o777)
    return out


async def wait_ready(daemon: DaemonProcess, api: Client) -> None:
    async def ready() -> bool:
        assert daemon.proc is not None
        if daemon.proc.poll() is not None:
            raise AssertionError(daemon.log())
        try:
            return (await api.call("GET", "/readyz"))[0] == 200
        except aiohttp.ClientError:
            return False

    await wait_for(ready, 20, "daemon not ready")


async def drive(
    daemon: DaemonProcess,
    api: Client,
    target: Target,
    rx: Receivers,
    box: Mailbox,
    path: Path,
) -> None:
    """Every kind of traffic: outage + alerts to every receiver, ingest, API, reloads, metrics."""
    assert (await api.call("GET", "/api/v1/services"))[0] == 401
    assert (await api.call("GET", "/api/v1/services", {"Authorization": "Bearer nope"}))[0] == 401
    notice = {
        "source": "cert",
        "id": "1",
        "published_at": "2026-01-01T00:00:00Z",
        "text": "DDoS-атака на ПриватБанк",
    }
    assert (await api.call("POST", "/api/v1/announcements", json=notice))[0] == 401
    bad_ingest = {"Authorization": "Bearer " + SECRETS["ingest_token"][:-1]}
    assert (await api.call("POST", "/api/v1/announcements", bad_ingest, json=notice))[0] == 401
    good_ingest = {"Authorization": f"Bearer {SECRETS['ingest_token']}"}
    status, body = await api.call("POST", "/api/v1/announcements", good_ingest, json=notice)
    assert status == 202, body
    assert (await api.call("POST", "/api/v1/announcements", good_ingest, data=b"{nope"))[0] == 400

    await target.stop()

    async def delivered() -> bool:
        await asyncio.sleep(0)
        return (
            all(rx.hits.get(k, 0) >= 2 for k in ("hook", "tg"))
            and rx.hits.get("slack", 0) >= 1
            and rx.hits.get("pd", 0) >= 1
            and bool(box.messages)
        )

    await wait_for(delivered, 15, f"not delivered to every receiver: {rx.hits}, {box.logins}")
    assert box.logins >= 1

    # a reload that fails on a secret-bearing field, through the endpoint and through SIGHUP
    good = path.read_text()
    path.write_text(good.replace(f'url: "{rx.base}/hook/', 'url: "ftp://127.0.0.1/hook/'))
    status, body = await api.call("POST", "/-/reload", api.bearer)
    assert status != 200, body
    assert daemon.proc is not None
    daemon.proc.send_signal(1)  # SIGHUP
    await asyncio.sleep(0.3)
    path.write_text(good)
    assert (await api.call("POST", "/-/reload", api.basic))[0] == 200

    for p in (
        "/api/v1/services",
        "/api/v1/outages",
        "/api/v1/incidents",
        "/api/v1/campaigns",
        "/api/v1/announcements",
        "/api/v1/alerts",
        "/api/v1/silences",
        "/",
        "/status",
        "/healthz",
    ):
        status, body = await api.call("GET", p, api.bearer)
        assert status == 200, (p, body)
    assert (await api.call("GET", "/metrics"))[0] == 401
    status, metrics = await api.call("GET", "/metrics", api.basic)
    assert status == 200 and "outwatch_store_up" in metrics
    await target.start()
    await asyncio.sleep(1.2)  # recovered, resolved notifications, and a store flush


def check_config(path: Path) -> dict[str, str]:
    """`outwatch check-config` on the good file and on one broken in a secret field."""
    run_env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = {}
    good = path.read_text()
    bad = good.replace('url: "http://127.0.0.1:1/', 'url: "gopher://127.0.0.1:1/')
    for name, text, want in (("check-config ok", good, 0), ("check-config bad", bad, 2)):
        path.write_text(text)
        proc = subprocess.run(
            [sys.executable, "-m", "monitor", "check-config", str(path)],
            capture_output=True,
            text=True,
            env=run_env,
            cwd=path.parent,
            timeout=60,
        )
        assert proc.returncode == want, proc.stdout + proc.stderr
        out[name] = proc.stdout + proc.stderr
    path.write_text(good)
    return out
