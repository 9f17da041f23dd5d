"""ICMP echo probe (icmplib): unprivileged datagram ICMP where the kernel allows it, raw otherwise.

Tells a network-level outage (no echo reply) from an application-level one (echo, but HTTP fails).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import itertools
import random
import socket
import struct
from typing import Literal

from icmplib import ICMPRequest, ICMPv4Socket, ICMPv6Socket
from icmplib.exceptions import ICMPSocketError, SocketPermissionError
from icmplib.sockets import ICMPSocket
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

_SOCKETS: dict[int, type[ICMPSocket]] = {
    socket.AF_INET: ICMPv4Socket,
    socket.AF_INET6: ICMPv6Socket,
}
_ECHO_REPLY: dict[int, int] = {socket.AF_INET: 0, socket.AF_INET6: 129}
# Ask the kernel for the reply's TTL / hop limit (IP_RECVTTL is 12 on Linux, absent in `socket`)
_RECV_HOPS: dict[int, tuple[int, int]] = {
    socket.AF_INET: (socket.IPPROTO_IP, getattr(socket, "IP_RECVTTL", 12)),
    socket.AF_INET6: (socket.IPPROTO_IPV6, socket.IPV6_RECVHOPLIMIT),
}
_HOP_CMSG = {(socket.IPPROTO_IP, socket.IP_TTL), (socket.IPPROTO_IPV6, socket.IPV6_HOPLIMIT)}
_SEQUENCE = itertools.count(random.getrandbits(16))  # one sequence per process, like blackbox
DENIED = (
    "ICMP is not permitted for this process: unprivileged ICMP is off "
    "(sysctl net.ipv4.ping_group_range does not include its group) and raw sockets need "
    "CAP_NET_RAW"
)


class IcmpCheck(CheckSpec):
    """Send one echo request to a host and wait for its reply."""

    kind: Literal["icmp"] = "icmp"
    target: str  # host name or address, no port
    ip_version: Literal["auto", "4", "6"] = "auto"
    payload_size: int = Field(default=56, ge=0, le=1400)
    ttl: int = Field(default=64, ge=1, le=255)

    @field_validator("target")
    @classmethod
    def _host(cls, value: str) -> str:
        host, port = net.split_host_port(value, 0)
        if port:
            raise ValueError(f"{value!r}: an ICMP target is a host name or address, without a port")
        return host

    def endpoint(self) -> str:
        return self.target


def _open(family: int) -> ICMPSocket:
    """A datagram ICMP socket if the kernel lets us have one, else a raw one, else `permission`."""
    kind = _SOCKETS[family]
    for privileged in (False, True):
        try:
            return kind(privileged=privileged)
        except SocketPermissionError:
            continue
        except ICMPSocketError as exc:
            raise ProbeFailure("error", f"cannot open an ICMP socket: {exc}") from None
    raise ProbeFailure("permission", DENIED)


async def probe(check: IcmpCheck, ctx: ProbeContext) -> ProbeResult:
    """Run one ICMP check."""
    timer = phases()
    g = gauges()
    g.phases(families.ICMP_DURATION, families.ICMP_PHASES)
    family, ip = (await net.resolve(check.target, 0, check.ip_version, timer))[0]
    timer.begin("setup")
    sock = _open(family)
    try:
        sock.blocking = False
        with contextlib.suppress(OSError):  # no hop limit then, as blackbox does without it
            sock.sock.setsockopt(*_RECV_HOPS[family], 1)
        request = ICMPRequest(
            ip,
            id=random.getrandbits(16),  # replaced by the kernel on datagram sockets
            sequence=next(_SEQUENCE) & 0xFFFF,
            payload_size=check.payload_size,
            ttl=check.ttl,
        )
        timer.begin("rtt")
        _send(sock, request)
        hops = await _reply(sock, request, family)
    finally:
        sock.close()
    timings = timer.end()
    detail = f"echo reply from {ip} in {timings.get('rtt', 0.0) * 1000:.1f} ms"
    if hops is not None:
        g.set(families.ICMP_HOP_LIMIT, hops)
        detail += f", ttl {hops}"
    extra = {"address": ip, "hop_limit": hops, "privileged": sock.is_privileged}
    return ProbeResult(ok=True, detail=detail, phases=timings, extra=extra)


def _send(sock: ICMPSocket, request: ICMPRequest) -> None:
    try:
        sock.send(request)
    except ICMPSocketError as exc:
        # icmplib keeps only the message; the OSError it wraps says unreachable, refused...
        cause = exc.__context__
        if isinstance(cause, OSError):
            raise cause from None
        raise ProbeFailure("error", f"cannot send the echo request: {exc}") from None


async def _reply(sock: ICMPSocket, request: ICMPRequest, family: int) -> int | None:
    """Wait for the echo reply to `request`; its TTL or hop limit if the kernel told it."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[int | None] = loop.create_future()
    raw = sock.sock
    peer = ipaddress.ip_address(request.destination.partition("%")[0])
    raw_v4 = sock.is_privileged and family == socket.AF_INET  # these come with their IP header

    def readable() -> None:
        while not done.done():
            try:
                data, ancillary, _, addr = raw.recvmsg(65535, 256)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return  # an ICMP error queued on the socket; blackbox reads on too
            if ipaddress.ip_address(str(addr[0]).partition("%")[0]) != peer:
                continue  # a raw socket sees every ICMP packet of the host
            hops = _hop_limit(ancillary)
            if raw_v4 and len(data) >= 20:
                hops = data[8] if hops is None else hops
                data = data[(data[0] & 0x0F) * 4 :]
            if _is_reply(data, request, _ECHO_REPLY[family]):
                done.set_result(hops)

    loop.add_reader(raw.fileno(), readable)
    try:
        return await done
    finally:
        loop.remove_reader(raw.fileno())


def _is_reply(icmp: bytes, request: ICMPRequest, reply_type: int) -> bool:
    if len(icmp) < 8 or icmp[0] != reply_type:
        return False
    ident, sequence = struct.unpack("!HH", icmp[4:8])
    return (ident, sequence) == (request.id, request.sequence)


def _hop_limit(ancillary: list[tuple[int, int, bytes]]) -> int | None:
    for level, kind, data in ancillary:
        if (level, kind) in _HOP_CMSG and len(data) >= 4:
            return int(struct.unpack("@i", data[:4])[0])
    return None


KIND = ProbeKind("icmp", IcmpCheck, probe)
