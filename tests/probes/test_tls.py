"""TLS probe against loopback servers with trustme certificates."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from probes import tlsinfo
from tests.conftest import free_port
from tests.probes import servers
from tests.probes.servers import raw_server, run_probe, web_server


async def test_good_certificate(tmp_path: Path) -> None:
    certs = servers.Certs(tmp_path)
    async with web_server(certs.server_context("good")) as port:
        result, _ = await run_probe("tls", target=f"127.0.0.1:{port}", ca_file=certs.ca_file)
    assert result.ok, result
    assert set(result.phases) == {"resolve", "connect", "tls"}
    assert result.cert_expiry is not None and result.cert_expiry > time.time()
    assert result.extra["hostname_match"] is True
    assert result.extra["tls_version"] in ("TLSv1.2", "TLSv1.3")
    assert result.detail.startswith(str(result.extra["tls_version"]))


@pytest.mark.parametrize(
    ("kind", "detail"),
    [
        ("expired", "certificate has expired"),
        ("wrong-host", "IP address mismatch, certificate is not valid for '127.0.0.1'"),
        ("self-signed", "self-signed certificate"),
    ],
)
async def test_bad_certificates(tmp_path: Path, kind: str, detail: str) -> None:
    certs = servers.Certs(tmp_path)
    async with web_server(certs.server_context(kind)) as port:
        target = f"127.0.0.1:{port}"
        ca = None if kind == "self-signed" else certs.ca_file
        result, _ = await run_probe("tls", target=target, ca_file=ca)
        insecure, _ = await run_probe("tls", target=target, verify=False)
    assert (result.ok, result.error, result.detail) == (False, "tls", detail)
    assert insecure.ok and insecure.cert_expiry is not None
    if kind == "expired":
        assert insecure.cert_expiry < time.time()
        assert "expired" in insecure.detail
    if kind == "wrong-host":
        assert insecure.extra["hostname_match"] is False
        assert insecure.detail.endswith("not valid for 127.0.0.1")


async def test_server_name_is_sent_and_checked(tmp_path: Path) -> None:
    certs = servers.Certs(tmp_path)
    async with web_server(certs.server_context("wrong-host")) as port:
        result, _ = await run_probe(
            "tls", target=f"127.0.0.1:{port}", server_name="example.org", ca_file=certs.ca_file
        )
    assert result.ok, result


async def test_min_version_refused_by_old_server(tmp_path: Path) -> None:
    certs = servers.Certs(tmp_path)
    context = certs.server_context("good")
    context.maximum_version = tlsinfo.ssl.TLSVersion.TLSv1_2
    async with web_server(context) as port:
        result, _ = await run_probe(
            "tls", target=f"127.0.0.1:{port}", ca_file=certs.ca_file, min_version="TLSv1.3"
        )
    assert (result.ok, result.error) == (False, "tls")
    assert "TLS handshake" in result.detail  # an alert, or the server hanging up


@pytest.mark.parametrize(
    ("handler", "error", "detail"),
    [
        (servers.garbage, "tls", "TLS handshake failed: wrong version number"),
        (servers.close_at_once, "tls", "connection closed during the TLS handshake"),
        (servers.hang, "timeout", "no answer within 0.5s (during tls)"),
    ],
)
async def test_hostile(handler: servers.Handler, error: str, detail: str) -> None:
    async with raw_server(handler) as port:
        result, elapsed = await run_probe("tls", target=f"127.0.0.1:{port}")
    assert (result.error, result.detail) == (error, detail)
    assert elapsed < 0.8


async def test_refused() -> None:
    result, _ = await run_probe("tls", target=f"127.0.0.1:{free_port()}")
    assert result.error == "refused"


@pytest.mark.parametrize(
    ("names", "host", "ok"),
    [
        (("example.org",), "example.org", True),
        (("example.org",), "EXAMPLE.org.", True),
        (("*.example.org",), "www.example.org", True),
        (("*.example.org",), "a.b.example.org", False),
        (("*.example.org",), "example.org", False),
        (("127.0.0.1",), "127.0.0.1", True),
        (("example.org",), "127.0.0.1", False),
    ],
)
def test_hostname_matches(names: tuple[str, ...], host: str, ok: bool) -> None:
    assert tlsinfo.hostname_matches(names, host) is ok
