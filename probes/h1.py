"""A minimal HTTP/1.1 client for probes: one request per connection, bounded reads, httptools parsing.

Why not aiohttp's client: a probe needs one request on a fresh connection, per-phase timings
and hard caps on what a hostile server can make us read, at a fraction of the CPU.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass
from urllib.parse import SplitResult, quote, urlsplit

import httptools

from probes import families, net, tlsinfo
from probes.base import Phases, ProbeFailure, gauges

MAX_HEADER_BYTES = 64 * 1024  # generous for real sites; a flood of headers is a protocol error
_SLICE = 8 * 1024  # before the headers end, feed in slices so the header count stays exact
_PATH_SAFE = "/%:@!$&'()*+,;=~-._?"
USER_AGENT = "outwatch-probe/0.1"


@dataclass(slots=True)
class Response:
    """What one exchange produced."""

    status: int = 0
    reason: str = ""
    location: str | None = None
    body: bytearray | None = None
    body_bytes: int = 0
    truncated: bool = False
    tls: tlsinfo.TlsState | None = None
    http_version: float = 0.0  # 1.1, 1.0 (probe_http_version)
    content_length: int = -1  # the Content-Length header; -1 when the body is not framed by it
    last_modified: str | None = None


@dataclass(frozen=True, slots=True)
class Target:
    """Where one request goes and its bytes (a check's first hop is computed once and kept)."""

    host: str
    port: int
    tls: bool
    request: bytes


def target(url: str, method: str, headers: dict[str, str], body: bytes | None) -> Target:
    """The Target of a request to an http(s) URL (ValueError if the URL has a bad port)."""
    parts = urlsplit(url)
    tls = parts.scheme == "https"
    port = parts.port or (443 if tls else 80)
    return Target(parts.hostname or "", port, tls, build_request(parts, method, headers, body))


def build_request(
    url: SplitResult, method: str, headers: dict[str, str], body: bytes | None
) -> bytes:
    """The request bytes; configured headers replace the defaults of the same name."""
    host = url.hostname or ""
    host_header = f"[{host}]" if ":" in host else host.encode("idna").decode("ascii")
    if url.port is not None:
        host_header += f":{url.port}"
    target = quote(url.path or "/", safe=_PATH_SAFE)
    if url.query:
        target += "?" + quote(url.query, safe=_PATH_SAFE)
    fields = {
        "host": ("Host", host_header),
        "user-agent": ("User-Agent", USER_AGENT),
        "accept": ("Accept", "*/*"),
    }
    for name, value in headers.items():
        fields[name.lower()] = (name, value)
    fields["connection"] = ("Connection", "close")  # one request per connection, always
    if body is not None:
        fields["content-length"] = ("Content-Length", str(len(body)))
    head = f"{method} {target} HTTP/1.1\r\n" + "".join(f"{n}: {v}\r\n" for n, v in fields.values())
    return head.encode("latin-1", "replace") + b"\r\n" + (body or b"")


_IDLE_PARSER = httptools.HttpResponseParser(object())  # no callbacks; never fed


class _Exchange(tlsinfo.TlsProtocol):
    """Reads one response into a Response, with caps on headers and body."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        timer: Phases,
        max_body: int,
        keep_body: bool,
        head: bool,
    ) -> None:
        super().__init__(loop)
        self.timer = timer
        self.max_body = max_body
        self.head = head
        self.resp = Response(body=bytearray() if keep_body else None)
        self.parser = httptools.HttpResponseParser(self)
        self.done: asyncio.Future[Response] = loop.create_future()
        self.started = False
        self.headers_done = False
        self.header_bytes = 0
        self.framed = False  # Content-Length or chunked: EOF before the end is a cut response
        self.chunked = False

    # -- httptools callbacks
    def on_status(self, status: bytes) -> None:
        self.resp.reason = status[:100].decode("latin-1")

    def on_header(self, name: bytes, value: bytes) -> None:
        lname = name.lower()
        if lname == b"location":
            self.resp.location = value.decode("latin-1")
        elif lname == b"content-length":
            self.framed = True
            text = value.strip()
            self.resp.content_length = int(text) if text.isdigit() and len(text) < 19 else -1
        elif lname == b"transfer-encoding" and b"chunked" in value.lower():
            self.framed = True
            self.chunked = True
        elif lname == b"last-modified":
            self.resp.last_modified = value[:100].decode("latin-1")

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        if 100 <= status < 200 and status != 101:
            return  # an interim answer; the real one follows
        self.headers_done = True
        resp = self.resp
        resp.status = status
        resp.http_version = float(self.parser.get_http_version() or 0)
        # what Go's http.Response.ContentLength says: chunked is unknown (-1), no body is 0
        if self.chunked:
            resp.content_length = -1
        elif status in (204, 304) and resp.content_length < 0:
            resp.content_length = 0
        if self.head:  # the parser cannot know a HEAD answer has no body
            self._finish()

    def on_body(self, chunk: bytes) -> None:
        if self.done.done():
            return  # cut at max_body already; the rest of this read is not ours to keep
        resp = self.resp
        room = self.max_body - resp.body_bytes
        if resp.body is not None:
            resp.body += chunk[:room]
        resp.body_bytes += min(len(chunk), room)
        if len(chunk) > room:
            resp.truncated = True
            self._finish()

    def on_message_complete(self) -> None:
        if self.headers_done:
            self._finish()

    def release(self) -> None:
        """Drop the parser, whose callbacks point back here: the exchange's objects then go by
        reference counting when the probe ends instead of waiting for a GC pass."""
        self.parser = _IDLE_PARSER

    # -- TlsProtocol hooks
    def finished(self) -> bool:
        return self.done.done()

    def broken(self) -> None:
        self._fail(_cut(self.headers_done))

    def plain_received(self, data: bytes) -> None:
        """Response bytes as they come, before the headers end in slices (exact header count)."""
        if not self.started:
            self.started = True
            self.timer.begin("transfer")
        try:
            if not self.headers_done and len(data) <= _SLICE:
                # the usual case: the whole head (often the whole answer) in one small read
                self.header_bytes += len(data)
                if self.header_bytes > MAX_HEADER_BYTES:
                    raise ProbeFailure("protocol", "response headers larger than 64 KiB")
                self.parser.feed_data(data)
                return
            while not self.headers_done and data:
                piece, data = data[:_SLICE], data[_SLICE:]
                self.header_bytes += len(piece)
                if self.header_bytes > MAX_HEADER_BYTES:
                    raise ProbeFailure("protocol", "response headers larger than 64 KiB")
                self.parser.feed_data(piece)
            if data and not self.done.done():
                self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(ProbeFailure("protocol", f"not an HTTP response: {_parser_reason(exc)}"))
        except ProbeFailure as exc:
            self._fail(exc)

    def eof_received(self) -> bool | None:
        super().eof_received()
        if self.done.done():
            return None
        if self.headers_done and not self.framed:
            self._finish()  # a body delimited by the connection closing
        else:
            self._fail(_cut(self.headers_done))
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        if self.done.done():
            return  # the usual end: we closed it after the answer
        if self.headers_done and not self.framed and exc is None:
            self._finish()
        elif isinstance(exc, ConnectionError):
            self._fail(exc)
        else:
            self._fail(_cut(self.headers_done))

    def _finish(self) -> None:
        if not self.done.done():
            self.done.set_result(self.resp)

    def _fail(self, exc: Exception) -> None:
        if not self.done.done():
            self.done.set_exception(exc)


def _cut(headers_done: bool) -> ProbeFailure:
    where = "in the middle of the body" if headers_done else "before a complete response"
    return ProbeFailure("reset", f"connection closed {where}")


def _parser_reason(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return text[:80]


async def exchange(
    target: Target,
    *,
    timer: Phases,
    ssl_context: ssl.SSLContext | None,
    ip_version: net.IpVersion,
    max_body: int,
    keep_body: bool,
    head: bool,
) -> Response:
    """Resolve, connect, (TLS), send the request and read one response; always closes the socket."""
    addresses = await net.resolve(target.host, target.port, ip_version, timer)
    gauges().phases(families.HTTP_DURATION, families.HTTP_PHASES)  # blackbox: all, once resolved
    loop = asyncio.get_running_loop()
    proto = _Exchange(loop, timer, max_body, keep_body, head)
    await net.connect(
        proto, addresses, target.port, timer, loop
    )  # the protocol keeps its transport
    try:
        if ssl_context is not None:
            timer.begin("tls")
            await proto.handshake(ssl_context, target.host)
            proto.resp.tls = tlsinfo.state_of(proto.tls)
        timer.begin("processing")
        proto.send(target.request)
        return await proto.done
    finally:
        proto.close()
        proto.release()
        if proto.done.done() and not proto.done.cancelled():
            proto.done.exception()  # mark it retrieved: no "never retrieved" noise
        else:
            proto.done.cancel()
