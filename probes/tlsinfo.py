"""Shared TLS helpers for probes: cached client contexts, the handshake, what the certificate says."""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from cryptography import x509
from cryptography.x509.oid import NameOID

from probes import families
from probes.base import Gauges, ProbeContext, ProbeFailure

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


_NO_BIO = ssl.MemoryBIO()  # a plain connection's stand-in (never written to)


class TlsProtocol(asyncio.Protocol):
    """A client protocol that can run TLS itself, over memory BIOs, on its own transport.

    Rather than loop.start_tls: one protocol and one transport per probe, no peer-certificate
    dict decoded per handshake (uvloop does that for its extra info), and the client's last
    flight can leave with the first request. Subclasses get the plaintext in `plain_received`;
    `finished` says the exchange needs no more bytes; `broken` is a TLS error after the
    handshake. The handshake itself verifies exactly as the context says.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.tls: ssl.SSLObject | None = None
        self.incoming = self.outgoing = _NO_BIO
        self.shaking: asyncio.Future[None] | None = None

    # -- for subclasses
    def plain_received(self, data: bytes) -> None:
        """Application bytes from the peer (plain TCP, or decrypted)."""

    def finished(self) -> bool:
        """Whether the exchange is over (later bytes are dropped)."""
        return False

    def broken(self) -> None:
        """A TLS error after the handshake (a corrupt record, an alert)."""

    # -- TLS
    async def handshake(self, context: ssl.SSLContext, server_name: str) -> None:
        """TLS over the connected transport; failures are class `tls` with a readable detail."""
        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = context.wrap_bio(
            self.incoming, self.outgoing, server_hostname=server_name or None
        )
        self.shaking = self.loop.create_future()
        self._shake()
        await self.shaking

    def _shake(self) -> None:
        assert self.tls is not None
        try:
            self.tls.do_handshake()
        except ssl.SSLWantReadError:
            self.flush()
            return
        except (ssl.SSLError, ssl.CertificateError) as exc:
            self.flush()  # the alert, so the server knows why
            self._shaken(ProbeFailure("tls", describe_ssl_error(exc)))
            return
        # done: the last flight (TLS 1.3's client Finished) waits in the BIO and leaves with
        # the first send, in one write instead of two
        self._shaken(None)
        self._decrypt(flush=False)  # anything that came with the server's last flight

    def _shaken(self, failure: ProbeFailure | None) -> None:
        if self.shaking is not None and not self.shaking.done():
            if failure is None:
                self.shaking.set_result(None)
            else:
                self.shaking.set_exception(failure)

    def _decrypt(self, flush: bool = True) -> None:
        tls = self.tls
        assert tls is not None
        while not self.finished():
            try:
                data = tls.read(16384)  # one TLS record at most
            except ssl.SSLWantReadError:
                break
            except ssl.SSLError:
                self.broken()
                break
            if not data:  # close_notify: the server's end of the stream
                self.eof_received()
                break
            self.plain_received(data)
            if not self.incoming.pending and not tls.pending():
                break  # all read: no need to have read() raise to say so
        if flush:
            self.flush()

    def flush(self) -> None:
        """Write what TLS has to say (handshake messages, records, alerts)."""
        out = self.outgoing.read()
        if out and self.transport is not None:
            self.transport.write(out)

    def send(self, data: bytes) -> None:
        """Send application bytes (through TLS once a handshake is done)."""
        if self.transport is None:
            return  # already lost: the subclass has heard why through connection_lost
        if self.tls is None:
            self.transport.write(data)
        else:
            self.tls.write(data)
            self.flush()

    def close(self) -> None:
        """Abort the connection; a handshake still waited for is cancelled."""
        if self.transport is not None:
            self.transport.abort()
        shaking = self.shaking
        if shaking is not None:
            if shaking.done() and not shaking.cancelled():
                shaking.exception()  # mark it retrieved: no "never retrieved" noise
            else:
                shaking.cancel()

    # -- transport callbacks
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self.finished():
            return
        if self.tls is None:
            self.plain_received(data)
            return
        self.incoming.write(data)
        if self.shaking is not None and not self.shaking.done():
            self._shake()
        else:
            self._decrypt()

    def eof_received(self) -> bool | None:
        self._handshake_cut()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self._handshake_cut()
        self.transport = None  # no protocol <-> transport cycle left for the GC to find

    def _handshake_cut(self) -> None:
        if self.shaking is not None and not self.shaking.done():
            self._shaken(ProbeFailure("tls", "connection closed during the TLS handshake"))


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


# What a certificate says never changes: parsed facts are kept by its DER bytes, so a fleet of
# probes re-reading the same few certificates parses each once (the handshake, which is what a
# probe must pay for each time, still verifies the chain every time).
_CERTS = 2048


@lru_cache(maxsize=_CERTS)
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


# -- the peer's chain, as blackbox_exporter reports it (prober/tls.go)

# Go's time.Time{}.Unix(): what blackbox reports as the last chain's expiry when nothing was
# verified (insecure_skip_verify); kept so the same query gives the same answer on both.
GO_ZERO_TIME = -62135596800.0
_TLS_NAMES = {"TLSv1": "TLS 1.0", "TLSv1.1": "TLS 1.1", "TLSv1.2": "TLS 1.2", "TLSv1.3": "TLS 1.3"}


@dataclass(frozen=True, slots=True)
class TlsState:
    """What a finished handshake tells: version, the chain the peer sent, the chain we verified."""

    version: str | None
    peer_chain: tuple[bytes, ...]  # DER, leaf first, as sent (unverified)
    verified_chain: tuple[bytes, ...]  # DER, leaf to trust anchor; empty when not verified

    @property
    def earliest_expiry(self) -> float | None:
        """The earliest notAfter among the certificates the peer sent (leaf and intermediates)."""
        return min(map(not_after, self.peer_chain), default=None)

    @property
    def last_chain_expiry(self) -> float:
        """The earliest notAfter in the verified chain (Go's zero time if none was verified)."""
        return min(map(not_after, self.verified_chain), default=GO_ZERO_TIME)


def state_of(obj: ssl.SSLObject | None) -> TlsState | None:
    """The TLS state of a finished handshake's SSLObject (None: no TLS)."""
    if obj is None:
        return None
    peer = _chain(obj, "get_unverified_chain")
    if not peer:  # no chain accessor: the leaf alone
        leaf = obj.getpeercert(binary_form=True)
        peer = (leaf,) if leaf else ()
    verified = _chain(obj, "get_verified_chain") if _verifies(obj.context) else ()
    return TlsState(obj.version(), peer, verified)


@lru_cache(maxsize=64)  # contexts are few and long-lived; reading the mode builds an enum
def _verifies(context: ssl.SSLContext) -> bool:
    return context.verify_mode != ssl.CERT_NONE


_ENCODING_DER = 2  # _ssl.ENCODING_DER, for the private Certificate objects of Python < 3.13


def _chain(obj: Any, method: str) -> tuple[bytes, ...]:
    """A chain in DER via SSLObject's public method (3.13) or the private one it wraps (3.10+)."""
    getter = getattr(obj, method, None) or getattr(getattr(obj, "_sslobj", None), method, None)
    if getter is None:
        return ()  # neither exists: the caller falls back to the leaf alone
    try:
        certs = getter() or []
    except (ssl.SSLError, ValueError):
        return ()
    return tuple(c if isinstance(c, bytes) else c.public_bytes(_ENCODING_DER) for c in certs)


@lru_cache(maxsize=_CERTS)
def not_after(der: bytes) -> float:
    """A certificate's notAfter, unix seconds."""
    return x509.load_der_x509_certificate(der).not_valid_after_utc.timestamp()


@lru_cache(maxsize=_CERTS)
def _leaf_labels(der: bytes) -> tuple[str, str, str, str]:
    """probe_ssl_last_chain_info's labels: fingerprint, subject, issuer, DNS names."""
    leaf = x509.load_der_x509_certificate(der)
    try:
        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        dns_names = ",".join(san.get_values_for_type(x509.DNSName))
    except x509.ExtensionNotFound:
        dns_names = ""
    return families.sha256_hex(der), go_name(leaf.subject), go_name(leaf.issuer), dns_names


def record(g: Gauges, state: TlsState) -> None:
    """Set the four TLS families blackbox reports for a finished handshake."""
    if not state.peer_chain:
        return
    g.set(families.SSL_EARLIEST_CERT_EXPIRY, state.earliest_expiry or GO_ZERO_TIME)
    g.set(families.TLS_VERSION_INFO, 1.0, _TLS_NAMES.get(state.version or "", "unknown"))
    g.set(families.SSL_LAST_CHAIN_EXPIRY, state.last_chain_expiry)
    g.set(families.SSL_LAST_CHAIN_INFO, 1.0, *_leaf_labels(state.peer_chain[0]))


# Go's pkix.Name.String(): the standard attributes in a fixed order (reversed on output), each
# kind as one multi-valued RDN, other attributes first (so last) as OID=#hex-DER.
_GO_ORDER = (
    (NameOID.COUNTRY_NAME, "C"),
    (NameOID.STATE_OR_PROVINCE_NAME, "ST"),
    (NameOID.LOCALITY_NAME, "L"),
    (NameOID.STREET_ADDRESS, "STREET"),
    (NameOID.POSTAL_CODE, "POSTALCODE"),
    (NameOID.ORGANIZATION_NAME, "O"),
    (NameOID.ORGANIZATIONAL_UNIT_NAME, "OU"),
    (NameOID.COMMON_NAME, "CN"),
    (NameOID.SERIAL_NUMBER, "SERIALNUMBER"),
)
_GO_KNOWN = {oid for oid, _ in _GO_ORDER}
_GO_SINGLE = {NameOID.COMMON_NAME, NameOID.SERIAL_NUMBER}  # Go keeps only the last one
_PRINTABLE = frozenset(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 '()+,-./:=?"
)


def go_name(name: x509.Name) -> str:
    """A distinguished name written as Go's pkix.Name.String() writes it (blackbox's labels)."""
    rdns: list[list[str]] = []
    for attr in name:
        if attr.oid not in _GO_KNOWN:
            rdns.append([f"{attr.oid.dotted_string}=#{_asn1_string(str(attr.value)).hex()}"])
    for oid, short in _GO_ORDER:
        values = [str(a.value) for a in name.get_attributes_for_oid(oid)]
        if oid in _GO_SINGLE:
            values = values[-1:]
        if values:
            rdns.append([f"{short}={_go_escape(v)}" for v in values])
    return ",".join("+".join(rdn) for rdn in reversed(rdns))


def _go_escape(value: str) -> str:
    out = []
    last = len(value) - 1
    for i, c in enumerate(value):
        if c in ',+"\\<>;' or (c == " " and i in (0, last)) or (c == "#" and i == 0):
            out.append("\\")
        out.append(c)
    return "".join(out)


def _asn1_string(value: str) -> bytes:
    """Go's asn1.Marshal of a string: PrintableString when it can be, else UTF8String."""
    data = value.encode()
    tag = 0x13 if all(b in _PRINTABLE for b in data) else 0x0C
    n = len(data)
    length = (
        bytes([n])
        if n < 128
        else bytes([0x80 | ((n.bit_length() + 7) // 8)])
        + n.to_bytes((n.bit_length() + 7) // 8, "big")
    )
    return bytes([tag]) + length + data
