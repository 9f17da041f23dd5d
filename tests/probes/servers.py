"""Hostile and friendly servers on 127.0.0.1 for probe tests (reusable from other test packages).

Each server is an async context manager yielding the port it listens on; leaving it closes
the listener and cancels every connection handler, so no task outlives a test.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import socket
import ssl
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
import trustme
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from monitor.config import CHECK_MODELS
from monitor.runtime.runner import run_check
from probes.base import ProbeContext, ProbeResult


async def run_probe(
    kind: str,
    *,
    timeout: float = 0.5,
    ctx: ProbeContext | None = None,
    **fields: object,
) -> tuple[ProbeResult, float]:
    """Run one check of `kind` through the real runner; returns the result and wall time."""
    check = CHECK_MODELS[kind].model_validate(
        {"kind": kind, "timeout": timeout, "interval": 60, **fields}
    )
    loop = asyncio.get_running_loop()
    start = loop.time()
    result = await run_check(check, ctx or ProbeContext())
    return result, loop.time() - start


def has_ipv6_loopback() -> bool:
    """Whether ::1 exists here (some containers have no IPv6 at all)."""
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@contextlib.asynccontextmanager
async def raw_server(
    handler: Handler, ssl_context: ssl.SSLContext | None = None
) -> AsyncIterator[int]:
    """A TCP server running `handler` per connection; yields its port."""
    tasks: set[asyncio.Task[None]] = set()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        try:
            await handler(reader, writer)
        except (ConnectionError, ssl.SSLError):
            pass
        finally:
            tasks.discard(task)
            writer.transport.abort()

    server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=ssl_context)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()


async def _read_head(reader: asyncio.StreamReader) -> None:
    with contextlib.suppress(asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        await reader.readuntil(b"\r\n\r\n")


# -- hostile HTTP handlers


async def _until_eof(reader: asyncio.StreamReader) -> None:
    while await reader.read(65536):
        pass


async def hang(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Accept, read, never answer (until the client gives up)."""
    await _until_eof(reader)


async def reset_mid_response(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Start a response, then reset the connection (RST, not FIN)."""
    await _read_head(reader)
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\npartial")
    await writer.drain()
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def close_mid_body(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Promise 1000 bytes, send 7, close cleanly."""
    await _read_head(reader)
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\npartial")
    await writer.drain()
    writer.close()


async def trickle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """One byte per second: a server that is technically answering."""
    await _read_head(reader)
    for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok":
        writer.write(bytes([byte]))
        await writer.drain()
        await asyncio.sleep(1)


async def endless_body(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A 200 whose body never ends (close-delimited), as fast as the socket takes it."""
    await _read_head(reader)
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n")
    chunk = b"x" * 65536
    while True:
        writer.write(chunk)
        await writer.drain()


async def endless_chunked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A chunked 200 whose chunks never end."""
    await _read_head(reader)
    writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunk = b"10000\r\n" + b"y" * 65536 + b"\r\n"
    while True:
        writer.write(chunk)
        await writer.drain()


async def huge_headers(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """1 MB of headers (and more, if the client keeps reading)."""
    await _read_head(reader)
    writer.write(b"HTTP/1.1 200 OK\r\n")
    line = b"X-Filler: " + b"a" * 1000 + b"\r\n"
    for _ in range(1024):
        writer.write(line)
        await writer.drain()
    writer.write(b"\r\n")
    await writer.drain()


async def huge_header_line(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """One header line that never ends."""
    await _read_head(reader)
    writer.write(b"HTTP/1.1 200 OK\r\nX-Long: ")
    while True:
        writer.write(b"b" * 65536)
        await writer.drain()


async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Bytes that are not HTTP (or TLS) at all."""
    await asyncio.sleep(0.01)
    writer.write(b"\x00\xff garbage \x01\x02\x03 SSH-2.0-nope\r\n" * 20)
    await writer.drain()
    await _until_eof(reader)


async def close_at_once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Read what the client sends (a request, a ClientHello), then close without a word."""
    await reader.read(1024)
    writer.close()


async def banner(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """An SMTP-like banner, then echo one line."""
    writer.write(b"220 mail.example ESMTP ready\r\n")
    await writer.drain()
    line = await reader.readline()
    writer.write(b"250 " + line)
    await writer.drain()
    await _until_eof(reader)


# -- friendly HTTP (aiohttp) with the usual routes

LAST_MODIFIED = "Tue, 15 Feb 2022 14:00:00 GMT"  # what /modified says


def web_app() -> web.Application:
    """Routes: /ok, /status/{code}, /redirect-loop, /redirect/{n}, /echo, /modified."""

    async def ok(request: web.Request) -> web.Response:
        return web.Response(text="all systems operational")

    async def status(request: web.Request) -> web.Response:
        return web.Response(status=int(request.match_info["code"]), text="maintenance")

    async def loop(request: web.Request) -> web.Response:
        raise web.HTTPFound("/redirect-loop")

    async def redirect(request: web.Request) -> web.Response:
        n = int(request.match_info["n"])
        raise web.HTTPFound(f"/redirect/{n - 1}" if n > 1 else "/ok")

    async def modified(request: web.Request) -> web.Response:
        return web.Response(text="notice", headers={"Last-Modified": LAST_MODIFIED})

    async def echo(request: web.Request) -> web.Response:
        body = await request.text()
        return web.json_response(
            {"method": request.method, "body": body, "headers": dict(request.headers)}
        )

    app = web.Application()
    app.router.add_get("/ok", ok)
    app.router.add_route("*", "/status/{code}", status)
    app.router.add_get("/redirect-loop", loop)
    app.router.add_get("/redirect/{n}", redirect)
    app.router.add_route("*", "/echo", echo)
    app.router.add_get("/modified", modified)
    return app


@contextlib.asynccontextmanager
async def web_server(ssl_context: ssl.SSLContext | None = None) -> AsyncIterator[int]:
    """The aiohttp app on 127.0.0.1; yields its port."""
    runner = web.AppRunner(web_app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
    await site.start()
    try:
        assert site._server is not None
        yield site._server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
    finally:
        await runner.cleanup()


# -- certificates


class Certs:
    """A trustme CA and server contexts for good, expired, wrong-host and self-signed certs."""

    def __init__(self, tmp: Path) -> None:
        self.ca = trustme.CA()
        self.ca_file = str(tmp / "ca.pem")
        self.ca.cert_pem.write_to_path(self.ca_file)

    def server_context(self, kind: str = "good") -> ssl.SSLContext:
        """A server SSLContext presenting the kind of certificate asked for."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        now = dt.datetime.now(dt.UTC)
        if kind == "good":
            self.ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
        elif kind == "expired":
            cert = self.ca.issue_cert(
                "127.0.0.1",
                not_before=now - dt.timedelta(days=30),
                not_after=now - dt.timedelta(days=1),
            )
            cert.configure_cert(context)
        elif kind == "wrong-host":
            self.ca.issue_cert("example.org").configure_cert(context)
        elif kind == "short-intermediate":
            # the leaf is good for 60 days, but the intermediate that signed it ends in 5
            inter = short_lived_child(self.ca, now + dt.timedelta(days=5))
            inter.issue_cert(
                "127.0.0.1", "localhost", not_after=now + dt.timedelta(days=60)
            ).configure_cert(context)
        elif kind == "self-signed":
            other = trustme.CA()  # its own root presented as the server certificate
            with other.cert_pem.tempfile() as cert, other.private_key_pem.tempfile() as key:
                context.load_cert_chain(cert, key)
        else:
            raise ValueError(kind)
        return context


def short_lived_child(ca: trustme.CA, not_after: dt.datetime) -> trustme.CA:
    """An intermediate CA of `ca` whose certificate ends at `not_after`.

    trustme has no option for it, so its certificate is signed again with the new end date
    (same key, subject and extensions).
    """
    child = ca.create_child_ca()
    old: x509.Certificate = child._certificate
    builder = (
        x509.CertificateBuilder()
        .subject_name(old.subject)
        .issuer_name(old.issuer)
        .public_key(old.public_key())
        .serial_number(old.serial_number)
        .not_valid_before(old.not_valid_before_utc)
        .not_valid_after(not_after)
    )
    for ext in old.extensions:
        builder = builder.add_extension(ext.value, critical=ext.critical)
    child._certificate = builder.sign(ca._private_key, hashes.SHA256())
    return child


# -- DNS


class _DnsProtocol(asyncio.DatagramProtocol):
    def __init__(self, records: dict[tuple[str, str], list[str]], silent: bool) -> None:
        self.records = records
        self.silent = silent
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if self.silent or self.transport is None:
            return
        query = dns.message.from_wire(data)
        question = query.question[0]
        name = question.name.to_text()
        rdtype = dns.rdatatype.to_text(question.rdtype)
        response = dns.message.make_response(query)
        answers = self.records.get((name, rdtype))
        known = any(n == name for n, _ in self.records)
        if answers:
            response.answer.append(
                dns.rrset.from_text_list(question.name, 60, "IN", rdtype, answers)
            )
        elif not known:
            response.set_rcode(dns.rcode.NXDOMAIN)
        self.transport.sendto(response.to_wire(), addr)


@contextlib.asynccontextmanager
async def dns_server(
    records: dict[tuple[str, str], list[str]] | None = None, *, silent: bool = False
) -> AsyncIterator[int]:
    """A UDP DNS server answering from {("name.", "A"): ["1.2.3.4"]}; NXDOMAIN for other names."""
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: _DnsProtocol(records or {}, silent), local_addr=("127.0.0.1", 0)
    )
    try:
        yield transport.get_extra_info("sockname")[1]
    finally:
        transport.close()
