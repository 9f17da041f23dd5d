"""The probe caller: deadlines, durations, exception mapping, cancellation."""

from __future__ import annotations

import asyncio
import errno
import ssl
from typing import Any

import pytest

from monitor.runtime.runner import check_from_target, run_check
from probes.base import ProbeContext, ProbeFailure, ProbeKind, ProbeResult, phases
from probes.tcp import TcpCheck


def kind_raising(exc: BaseException | None, *, sleep: float = 0.0) -> ProbeKind:
    """A probe kind that walks two phases, then raises `exc` (or succeeds)."""

    async def probe(check: Any, ctx: ProbeContext) -> ProbeResult:
        timer = phases()
        timer.begin("connect")
        await asyncio.sleep(0)
        timer.begin("processing")
        await asyncio.sleep(sleep)
        if exc is not None:
            raise exc
        return ProbeResult(ok=True, detail="fine", phases=timer.end())

    return ProbeKind("fake", TcpCheck, probe)


def check(timeout: float = 0.2) -> Any:
    return check_from_target("127.0.0.1:9", timeout)


@pytest.mark.parametrize(
    ("exc", "error", "detail"),
    [
        (None, None, "fine"),
        (ProbeFailure("content", "body does not match 'x'"), "content", "body does not match 'x'"),
        (
            ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"),
            "refused",
            "connection refused",
        ),
        (ConnectionResetError(errno.ECONNRESET, "reset"), "reset", "connection reset by peer"),
        (
            OSError(errno.ENETUNREACH, "Network is unreachable"),
            "unreachable",
            "network unreachable",
        ),
        (OSError(errno.EACCES, "Permission denied"), "error", "permission denied"),
        (TimeoutError(errno.ETIMEDOUT, "Connection timed out"), "timeout", "connection timed out"),
        (ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number"), "tls", None),
        (ValueError("a bug"), "error", "ValueError: a bug"),
        (ProbeFailure("protocol", "x\x1b[31m\nevil" + "A" * 500), "protocol", None),
    ],
)
async def test_maps_exceptions(
    exc: BaseException | None, error: str | None, detail: str | None
) -> None:
    result = await run_check(check(), ProbeContext(), kind_raising(exc))
    assert result.ok is (exc is None)
    assert result.error == error
    if detail is not None:
        assert result.detail == detail
    assert "\n" not in result.detail and "\x1b" not in result.detail and len(result.detail) <= 200
    assert set(result.phases) == {"connect", "processing"}
    assert result.duration > 0


async def test_timeout_reports_phase_reached() -> None:
    loop = asyncio.get_running_loop()
    start = loop.time()
    result = await run_check(check(0.2), ProbeContext(), kind_raising(None, sleep=5))
    assert loop.time() - start < 0.4
    assert (result.ok, result.error) == (False, "timeout")
    assert result.detail == "no answer within 0.2s (during processing)"
    assert set(result.phases) == {"connect", "processing"}
    assert 0.15 < result.duration < 0.4


async def test_cancellation_is_not_swallowed() -> None:
    task = asyncio.create_task(run_check(check(5), ProbeContext(), kind_raising(None, sleep=5)))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_timeout_takes_its_cancel_back() -> None:
    result = await run_check(check(0.05), ProbeContext(), kind_raising(None, sleep=5))
    assert result.error == "timeout"
    task = asyncio.current_task()
    assert task is not None and task.cancelling() == 0  # the caller's task runs on unharmed
    await asyncio.sleep(0)


async def test_a_cancel_asked_after_the_deadline_still_escapes() -> None:
    """As with asyncio.timeout: a second cancel request while the deadline's is pending is
    the caller's, so the probe's end is a CancelledError, not a timeout result."""

    async def probe(check: Any, ctx: ProbeContext) -> ProbeResult:
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            assert task is not None
            task.cancel()  # someone else asks too (a shutdown arriving at the same moment)
            raise
        raise AssertionError("not reached")

    seen: list[str] = []

    async def caller() -> None:
        try:
            await run_check(check(0.05), ProbeContext(), ProbeKind("f", TcpCheck, probe))
            seen.append("result")
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise

    with pytest.raises(asyncio.CancelledError):
        await asyncio.create_task(caller())
    assert seen == ["cancelled"]


async def test_looks_up_the_registry() -> None:
    result = await run_check(check_from_target("127.0.0.1:1", 0.5), ProbeContext())
    assert result.error == "refused"


@pytest.mark.parametrize(
    ("text", "kind", "endpoint"),
    [
        ("https://privatbank.ua/", "http", "https://privatbank.ua/"),
        ("http://mil.gov.ua", "http", "http://mil.gov.ua"),
        ("privatbank.ua", "http", "https://privatbank.ua/"),
        ("tls://privatbank.ua", "tls", "privatbank.ua:443"),
        ("tls://privatbank.ua:8443", "tls", "privatbank.ua:8443"),
        ("dns:zsu.gov.ua", "dns", "zsu.gov.ua"),
        ("dns://zsu.gov.ua", "dns", "zsu.gov.ua"),
        ("smtp.example.org:25", "tcp", "smtp.example.org:25"),
        ("tcp://[::1]:53", "tcp", "[::1]:53"),
        ("icmp://mil.gov.ua", "icmp", "mil.gov.ua"),
        ("icmp:127.0.0.1", "icmp", "127.0.0.1"),
        ("icmp://::1", "icmp", "::1"),
    ],
)
def test_check_from_target(text: str, kind: str, endpoint: str) -> None:
    made = check_from_target(text, 3.0)
    assert (made.kind, made.endpoint(), made.timeout) == (kind, endpoint, 3.0)
    assert made.interval > made.timeout


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ftp://x", "unsupported scheme ftp://"),
        ("host:99999", "port must be a number"),
        ("https://", "no host name"),
        ("", "expected a URL"),
        ("a/b", "expected a URL"),
        ("dns:", "at least 1 character"),
        ("icmp://127.0.0.1:80", "without a port"),
    ],
)
def test_check_from_target_rejects(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        check_from_target(text, 3.0)
    assert "\n" not in str(info.value)
