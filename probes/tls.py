"""TLS handshake probe: leaf expiry, hostname match, protocol version."""

from __future__ import annotations

from typing import Literal

from probes.base import CheckSpec, ProbeContext, ProbeKind, ProbeResult


class TlsCheck(CheckSpec):
    """Handshake with host:port using SNI."""

    kind: Literal["tls"] = "tls"
    target: str  # host:port
    server_name: str | None = None
    verify: bool = True
    min_version: Literal["TLSv1.2", "TLSv1.3"] | None = None

    def endpoint(self) -> str:
        return self.target


async def probe(check: TlsCheck, ctx: ProbeContext) -> ProbeResult:
    """Run one TLS check."""
    raise NotImplementedError


KIND = ProbeKind("tls", TlsCheck, probe)
