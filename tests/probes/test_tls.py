"""TLS probe against loopback servers with trustme certificates."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from probes import tlsinfo
from probes.base import ProbeResult
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


def _gauges(result: ProbeResult) -> dict[str, tuple[tuple[str, ...], float]]:
    return {f.name: (labels, v) for f, labels, v in result.gauges()}


@pytest.mark.parametrize("kind", ["tls", "http"])
async def test_chain_expiry_is_the_intermediates(tmp_path: Path, kind: str) -> None:
    """An intermediate ending in 5 days under a 60-day leaf: the site breaks in 5, say 5."""
    certs = servers.Certs(tmp_path)
    now = time.time()
    async with web_server(certs.server_context("short-intermediate")) as port:
        if kind == "tls":
            fields: dict[str, object] = {"target": f"127.0.0.1:{port}"}
        else:
            fields = {"url": f"https://127.0.0.1:{port}/ok"}
        result, _ = await run_probe(kind, ca_file=certs.ca_file, **fields)
    assert result.ok, result
    assert result.cert_expiry is not None
    assert 4 < (result.cert_expiry - now) / 86400 <= 5
    g = _gauges(result)
    assert g["probe_ssl_earliest_cert_expiry"][1] == result.cert_expiry
    assert g["probe_ssl_last_chain_expiry_timestamp_seconds"][1] == result.cert_expiry
    (fingerprint, subject, issuer, names), _ = g["probe_ssl_last_chain_info"]
    assert len(fingerprint) == 64 and subject.startswith("OU=Testing cert #")
    assert issuer.startswith("OU=Testing CA #") and names == "localhost"
    assert g["probe_tls_version_info"][0] in (("TLS 1.2",), ("TLS 1.3",))
    if kind == "tls":
        assert "chain expires" in result.detail


async def test_unverified_chain_has_no_last_chain(tmp_path: Path) -> None:
    """verify: false still reads the chain the peer sent, but nothing was verified (Go's zero)."""
    certs = servers.Certs(tmp_path)
    async with web_server(certs.server_context("short-intermediate")) as port:
        result, _ = await run_probe("tls", target=f"127.0.0.1:{port}", verify=False)
    assert result.ok and result.cert_expiry is not None
    g = _gauges(result)
    assert g["probe_ssl_last_chain_expiry_timestamp_seconds"][1] == tlsinfo.GO_ZERO_TIME
    assert (result.cert_expiry - time.time()) / 86400 <= 5


def test_chain_without_the_private_api_falls_back_to_the_leaf() -> None:
    class Bare:
        pass

    assert tlsinfo._chain(Bare(), "get_verified_chain") == ()


@pytest.mark.parametrize(
    ("attrs", "text"),
    [
        ([("O", "trustme"), ("OU", "Testing")], "OU=Testing,O=trustme"),
        ([("CN", "a,b"), ("C", "UA"), ("O", " x")], "CN=a\\,b,O=\\ x,C=UA"),
        ([("OU", "b"), ("OU", "a")], "OU=b+OU=a"),
    ],
)
def test_go_name(attrs: list[tuple[str, str]], text: str) -> None:
    oids = {"O": NameOID.ORGANIZATION_NAME, "OU": NameOID.ORGANIZATIONAL_UNIT_NAME}
    oids |= {"CN": NameOID.COMMON_NAME, "C": NameOID.COUNTRY_NAME}
    name = x509.Name([x509.NameAttribute(oids[k], v) for k, v in attrs])
    assert tlsinfo.go_name(name) == text
