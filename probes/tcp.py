"""TCP connect probe, with optional send/expect."""

from __future__ import annotations

from typing import Literal

from probes.base import CheckSpec, ProbeContext, ProbeKind, ProbeResult


class TcpCheck(CheckSpec):
    """Connect to host:port; optionally send a line and expect a pattern back."""

    kind: Literal["tcp"] = "tcp"
    target: str  # host:port
    send: str | None = None
    expect: str | None = None  # regex the first bytes must match

    def endpoint(self) -> str:
        return self.target


async def probe(check: TcpCheck, ctx: ProbeContext) -> ProbeResult:
    """Run one TCP check."""
    raise NotImplementedError


KIND = ProbeKind("tcp", TcpCheck, probe)
