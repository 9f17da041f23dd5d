"""Receivers that fail in hostile ways must not put their secrets in logs, the db or output.

Every receiver kind is driven through the dispatcher against loopback servers that fail the way
real ones do (a redirect loop on a URL with `?token=`, an invalid port, a closed port behind
`user:password@`, a 500 that echoes the request's URL, headers and body, an SMTP server echoing
the password); then the text and JSON logs, every row of the database, `outwatch alerts test`
and `outwatch check-config` output are searched for each known secret value.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from monitor.logs import JsonFormatter, TextFormatter
from monitor.store.db import Store
from tests.alerts.conftest import DispatcherFactory, alert, until
from tests.conftest import free_port

SECRETS = {
    "loop_token": "sEcr3t-loop-a1b2c3",
    "badport_token": "sEcr3t-badport-d4e5f6",
    "echo_token": "sEcr3t-echo-0a9b8c",
    "auth_header": "sEcr3t-bearer-77aa11",
    "hmac": "sEcr3t-hmac-5c5c5c",
    "am_password": "sEcr3t-ampw-313131",
    "slack_path": "sEcr3t-slack-B0B0B0",
    "bot_token": "424242:sEcr3t-bot-AAE999",
    "pd_key": "sEcr3t-pdkey-e1e1e1",
    "smtp_password": "sEcr3t-smtppw-c0ffee",
    "ftp_password": "sEcr3t-ftppw-facade",
}
ROOT = Path(__file__).resolve().parents[2]


async def _loop(request: web.Request) -> web.Response:
    raise web.HTTPFound(request.path_qs)  # redirects to itself, forever


async def _echo(request: web.Request) -> web.Response:
    # a careless receiver: the error page repeats the request, credentials and all
    body = await request.text()
    headers = "\n".join(f"{k}: {v}" for k, v in request.headers.items())
    return web.Response(status=500, text=f"failed {request.path_qs}\n{headers}\n{body}")


@pytest.fixture
async def hostile() -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_route("*", "/loop", _loop)
    app.router.add_route("*", "/echo/{tail:.*}", _echo)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


class EchoingMailServer:
    """Refuses every login, quoting the password back (as a few broken servers do)."""

    def authenticate(
        self, server: Any, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        password = data.password.decode() if isinstance(data, LoginPassword) else ""
        return AuthResult(
            success=False, handled=False, message=f"535 5.7.8 bad password {password}"
        )

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        return "250 OK"


@pytest.fixture
def smtp_port() -> Iterator[int]:
    port = free_port()
    handler = EchoingMailServer()
    ctl = Controller(
        handler,
        hostname="127.0.0.1",
        port=port,
        authenticator=handler.authenticate,
        auth_require_tls=False,
    )
    ctl.start()
    yield port
    ctl.stop()


def receivers(base: str, smtp_port: int) -> list[dict[str, Any]]:
    s = SECRETS
    closed = free_port()
    return [
        {"name": "loop", "kind": "webhook", "url": f"{base}/loop?token={s['loop_token']}"},
        {
            "name": "echo",
            "kind": "webhook",
            "url": f"{base}/echo/hook?token={s['echo_token']}",
            "secret": s["hmac"],
            "headers": {"Authorization": f"Bearer {s['auth_header']}"},
        },
        {
            "name": "am",
            "kind": "alertmanager",
            "url": f"http://soc:{s['am_password']}@127.0.0.1:{closed}",
        },
        {"name": "slack", "kind": "slack", "url": f"{base}/echo/services/T0/{s['slack_path']}"},
        {
            "name": "tg",
            "kind": "telegram",
            "bot_token": s["bot_token"],
            "chat_id": 1,
            "api_url": f"{base}/echo",
        },
        {
            "name": "pd",
            "kind": "pagerduty",
            "routing_key": s["pd_key"],
            "api_url": f"{base}/echo/pd",
        },
        {
            "name": "mail",
            "kind": "email",
            "host": "127.0.0.1",
            "port": smtp_port,
            "username": "soc",
            "password": s["smtp_password"],
            "from": "outwatch@example.org",
            "to": ["soc@example.org"],
        },
    ]


def alerts_config(base: str, smtp_port: int) -> dict[str, Any]:
    rx = receivers(base, smtp_port)
    return {
        "route": {
            "receiver": rx[0]["name"],
            "group_wait": "0s",
            "routes": [{"receiver": r["name"], "continue": True} for r in rx],
        },
        "receivers": rx,
        "delivery": {"initial_backoff": "50ms", "max_backoff": "100ms"},
    }


def leaks(text: str) -> list[str]:
    """The names of the secrets found in `text`."""
    return [name for name, value in SECRETS.items() if value in text]


def dump_db(path: Path) -> str:
    with sqlite3.connect(path) as db:
        return "\n".join(db.iterdump())


async def _cli(*args: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "monitor",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=env,
        cwd=ROOT,
    )
    async with asyncio.timeout(60):
        out, _ = await proc.communicate()
    return out.decode(errors="replace")


async def test_receiver_secrets_never_leave_the_process(
    hostile: str,
    smtp_port: int,
    make_dispatcher: DispatcherFactory,
    store: Store,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    cfg = alerts_config(hostile, smtp_port)
    names = [r["name"] for r in cfg["receivers"]]
    d = await make_dispatcher(cfg)
    await d.update([alert(service="privatbank")])

    def failed(name: str) -> int:
        return sum(n for (r, _), n in d.stats.failed.items() if r == name)

    # every receiver failed, the retrying ones more than once (their retries log and store too)
    await until(lambda: all(failed(n) >= (1 if n == "mail" else 2) for n in names), 20)
    await d.stop()
    errors = store.run_sync(
        lambda db: [r["last_error"] for r in db.query("SELECT * FROM alert_outbox")]
    )
    assert all(errors), errors  # each failure left its (redacted) reason
    echoed = [e for e in errors if e.startswith(("HTTP 500", "SMTP 535"))]
    assert len(echoed) == 5 and all("<redacted>" in e for e in echoed), errors

    text, json_ = TextFormatter(), JsonFormatter()
    ours = [r for r in caplog.records if not r.name.startswith("mail.")]  # not the SMTP server's
    logged = "\n".join(f"{text.format(r)}\n{json_.format(r)}" for r in ours)
    assert "alertmanager" in logged and "notify echo" in logged
    found = {"log": leaks(logged), "db": leaks(dump_db(Path(store.path)))}

    config_file = tmp_path / "config.yaml"
    config_file.write_text(yaml.safe_dump({"vantage": "t-1", "services": [], "alerts": cfg}))
    outputs = await asyncio.gather(
        *(_cli("alerts", "test", "-c", str(config_file), n) for n in names)
    )
    for name, out in zip(names, outputs, strict=True):
        assert f"{name} (" in out and "failed" in out, out
        found[f"alerts test {name}"] = leaks(out)

    bad = yaml.safe_load(config_file.read_text())
    am = next(r for r in bad["alerts"]["receivers"] if r["name"] == "am")
    am["url"] = f"ftp://soc:{SECRETS['ftp_password']}@host"
    # a port that cannot be is refused by check-config (issue 15), without echoing the token
    bad["alerts"]["receivers"].append(
        {
            "name": "badport",
            "kind": "webhook",
            "url": f"http://127.0.0.1:99999/h?token={SECRETS['badport_token']}",
        }
    )
    bad_file = tmp_path / "bad.yaml"
    bad_file.write_text(yaml.safe_dump(bad))
    out = await _cli("check-config", str(bad_file))
    assert "is not an http(s):// URL" in out, out
    found["check-config"] = leaks(out)
    assert found == {k: [] for k in found}
