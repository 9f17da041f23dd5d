"""TLS handshake probe: leaf expiry, hostname match, protocol version."""

from __future__ import annotations

import asyncio
import time
from typing import Literal

from pydantic import field_validator

from probes import families, net, tlsinfo
from probes.base import (
    CheckSpec,
    ProbeContext,
    ProbeFailure,
    ProbeKind,
    ProbeResult,
    gauges,
    phases,
)


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
    g = gauges()
    g.set(families.FAILED_DUE_TO_REGEX, 0.0)  # blackbox's tcp prober (tls: true) always has it
    host, port = net.split_host_port(check.target, 443)
    server_name = check.server_name or host
    context = tlsinfo.client_context(
        ctx, verify=check.verify, ca_file=check.ca_file, min_version=check.min_version
    )
    addresses = await net.resolve(host, port, check.ip_version, timer)
    proto = tlsinfo.TlsProtocol(asyncio.get_running_loop())
    try:
        await net.connect(proto, addresses, port, timer)
        timer.begin("tls")
        await proto.handshake(context, server_name)
        state = tlsinfo.state_of(proto.tls)
        cipher = proto.tls.cipher() if proto.tls is not None else None
    finally:
        proto.close()
    timings = timer.end()
    if state is None or not state.peer_chain:
        raise ProbeFailure("tls", "the server sent no certificate", phases=timings)
    tlsinfo.record(g, state)
    version = state.version
    cert = tlsinfo.cert_info(state.peer_chain[0])
    matches = tlsinfo.hostname_matches(cert.names, server_name)
    days = (cert.not_after - time.time()) / 86400
    extra: dict[str, object] = {
        "tls_version": version,
        "cipher": cipher[0] if cipher else None,
        "subject": cert.subject,
        "issuer": cert.issuer,
        "hostname_match": matches,
    }
    expiry = time.strftime("%Y-%m-%d", time.gmtime(cert.not_after))
    detail = f"{version}, certificate for {cert.subject} expires {expiry} ({days:.0f} days)"
    earliest = state.earliest_expiry or cert.not_after
    if earliest < cert.not_after:  # an intermediate ends first: that is when the site breaks
        extra["chain_expiry"] = earliest
        first = time.strftime("%Y-%m-%d", time.gmtime(earliest))
        detail += f", chain expires {first} ({(earliest - time.time()) / 86400:.0f} days)"
    if not check.verify and days < 0:
        detail = f"{version}, certificate expired {expiry}"
    if not check.verify and not matches:
        detail += f", not valid for {server_name}"
    return ProbeResult(ok=True, detail=detail, phases=timings, cert_expiry=earliest, extra=extra)


KIND = ProbeKind("tls", TlsCheck, probe)
