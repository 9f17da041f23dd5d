"""HTTP probe against real loopback servers, friendly and hostile."""

from __future__ import annotations

from pathlib import Path

import pytest

from probes.http import HttpCheck, status_ranges
from tests.conftest import free_port
from tests.probes import servers
from tests.probes.servers import raw_server, run_probe, web_server

TIMEOUT = 0.5
MARGIN = 0.3


async def test_ok_with_phases() -> None:
    async with web_server() as port:
        result, _ = await run_probe("http", url=f"http://127.0.0.1:{port}/ok")
    assert result.ok and result.error is None
    assert result.status_code == 200
    assert result.detail == "HTTP 200 OK"
    assert set(result.phases) == {"resolve", "connect", "processing", "transfer"}
    assert result.duration >= sum(result.phases.values()) * 0.99
    assert result.cert_expiry is None


async def test_503_is_http_status() -> None:
    async with web_server() as port:
        result, _ = await run_probe("http", url=f"http://127.0.0.1:{port}/status/503")
    assert (result.ok, result.error, result.status_code) == (False, "http_status", 503)
    assert result.detail == "HTTP 503 Service Unavailable"


@pytest.mark.parametrize(
    ("status", "expect", "ok"),
    [
        (503, "500-599", True),
        (204, [200, "204-206"], True),
        (301, "200,302", False),
        (599, "200-399", False),
    ],
)
async def test_expected_status(status: int, expect: object, ok: bool) -> None:
    async with web_server() as port:
        result, _ = await run_probe(
            "http",
            url=f"http://127.0.0.1:{port}/status/{status}",
            expect={"status": expect},
            max_redirects=0,
        )
    assert result.ok is ok, result


@pytest.mark.parametrize(
    ("spec", "ranges"),
    [
        ("200-399", ((200, 399),)),
        ("200, 301", ((200, 200), (301, 301))),
        ([200, "300-302"], ((200, 200), (300, 302))),
    ],
)
def test_status_ranges(spec: str | list[int | str], ranges: tuple[tuple[int, int], ...]) -> None:
    assert status_ranges(spec) == ranges


@pytest.mark.parametrize("spec", ["abc", "399-200", "700", "", [200, "x"]])
def test_bad_status_spec_is_a_config_error(spec: object) -> None:
    with pytest.raises(ValueError, match="status"):
        HttpCheck.model_validate({"url": "http://x/", "expect": {"status": spec}})


@pytest.mark.parametrize(
    "fields",
    [
        {"url": "ftp://x/"},
        {"url": "http:///nohost"},
        {"url": "http://x:99999/"},
        {"url": "http://x/", "headers": {"X-A": "a\r\nInjected: 1"}},
        {"url": "http://x/", "expect": {"body_match": "("}},
    ],
)
def test_bad_settings_are_rejected(fields: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        HttpCheck.model_validate(fields)


@pytest.mark.parametrize(
    ("expect", "ok", "detail"),
    [
        ({"body_match": "operational"}, True, "HTTP 200 OK"),
        ({"body_match": "^maintenance"}, False, "body does not match '^maintenance'"),
        ({"body_not_match": "operational"}, False, "body matches 'operational'"),
    ],
)
async def test_body_expectations(expect: dict[str, str], ok: bool, detail: str) -> None:
    async with web_server() as port:
        result, _ = await run_probe("http", url=f"http://127.0.0.1:{port}/ok", expect=expect)
    assert (result.ok, result.detail) == (ok, detail)
    assert result.error == (None if ok else "content")


async def test_method_headers_body_are_sent() -> None:
    async with web_server() as port:
        result, _ = await run_probe(
            "http",
            url=f"http://127.0.0.1:{port}/echo",
            method="POST",
            headers={"X-Probe": "outwatch", "User-Agent": "custom"},
            body="ping",
            expect={"body_match": '"method": "POST"'},
        )
    assert result.ok, result


async def test_follows_redirects() -> None:
    async with web_server() as port:
        result, _ = await run_probe("http", url=f"http://127.0.0.1:{port}/redirect/3")
        too_many, _ = await run_probe(
            "http", url=f"http://127.0.0.1:{port}/redirect/3", max_redirects=2
        )
        not_followed, _ = await run_probe(
            "http", url=f"http://127.0.0.1:{port}/redirect/3", max_redirects=0
        )
    assert result.ok and result.status_code == 200 and result.extra["redirects"] == 3
    assert (too_many.ok, too_many.error) == (False, "redirect")
    assert too_many.detail == "more than 2 redirects"
    assert not_followed.ok and not_followed.status_code == 302


async def test_redirect_loop() -> None:
    async with web_server() as port:
        result, elapsed = await run_probe("http", url=f"http://127.0.0.1:{port}/redirect-loop")
    assert (result.ok, result.error) == (False, "redirect")
    assert "loop" in result.detail
    assert elapsed < TIMEOUT


async def test_refused() -> None:
    result, elapsed = await run_probe("http", url=f"http://127.0.0.1:{free_port()}/")
    assert (result.error, result.detail) == ("refused", "connection refused")
    assert "connect" in result.phases
    assert elapsed < TIMEOUT


async def test_unresolvable_name_is_dns() -> None:
    result, _ = await run_probe("http", url="http://no-such-host.invalid/", timeout=2)
    assert result.error in ("dns", "timeout")  # .invalid never resolves; a slow resolver times out


# -- hostile servers: each ends within its timeout with the right class

HOSTILE = [
    (servers.hang, "timeout", "no answer within 0.5s (during processing)"),
    (servers.trickle, "timeout", "no answer within 0.5s (during transfer)"),
    (servers.reset_mid_response, "reset", "connection reset by peer"),
    (servers.close_mid_body, "reset", "connection closed in the middle of the body"),
    (servers.close_at_once, "reset", "connection closed before a complete response"),
    (servers.huge_headers, "protocol", "response headers larger than 64 KiB"),
    (servers.huge_header_line, "protocol", "response headers larger than 64 KiB"),
    (servers.garbage, "protocol", None),
]


@pytest.mark.parametrize(
    ("handler", "error", "detail"), HOSTILE, ids=lambda v: getattr(v, "__name__", None)
)
async def test_hostile_http(handler: servers.Handler, error: str, detail: str | None) -> None:
    async with raw_server(handler) as port:
        result, elapsed = await run_probe("http", url=f"http://127.0.0.1:{port}/", timeout=TIMEOUT)
    assert (result.ok, result.error) == (False, error), result
    if detail:
        assert result.detail == detail
    assert elapsed < TIMEOUT + MARGIN


@pytest.mark.parametrize("handler", [servers.endless_body, servers.endless_chunked])
async def test_endless_body_is_cut(handler: servers.Handler) -> None:
    async with raw_server(handler) as port:
        result, elapsed = await run_probe(
            "http",
            url=f"http://127.0.0.1:{port}/",
            max_body_bytes=100_000,
            expect={"body_not_match": "z"},
        )
    assert result.ok, result
    assert result.extra["body_truncated"] is True
    assert result.extra["body_bytes"] == 100_000
    assert elapsed < TIMEOUT


async def test_https_ok_reports_certificate_expiry(tmp_path: Path) -> None:
    certs = servers.Certs(tmp_path)
    async with web_server(certs.server_context("good")) as port:
        result, _ = await run_probe(
            "http", url=f"https://127.0.0.1:{port}/ok", ca_file=certs.ca_file
        )
    assert result.ok, result
    assert set(result.phases) == {"resolve", "connect", "tls", "processing", "transfer"}
    assert result.cert_expiry is not None and result.cert_expiry > 0
    assert result.extra["tls_version"] in ("TLSv1.2", "TLSv1.3")


@pytest.mark.parametrize(
    ("kind", "detail"),
    [
        ("expired", "certificate has expired"),
        ("wrong-host", "IP address mismatch, certificate is not valid for '127.0.0.1'"),
        ("self-signed", "self-signed certificate"),
    ],
)
async def test_https_bad_certificates(tmp_path: Path, kind: str, detail: str) -> None:
    certs = servers.Certs(tmp_path)
    async with web_server(certs.server_context(kind)) as port:
        url = f"https://127.0.0.1:{port}/ok"
        ca = None if kind == "self-signed" else certs.ca_file
        result, elapsed = await run_probe("http", url=url, ca_file=ca)
        insecure, _ = await run_probe("http", url=url, verify_tls=False)
    assert (result.ok, result.error, result.detail) == (False, "tls", detail)
    assert "tls" in result.phases
    assert elapsed < TIMEOUT
    assert insecure.ok and insecure.cert_expiry is not None


@pytest.mark.parametrize(
    ("handler", "detail"),
    [
        (servers.garbage, "TLS handshake failed: wrong version number"),
        (servers.close_at_once, "connection closed during the TLS handshake"),
        (servers.hang, "no answer within 0.5s (during tls)"),
    ],
)
async def test_hostile_https(handler: servers.Handler, detail: str) -> None:
    async with raw_server(handler) as port:
        result, elapsed = await run_probe("http", url=f"https://127.0.0.1:{port}/")
    assert result.error == ("timeout" if handler is servers.hang else "tls"), result
    assert result.detail == detail
    assert elapsed < TIMEOUT + MARGIN


@pytest.mark.parametrize(
    ("handler", "error", "detail"), HOSTILE, ids=lambda v: getattr(v, "__name__", None)
)
async def test_hostile_http_behind_tls(
    tmp_path: Path, handler: servers.Handler, error: str, detail: str | None
) -> None:
    """The same hostile answers after a good handshake: TLS must not change what they become."""
    certs = servers.Certs(tmp_path)
    async with raw_server(handler, certs.server_context("good")) as port:
        result, elapsed = await run_probe(
            "http", url=f"https://127.0.0.1:{port}/", ca_file=certs.ca_file, timeout=TIMEOUT
        )
    assert (result.ok, result.error) == (False, error), result
    assert detail is None or result.detail == detail
    assert "tls" in result.phases
    assert elapsed < TIMEOUT + MARGIN


@pytest.mark.parametrize("tls", [False, True])
async def test_body_ended_by_close(tmp_path: Path, tls: bool) -> None:
    """No Content-Length, no chunks: the server closing (close_notify over TLS) ends the body."""

    async def unframed(reader: object, writer: servers.asyncio.StreamWriter) -> None:
        await servers._read_head(reader)  # type: ignore[arg-type]
        writer.write(b"HTTP/1.1 200 OK\r\n\r\n" + b"u" * 40_000)
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    certs = servers.Certs(tmp_path)
    context = certs.server_context("good") if tls else None
    async with raw_server(unframed, context) as port:  # type: ignore[arg-type]
        result, _ = await run_probe(
            "http",
            url=f"{'https' if tls else 'http'}://127.0.0.1:{port}/",
            ca_file=certs.ca_file,
            expect={"body_match": "u{40000}"},
        )
    assert result.ok, result
    assert result.extra["body_bytes"] == 40_000


@pytest.mark.parametrize("handler", [servers.endless_body, servers.endless_chunked])
async def test_endless_body_behind_tls_is_cut(tmp_path: Path, handler: servers.Handler) -> None:
    certs = servers.Certs(tmp_path)
    async with raw_server(handler, certs.server_context("good")) as port:
        result, elapsed = await run_probe(
            "http",
            url=f"https://127.0.0.1:{port}/",
            ca_file=certs.ca_file,
            max_body_bytes=100_000,
            expect={"body_not_match": "z"},
        )
    assert result.ok, result
    assert (result.extra["body_truncated"], result.extra["body_bytes"]) == (True, 100_000)
    assert elapsed < TIMEOUT


async def test_hostile_reason_phrase_is_cleaned() -> None:
    async def evil(reader: object, writer: servers.asyncio.StreamWriter) -> None:
        await servers._read_head(reader)  # type: ignore[arg-type]
        writer.write(
            b"HTTP/1.1 799 \x1b[31mOWNED\x1b[0m " + b"A" * 500 + b"\r\nContent-Length: 0\r\n\r\n"
        )
        await writer.drain()

    async with raw_server(evil) as port:  # type: ignore[arg-type]
        result, _ = await run_probe("http", url=f"http://127.0.0.1:{port}/")
    assert (result.error, result.status_code) == ("http_status", 799)
    assert "\x1b" not in result.detail and len(result.detail) <= 200
    print(result.detail)


async def test_echo_sees_connection_close() -> None:
    async with web_server() as port:
        result, _ = await run_probe(
            "http", url=f"http://127.0.0.1:{port}/echo", expect={"body_match": "close"}
        )
    assert result.ok, result  # the echoed request headers include Connection: close


async def test_head_request_has_no_body() -> None:
    async with web_server() as port:
        result, elapsed = await run_probe("http", url=f"http://127.0.0.1:{port}/ok", method="HEAD")
    assert result.ok and result.status_code == 200 and result.extra["body_bytes"] == 0
    assert elapsed < TIMEOUT


async def test_ip_version_mismatch_with_literal() -> None:
    result, _ = await run_probe("http", url="http://127.0.0.1:1/", ip_version="6")
    assert (result.error, result.detail) == ("dns", "127.0.0.1 is not an IPv6 address")
