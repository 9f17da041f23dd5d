"""Shared TLS helpers for probes: cached client contexts, the handshake, what the certificate says."""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
from dataclasses import dataclass
from typing import Literal

from cryptography import x509
from cryptography.x509.oid import NameOID

from probes.base import ProbeContext, ProbeFailure

TlsVersion = Literal["TLSv1.2", "TLSv1.3"]
_VERSIONS = {"TLSv1.2": ssl.TLSVersion.TLSv1_2, "TLSv1.3": ssl.TLSVersion.TLSv1_3}


def client_context(
    ctx: ProbeContext,
    *,
    verify: bool = True,
    ca_file: str | None = None,
    min_version: TlsVersion | None = None,
    alpn: tuple[str, ...] = (),
) -> ssl.SSLContext:
    """One client SSLContext per configuration, kept in ctx (loading CAs costs milliseconds)."""
    key = ("client", verify, ca_file, min_version, alpn)
    cached = ctx.ssl_contexts.get(key)
    if cached is not None:
        return cached
    if verify:
        context = ssl.create_default_context(cafile=ca_file)
    else:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if min_version:
        context.minimum_version = _VERSIONS[min_version]
    if alpn:
        context.set_alpn_protocols(list(alpn))
    ctx.ssl_contexts[key] = context
    return context


async def handshake(
    transport: asyncio.Transport,
    protocol: asyncio.Protocol,
    context: ssl.SSLContext,
    server_name: str,
) -> asyncio.Transport:
    """Upgrade a connected transport to TLS; failures become class `tls` with a readable detail."""
    loop = asyncio.get_running_loop()
    try:
        tls = await loop.start_tls(
            transport, protocol, context, server_hostname=server_name or None
        )
    except (ssl.SSLError, ssl.CertificateError) as exc:
        raise ProbeFailure("tls", describe_ssl_error(exc)) from None
    except ConnectionError:
        raise ProbeFailure("tls", "connection closed during the TLS handshake") from None
    if tls is None:  # the peer went away as the handshake finished
        raise ProbeFailure("tls", "connection closed during the TLS handshake")
    return tls


def describe_ssl_error(exc: BaseException) -> str:
    """A short human line for an SSL error ("certificate has expired", "wrong version number")."""
    if isinstance(exc, ssl.SSLCertVerificationError) and exc.verify_message:
        return exc.verify_message.rstrip(".").replace("Hostname mismatch, c", "c")
    if isinstance(exc, ssl.SSLEOFError | ssl.SSLZeroReturnError):
        return "connection closed during the TLS handshake"
    reason = getattr(exc, "reason", None)
    if isinstance(reason, str) and reason:
        return "TLS handshake failed: " + reason.lower().replace("_", " ")
    return f"TLS handshake failed: {exc}"


@dataclass(frozen=True, slots=True)
class CertInfo:
    """What a probe reports about the peer's leaf certificate."""

    not_after: float  # unix seconds
    subject: str
    issuer: str
    names: tuple[str, ...]  # DNS and IP subject alternative names


def peer_der(transport: asyncio.BaseTransport) -> bytes | None:
    """The peer's leaf certificate in DER, whether or not it was verified."""
    obj = transport.get_extra_info("ssl_object")
    return obj.getpeercert(binary_form=True) if obj is not None else None


def leaf_expiry(transport: asyncio.BaseTransport) -> float | None:
    """The leaf certificate's notAfter as unix seconds (the cheapest thing HTTPS needs)."""
    der = peer_der(transport)
    if not der:
        return None
    return x509.load_der_x509_certificate(der).not_valid_after_utc.timestamp()


def cert_info(der: bytes) -> CertInfo:
    """Parse the leaf certificate's expiry, subject, issuer and names."""
    cert = x509.load_der_x509_certificate(der)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = tuple(san.get_values_for_type(x509.DNSName)) + tuple(
            str(ip) for ip in san.get_values_for_type(x509.IPAddress)
        )
    except x509.ExtensionNotFound:
        names = ()
    return CertInfo(
        not_after=cert.not_valid_after_utc.timestamp(),
        subject=_common_name(cert.subject) or cert.subject.rfc4514_string(),
        issuer=_common_name(cert.issuer) or cert.issuer.rfc4514_string(),
        names=names,
    )


def _common_name(name: x509.Name) -> str:
    attrs = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(attrs[0].value) if attrs else ""


def hostname_matches(names: tuple[str, ...], host: str) -> bool:
    """RFC 6125 matching of a host against SAN entries (one leftmost `*` label at most)."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        ip = None
    if ip is not None:
        return any(_same_ip(n, ip) for n in names)
    host = host.rstrip(".").lower()
    for name in names:
        name = name.rstrip(".").lower()
        if name == host:
            return True
        if name.startswith("*.") and "." in host:
            first, rest = host.split(".", 1)
            if first and rest == name[2:]:
                return True
    return False


def _same_ip(name: str, ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    try:
        return ipaddress.ip_address(name) == ip
    except ValueError:
        return False
