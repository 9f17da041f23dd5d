"""TCP probe against loopback servers."""

from __future__ import annotations

import pytest

from probes.tcp import TcpCheck
from tests.conftest import free_port
from tests.probes import servers
from tests.probes.servers import raw_server, run_probe


async def test_connect_only() -> None:
    async with raw_server(servers.hang) as port:
        result, _ = await run_probe("tcp", target=f"127.0.0.1:{port}")
    assert result.ok and result.detail == "connected"
    assert set(result.phases) == {"resolve", "connect"}


async def test_send_and_expect() -> None:
    async with raw_server(servers.banner) as port:
        result, _ = await run_probe(
            "tcp", target=f"127.0.0.1:{port}", send="EHLO outwatch\r\n", expect=r"250 EHLO"
        )
    assert result.ok, result
    assert set(result.phases) == {"resolve", "connect", "send", "expect"}


async def test_expect_mismatch_is_content() -> None:
    async with raw_server(servers.close_at_once) as port:
        result, _ = await run_probe("tcp", target=f"127.0.0.1:{port}", send="x", expect="^220")
    assert (result.error, result.detail) == ("content", "expected '^220', got ''")


async def test_expect_cap_on_endless_garbage() -> None:
    async with raw_server(servers.endless_body) as port:
        result, elapsed = await run_probe(
            "tcp", target=f"127.0.0.1:{port}", send="GET / HTTP/1.0\r\n\r\n", expect="^SSH-"
        )
    assert result.error == "content"
    assert elapsed < 0.5


async def test_silent_server_times_out() -> None:
    async with raw_server(servers.hang) as port:
        result, elapsed = await run_probe("tcp", target=f"127.0.0.1:{port}", expect="^220")
    assert (result.error, result.detail) == ("timeout", "no answer within 0.5s (during expect)")
    assert elapsed < 0.8


async def test_refused() -> None:
    result, _ = await run_probe("tcp", target=f"127.0.0.1:{free_port()}")
    assert (result.error, result.detail) == ("refused", "connection refused")


@pytest.mark.parametrize("target", ["nohost", "host:0", "host:x", "a b:80", ":80"])
def test_bad_target(target: str) -> None:
    with pytest.raises(ValueError):
        TcpCheck(target=target)


@pytest.mark.parametrize("target", ["example.org:25", "[::1]:53", "10.0.0.1:443"])
def test_good_target(target: str) -> None:
    assert TcpCheck(target=target).endpoint() == target
