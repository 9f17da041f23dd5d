"""The caller of probes: deadline, duration, and every failure turned into a ProbeResult."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
import time
from typing import Any
from urllib.parse import urlsplit

from pydantic import ValidationError

from monitor.config import CHECK_MODELS
from probes import tlsinfo
from probes.base import (
    ProbeContext,
    ProbeFailure,
    ProbeKind,
    ProbeResult,
    enter_scope,
    error_class,
    leave_scope,
)
from probes.registry import KINDS

log = logging.getLogger("outwatch.runner")

_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f]+")
_DETAIL_MAX = 200
_DESCRIBE = {
    "refused": "connection refused",
    "reset": "connection reset by peer",
    "unreachable": "network unreachable",
    "dns": "name did not resolve",
}


class _Deadline:
    """What `asyncio.timeout` does for one probe, minus its async context manager: a timer that
    cancels the task, and on leaving, that cancel taken back with `uncancel`.

    The same rules as asyncio.Timeout (its __aenter__/__aexit__ and _on_timeout): only a
    CancelledError that this deadline caused, with no other cancel asked for since it was set,
    becomes a timeout; any other cancellation goes on. It costs one timer, without the two
    coroutines, the state enum and the three get_running_loop calls (each a getpid system
    call) that the context manager spends per probe.
    """

    __slots__ = ("cancelling", "expired", "handle", "task")

    def __init__(self, delay: float) -> None:
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("run_check must run in a task")
        loop = task.get_loop()
        self.task = task
        self.cancelling = task.cancelling()
        self.expired = False
        self.handle = loop.call_at(loop.time() + delay, self._expire)

    def _expire(self) -> None:
        self.task.cancel()
        self.expired = True

    def leave(self) -> bool:
        """Stop the timer; True if it fired and its cancel was the only one (it is taken back)."""
        self.handle.cancel()
        return self.expired and self.task.uncancel() <= self.cancelling


async def run_check(check: Any, ctx: ProbeContext, kind: ProbeKind | None = None) -> ProbeResult:
    """Run one check within its timeout; only CancelledError ever escapes."""
    kind = kind or KINDS[check.kind]
    start = time.perf_counter()
    # phase_scope's work without its generator: this runs for every probe
    timer, tokens = enter_scope()
    ours = False
    try:
        try:
            deadline = _Deadline(check.timeout)
            try:
                result = await kind.probe(check, ctx)
            finally:
                ours = deadline.leave()
        except asyncio.CancelledError as exc:
            if not (ours and type(exc) is asyncio.CancelledError):
                raise  # the caller's cancellation (shutdown, reload): never swallowed
            result = _timed_out(check, TimeoutError(), timer.current, timer.end())
        except ProbeFailure as failure:
            result = failure.result()
            if not result.phases:
                result = dataclasses.replace(result, phases=timer.end())
        except TimeoutError as exc:
            result = _timed_out(check, exc, timer.current, timer.end())
        except Exception as exc:  # a probe must never take the caller down
            result = _failed(check, exc, timer.end())
    finally:
        leave_scope(tokens)
    return _finished(result, time.perf_counter() - start)


def _finished(r: ProbeResult, duration: float) -> ProbeResult:
    """`r` with its duration and a clean detail (one constructor call: dataclasses.replace
    walks the fields by name, which cost more than the rest of the runner)."""
    return ProbeResult(
        r.ok, r.error, _clean(r.detail), duration, r.phases, r.status_code, r.cert_expiry,
        r.extra, r.carried,
    )  # fmt: skip


def _timed_out(
    check: Any, exc: TimeoutError, phase: str | None, phases: dict[str, float]
) -> ProbeResult:
    if exc.args and exc.errno is not None:  # the OS gave up (ETIMEDOUT), not our deadline
        return ProbeResult(
            ok=False, error="timeout", detail=str(exc.strerror).lower(), phases=phases
        )
    where = f" (during {phase})" if phase else ""
    detail = f"no answer within {check.timeout:g}s{where}"
    return ProbeResult(ok=False, error="timeout", detail=detail, phases=phases)


def _failed(check: Any, exc: Exception, phases: dict[str, float]) -> ProbeResult:
    error = error_class(exc)
    if error == "error":
        log.debug("probe %s failed unexpectedly", getattr(check, "id", check), exc_info=True)
    return ProbeResult(ok=False, error=error, detail=_describe(error, exc), phases=phases)


def _describe(error: str, exc: Exception) -> str:
    if error == "tls":
        return tlsinfo.describe_ssl_error(exc)
    if error in _DESCRIBE:
        return _DESCRIBE[error]
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return f"{type(exc).__name__}: {exc}"


def _clean(detail: str) -> str:
    """Details may quote a hostile peer: one short printable line."""
    if len(detail) <= _DETAIL_MAX and detail.isascii() and detail.isprintable():
        return detail  # the usual "200 OK": nothing to clean
    detail = _UNPRINTABLE.sub(" ", detail)
    return detail if len(detail) <= _DETAIL_MAX else detail[: _DETAIL_MAX - 1] + "…"


def check_from_target(text: str, timeout: float) -> Any:
    """An ad-hoc check from what a person types; ValueError with one line if it makes no sense.

    https://host/path and http://… → http; tls://host[:port] → tls; dns:name or dns://name → dns;
    icmp://host or icmp:host → icmp; tcp://host:port or host:port → tcp; a bare host name →
    https://host/.
    """
    text = text.strip()
    scheme = text.split(":", 1)[0].lower() if ":" in text else ""
    fields: dict[str, Any]
    if scheme in ("http", "https"):
        fields = {"kind": "http", "url": text}
    elif scheme == "tls":
        fields = {"kind": "tls", "target": _host_port(text[4:].lstrip("/"), 443)}
    elif scheme == "dns":
        fields = {"kind": "dns", "name": text[4:].lstrip("/").rstrip("/")}
    elif scheme == "icmp":
        fields = {"kind": "icmp", "target": text[5:].lstrip("/").rstrip("/")}
    elif "://" in text and scheme != "tcp":
        raise ValueError(
            f"{text!r}: unsupported scheme {scheme}:// (http, https, tls, dns, icmp, tcp)"
        )
    elif scheme == "tcp":
        fields = {"kind": "tcp", "target": text[4:].lstrip("/")}
    elif ":" in text:
        fields = {"kind": "tcp", "target": text}
    elif text and "/" not in text:
        fields = {"kind": "http", "url": f"https://{text}/"}
    else:
        raise ValueError(f"{text!r}: expected a URL, host:port, tls://host, or dns:name")
    fields.update(timeout=timeout, interval=max(timeout * 2, 30.0))
    try:
        return CHECK_MODELS[fields["kind"]].model_validate(fields)
    except ValidationError as exc:
        msg = str(exc.errors()[0]["msg"]).removeprefix("Value error, ")
        raise ValueError(msg if repr(text) in msg else f"{text!r}: {msg}") from None


def _host_port(text: str, default_port: int) -> str:
    parts = urlsplit("//" + text)
    if not parts.hostname:
        raise ValueError(f"{text!r}: no host name")
    try:
        port = parts.port or default_port
    except ValueError as exc:
        raise ValueError(f"{text!r}: {exc}") from None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{host}:{port}"
