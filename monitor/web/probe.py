"""/probe?target=…&module=…: one on-demand probe answered as blackbox_exporter answers it.

Behaviour follows blackbox_exporter's prober/handler.go: `module` defaults to http_2xx; an
unknown module or a missing target is a 400 with blackbox's message; the timeout is Prometheus's
`X-Prometheus-Scrape-Timeout-Seconds` minus an offset (or the module's, if shorter); the body is
that one probe's families without outwatch's labels (Prometheus adds instance and job), and
`debug=true` answers the probe's log, families and module as text. The probe itself runs in
runtime, through the callable the daemon hands in: web never imports runtime.
"""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Any

import yaml
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from pydantic import BaseModel, ValidationError

from monitor.config import CHECK_MODELS
from monitor.probemodules import BUILTIN, module_fields
from monitor.web.metrics import counter, gauge
from probes.base import ProbeResult
from probes.registry import KINDS

RunCheck = Callable[[Any], Awaitable[ProbeResult]]

DEFAULT_MODULE = "http_2xx"  # blackbox's default when ?module= is absent
TIMEOUT_OFFSET = 0.5  # blackbox's --timeout-offset default: room for the answer to travel back
NO_HEADER_TIMEOUT = 120.0  # blackbox's timeout when the scrape sends no header
MAX_IN_FLIGHT = 32  # on-demand probes at once; more are refused (503), not queued
RESULTS = ("success", "failure", "rejected")


class BadTarget(ValueError):
    """The target cannot be made into a check of the module's kind (blackbox: the probe fails)."""


class OnDemand:
    """Runs on-demand probes, bounded in number, and counts them."""

    def __init__(
        self,
        run: RunCheck,
        modules: Callable[[], Mapping[str, BaseModel]],
        vantage: str,
        limit: int = MAX_IN_FLIGHT,
    ) -> None:
        self._run = run
        self._modules = modules
        self.vantage = vantage
        self.limit = limit
        self.in_flight = 0
        self.counts: Counter[tuple[str, str]] = Counter()

    def module(self, name: str) -> dict[str, Any] | None:
        """Check fields (no target) of a configured or built-in module; None if unknown."""
        configured = self._modules().get(name)
        if configured is not None:
            return module_fields(configured)
        builtin = BUILTIN.get(name)
        return dict(builtin) if builtin is not None else None

    def names(self) -> list[str]:
        """Every module name /probe knows."""
        return sorted({*BUILTIN, *self._modules()})

    async def probe(self, name: str, fields: dict[str, Any], target: str, seconds: float) -> Any:
        """(check or None, result) of one probe within `seconds`; None over the limit."""
        if self.in_flight >= self.limit:
            self.counts[(name, "rejected")] += 1
            return None
        self.in_flight += 1
        try:
            try:
                check = build_check(fields, target, seconds)
            except BadTarget as exc:
                result = ProbeResult(ok=False, error="error", detail=str(exc))
                check = None
            else:
                result = await self._run(check) if seconds > 0 else _no_time()
        finally:
            self.in_flight -= 1
        self.counts[(name, "success" if result.ok else "failure")] += 1
        return check, result

    def families(self) -> Iterator[Metric]:
        """outwatch_probe_requests_total{module,result} (0 from start) and the in-flight gauge."""
        v = self.vantage
        rows = {(m, r): 0 for m in self.names() for r in RESULTS} | dict(self.counts)
        yield counter(
            "outwatch_probe_requests",
            "On-demand probes asked of /probe, by module and result (rejected: over the limit)",
            ["module", "result", "vantage"],
            [([m, r, v], float(n)) for (m, r), n in sorted(rows.items())],
        )
        yield gauge(
            "outwatch_probe_requests_in_flight",
            "On-demand probes running now",
            ["vantage"],
            [([v], float(self.in_flight))],
        )


def _no_time() -> ProbeResult:
    return ProbeResult(ok=False, error="timeout", detail="no time left for the probe")


def build_check(fields: dict[str, Any], target: str, timeout: float) -> Any:
    """The check a module means for `target`, with the caller's timeout."""
    kind = fields["kind"]
    spec = KINDS[kind].model
    data = {k: v for k, v in fields.items() if k != "timeout"}
    if spec.target_field == "url" and not target.lower().startswith(("http://", "https://")):
        target = "http://" + target  # as blackbox's http prober does
    data[spec.target_field] = target
    data["id"] = "probe"
    data["timeout"] = max(timeout, 0.001)
    data["interval"] = max(timeout * 2, 30.0)
    try:
        return CHECK_MODELS[kind].model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(map(str, err["loc"]))
        raise BadTarget(f"{where}: {str(err['msg']).removeprefix('Value error, ')}") from None


def scrape_timeout(header: str | None, module_timeout: float | None) -> float:
    """blackbox's getTimeout: the scrape's timeout less the offset, or the module's if shorter."""
    seconds = float(header) if header else 0.0  # ValueError: the caller answers 500
    if seconds == 0:
        seconds = NO_HEADER_TIMEOUT
    most = seconds - TIMEOUT_OFFSET
    if (module_timeout and 0 < module_timeout < most) or most < 0:
        return module_timeout or 0.0
    return most


def exposition(result: ProbeResult, timeout: float) -> bytes:
    """The probe's families as blackbox writes them: by name, no labels but their own."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families(list(_metrics(result, timeout))))
    return generate_latest(registry)


class _Families:
    def __init__(self, metrics: list[Metric]) -> None:
        self.metrics = metrics

    def collect(self) -> list[Metric]:
        return self.metrics


def _metrics(result: ProbeResult, timeout: float) -> Iterator[Metric]:
    own = [
        ("probe_success", "Displays whether or not the probe was a success", float(result.ok)),
        (
            "probe_duration_seconds",
            "Returns how long the probe took to complete in seconds",
            result.duration,
        ),
        ("probe_timeout_seconds", "Returns how long the probe timeout is in seconds", timeout),
    ]
    out: dict[str, Metric] = {n: gauge(n, doc, [], [([], v)]) for n, doc, v in own}
    carried: dict[str, GaugeMetricFamily] = {}
    for family, values, value in result.gauges():
        metric = carried.get(family.name)
        if metric is None:
            metric = out[family.name] = carried[family.name] = GaugeMetricFamily(
                family.name, family.doc, labels=sorted(family.labels)
            )
        pairs = dict(zip(family.labels, values, strict=True))
        metric.add_metric([pairs[k] for k in sorted(family.labels)], value)
    for name in sorted(out):
        yield out[name]


def debug_text(
    name: str, fields: dict[str, Any], check: Any, result: ProbeResult, timeout: float
) -> str:
    """`debug=true`: what happened, the families it would return, the module (as blackbox)."""
    log = [f"probe {fields['kind']} with module {name}, timeout {timeout:g}s"]
    log += [f"phase {k}: {v:.6f}s" for k, v in result.phases.items()]
    if result.status_code is not None:
        log.append(f"status code {result.status_code}")
    log.append(
        "probe succeeded"
        if result.ok
        else f"probe failed: {result.error}: {result.detail}".rstrip(": ")
    )
    log.append(f"duration {result.duration:.6f}s")
    module = check.model_dump(mode="json") if check is not None else fields
    return (
        "Logs for the probe:\n"
        + "\n".join(log)
        + "\n\n\n\nMetrics that would have been returned:\n"
        + exposition(result, timeout).decode()
        + "\n\n\nModule configuration:\n"
        + yaml.safe_dump(module, sort_keys=True, allow_unicode=True)
    )


def _text(status: int, message: str) -> web.Response:
    # Go's http.Error: text/plain, the message and a newline
    return web.Response(status=status, text=message + "\n", content_type="text/plain")


def handler(ondemand: OnDemand) -> Callable[[web.Request], Awaitable[web.Response]]:
    """The /probe route's handler over `ondemand`."""

    async def probe(request: web.Request) -> web.Response:
        q = request.query
        name = q.get("module") or DEFAULT_MODULE
        fields = ondemand.module(name)
        if fields is None:
            return _text(400, f'Unknown module "{_go_quote(name)}"')
        header = request.headers.get("X-Prometheus-Scrape-Timeout-Seconds")
        try:
            timeout = scrape_timeout(header, fields.get("timeout"))
        except ValueError:
            msg = f'strconv.ParseFloat: parsing "{_go_quote(header or "")}": invalid syntax'
            return _text(500, f"Failed to parse timeout from Prometheus header: {msg}")
        target = q.get("target", "")
        if not target:
            return _text(400, "Target parameter is missing")
        started = time.monotonic()
        answer = await ondemand.probe(name, fields, target, timeout)
        if answer is None:
            return _text(503, f"too many on-demand probes running (limit {ondemand.limit})")
        check, result = answer
        if result.duration == 0.0:  # not run: blackbox still reports the time it spent
            result = _with_duration(result, time.monotonic() - started)
        if q.get("debug") == "true":
            return _text(200, debug_text(name, fields, check, result, timeout).rstrip("\n"))
        body = exposition(result, timeout)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    return probe


def _with_duration(result: ProbeResult, seconds: float) -> ProbeResult:
    return dataclasses.replace(result, duration=seconds)


def _go_quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')
