"""Shared network steps for probes: parse host:port, resolve, connect (each a timed phase)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from functools import lru_cache
from typing import Literal

from probes import families
from probes.base import Phases, ProbeFailure, gauges

IpVersion = Literal["auto", "4", "6"]
_FAMILY = {"auto": socket.AF_UNSPEC, "4": socket.AF_INET, "6": socket.AF_INET6}

Address = tuple[int, str]  # (family, ip)


def split_host_port(text: str, default_port: int | None = None) -> tuple[str, int]:
    """Split `host:port`, `[v6]:port` or (with a default port) a bare host; ValueError if bad."""
    text = text.strip()
    host, sep, port_text = text.rpartition(":")
    if text.startswith("[") and "]" in text:
        inner, _, rest = text[1:].partition("]")
        host, port_text = inner, rest[1:] if rest.startswith(":") else ""
        sep = ":" if port_text else ""
    elif not sep or ":" in host:  # no port, or a bare IPv6 address
        host, port_text = text, ""
    if not port_text:
        if default_port is None:
            raise ValueError(f"{text!r}: expected host:port")
        return _check_host(host, text), default_port
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"{text!r}: port must be a number from 1 to 65535")
    return _check_host(host, text), int(port_text)


def _check_host(host: str, text: str) -> str:
    if not host or any(c.isspace() or c in "/?#@[]" for c in host):
        raise ValueError(f"{text!r}: not a host name or address")
    return host


@lru_cache(maxsize=4096)  # checks repeat their hosts; parsing one costs more than the lookup
def literal_family(host: str) -> int | None:
    """The address family of an IP literal, or None for a name."""
    try:
        return socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
    except ValueError:
        return None


async def resolve(host: str, port: int, ip_version: IpVersion, timer: Phases) -> list[Address]:
    """Addresses to try, in order; the first is reported as the chosen one (probe_ip_protocol)."""
    g = gauges()
    first = not g.has(families.IP_PROTOCOL)  # blackbox resolves once; redirects add to phases only
    if first:
        families.start_address_choice(g)
    start = time.perf_counter()
    try:
        addresses = await _resolve(host, port, ip_version, timer)
    finally:
        if first:
            g.set(families.DNS_LOOKUP_TIME, time.perf_counter() - start)
    if first:
        chosen(*addresses[0])
    return addresses


def chosen(family: int, ip: str) -> None:
    """Report the address a probe uses: its IP version and hash."""
    families.address_chosen(gauges(), *_version_packed(ip))


@lru_cache(maxsize=4096)
def _version_packed(ip: str) -> tuple[int, bytes]:
    addr = ipaddress.ip_address(ip.partition("%")[0])
    return addr.version, addr.packed


async def _resolve(host: str, port: int, ip_version: IpVersion, timer: Phases) -> list[Address]:
    """Addresses to try, in order; an IP literal skips the resolver (and its thread hop)."""
    timer.begin("resolve")
    family = literal_family(host)
    if family is not None:
        if ip_version != "auto" and _FAMILY[ip_version] != family:
            raise ProbeFailure("dns", f"{host} is not an IPv{ip_version} address")
        return [(family, host)]
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(
            host, port, family=_FAMILY[ip_version], type=socket.SOCK_STREAM
        )
    except socket.gaierror as exc:
        raise ProbeFailure("dns", f"cannot resolve {host}: {exc.strerror or exc}") from None
    seen: dict[Address, None] = {}
    for fam, _, _, _, sockaddr in infos:
        seen.setdefault((int(fam), str(sockaddr[0])), None)
    if not seen:
        raise ProbeFailure("dns", f"no IPv{ip_version} address for {host}")
    return list(seen)


async def connect(
    protocol: asyncio.Protocol,
    addresses: list[Address],
    port: int,
    timer: Phases,
    loop: asyncio.AbstractEventLoop | None = None,
) -> asyncio.Transport:
    """Connect `protocol` to the first address that accepts; a refusal moves on to the next.

    A caller that has the running loop at hand passes it: each get_running_loop is a getpid
    system call (CPython checks the loop was not inherited across a fork)."""
    timer.begin("connect")
    loop = loop or asyncio.get_running_loop()
    last: OSError | None = None
    for n, (family, ip) in enumerate(addresses):
        try:
            transport, _ = await loop.create_connection(lambda: protocol, ip, port, family=family)
        except OSError as exc:
            last = exc
            continue
        if n:
            chosen(family, ip)  # a fallback address took over
        return transport
    assert last is not None
    raise last
