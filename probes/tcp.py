"""TCP connect probe, with optional send/expect."""

from __future__ import annotations

import asyncio
import re
from typing import Literal

from pydantic import Field, field_validator

from probes import families, net
from probes.base import (
    CheckSpec,
    ProbeContext,
    ProbeFailure,
    ProbeKind,
    ProbeResult,
    gauges,
    phases,
)

MAX_EXPECT_BYTES = 64 * 1024  # how much we read looking for `expect` before giving up


class TcpCheck(CheckSpec):
    """Connect to host:port; optionally send a line and expect a pattern back."""

    kind: Literal["tcp"] = "tcp"
    target: str  # host:port
    send: str | None = None
    expect: str | None = None  # regex the first bytes must match
    ip_version: Literal["auto", "4", "6"] = "auto"
    max_read_bytes: int = Field(default=MAX_EXPECT_BYTES, ge=1, le=1 << 20)

    @field_validator("target")
    @classmethod
    def _host_port(cls, value: str) -> str:
        net.split_host_port(value)
        return value

    @field_validator("expect")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"bad regular expression: {exc}") from None
        return value

    def endpoint(self) -> str:
        return self.target


class _Reader(asyncio.Protocol):
    """Collects what the peer sends until `pattern` matches, the cap is hit or the peer closes."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, pattern: re.Pattern[str] | None, cap: int
    ) -> None:
        self.pattern = pattern
        self.cap = cap
        self.data = bytearray()
        self.done: asyncio.Future[bool] = loop.create_future()

    def data_received(self, data: bytes) -> None:
        if self.done.done() or self.pattern is None:
            return
        self.data += data[: self.cap - len(self.data)]
        if self.pattern.search(self.data.decode("utf-8", "replace")):
            self.done.set_result(True)
        elif len(self.data) >= self.cap:
            self.done.set_result(False)

    def eof_received(self) -> bool | None:
        if not self.done.done():
            self.done.set_result(False)
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            if isinstance(exc, ConnectionError):
                self.done.set_exception(exc)
            else:
                self.done.set_result(False)


async def probe(check: TcpCheck, ctx: ProbeContext) -> ProbeResult:
    """Run one TCP check."""
    timer = phases()
    g = gauges()
    g.set(families.FAILED_DUE_TO_REGEX, 0.0)
    host, port = net.split_host_port(check.target)
    addresses = await net.resolve(host, port, check.ip_version, timer)
    pattern = re.compile(check.expect) if check.expect else None
    loop = asyncio.get_running_loop()
    reader = _Reader(loop, pattern, check.max_read_bytes)
    transport = await net.connect(reader, addresses, port, timer, loop)
    try:
        if check.send is not None:
            timer.begin("send")
            transport.write(check.send.encode())
        if pattern is not None:
            timer.begin("expect")
            if not await reader.done:
                g.set(families.FAILED_DUE_TO_REGEX, 1.0)
                got = bytes(reader.data[:60]).decode("utf-8", "replace")
                raise ProbeFailure(
                    "content", f"expected {check.expect!r}, got {got!r}", phases=timer.end()
                )
    finally:
        transport.abort()
        if reader.done.done() and not reader.done.cancelled():
            reader.done.exception()
        else:
            reader.done.cancel()
    return ProbeResult(ok=True, detail="connected", phases=timer.end())


KIND = ProbeKind("tcp", TcpCheck, probe)
