"""TLS handshake probe: leaf expiry, hostname match, protocol version."""

from __future__ import annotations

import asyncio
import time
from typing import Literal

from pydantic import field_validator

from probes import net, tlsinfo
from probes.base import CheckSpec, ProbeContext, ProbeFailure, ProbeKind, ProbeResult, phases


class TlsCheck(CheckSpec):
    """Handshake with host:port using SNI."""

    kind: Literal["tls"] = "tls"
    target: str  # host:port
    server_name: str | None = None
    verify: bool = True
    min_version: Literal["TLSv1.2", "TLSv1.3"] | None = None
    ca_file: str | None = None  # trust these CAs instead of the system's
    ip_version: Literal["auto", "4", "6"] = "auto"

    @field_validator("target")
    @classmethod
    def _host_port(cls, value: str) -> str:
        net.split_host_port(value, 443)
        return value

    def endpoint(self) -> str:
        return self.target


async def probe(check: TlsCheck, ctx: ProbeContext) -> ProbeResult:
    """Run one TLS check."""
    timer = phases()
    host, port = net.split_host_port(check.target, 443)
    server_name = check.server_name or host
    context = tlsinfo.client_context(
        ctx, verify=check.verify, ca_file=check.ca_file, min_version=check.min_version
    )
    addresses = await net.resolve(host, port, check.ip_version, timer)
    transport = await net.connect(asyncio.Protocol(), addresses, port, timer)
    try:
        timer.begin("tls")
        transport = await tlsinfo.handshake(transport, asyncio.Protocol(), context, server_name)
        obj = transport.get_extra_info("ssl_object")
        version = obj.version() if obj is not None else None
        cipher = transport.get_extra_info("cipher")
        der = tlsinfo.peer_der(transport)
    finally:
        transport.abort()
    timings = timer.end()
    if not der:
        raise ProbeFailure("tls", "the server sent no certificate", phases=timings)
    cert = tlsinfo.cert_info(der)
    matches = tlsinfo.hostname_matches(cert.names, server_name)
    days = (cert.not_after - time.time()) / 86400
    extra = {
        "tls_version": version,
        "cipher": cipher[0] if cipher else None,
        "subject": cert.subject,
        "issuer": cert.issuer,
        "hostname_match": matches,
    }
    expiry = time.strftime("%Y-%m-%d", time.gmtime(cert.not_after))
    detail = f"{version}, certificate for {cert.subject} expires {expiry} ({days:.0f} days)"
    if not check.verify and days < 0:
        detail = f"{version}, certificate expired {expiry}"
    if not check.verify and not matches:
        detail += f", not valid for {server_name}"
    return ProbeResult(
        ok=True, detail=detail, phases=timings, cert_expiry=cert.not_after, extra=extra
    )


KIND = ProbeKind("tls", TlsCheck, probe)
