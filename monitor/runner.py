"""Runs one check: looks up its kind, applies the timeout, measures time, classifies failures."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from typing import Any

from probes.base import ProbeContext, ProbeFailure, ProbeResult, error_class
from probes.registry import KINDS

log = logging.getLogger("outwatch.runner")


async def run_check(check: Any, ctx: ProbeContext) -> ProbeResult:
    """Probe once; never raises except CancelledError."""
    start = time.perf_counter()
    try:
        async with asyncio.timeout(check.timeout):
            result = await KINDS[check.kind].probe(check, ctx)
    except ProbeFailure as exc:
        result = exc.result()
    except TimeoutError:
        result = ProbeResult(
            ok=False, error="timeout", detail=f"no answer within {check.timeout:g}s"
        )
    except Exception as exc:
        cls = error_class(exc)
        if cls == "error":
            log.debug("unexpected probe error", exc_info=True, extra={"check": check.id})
        result = ProbeResult(ok=False, error=cls, detail=str(exc) or type(exc).__name__)
    return dataclasses.replace(result, duration=time.perf_counter() - start)
