"""HTTP(S) probe settings and probe (the probe itself is built in the probes work)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from probes.base import CheckSpec, ProbeContext, ProbeKind, ProbeResult


class HttpExpect(BaseModel):
    """What a good answer looks like."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    status: str | list[int | str] = "200-399"
    body_match: str | None = None
    body_not_match: str | None = None


class HttpCheck(CheckSpec):
    """An HTTP request and what its answer must look like."""

    kind: Literal["http"] = "http"
    url: str
    method: str = "GET"
    headers: dict[str, str] = Field(default_factory=dict)
    body: str | None = None
    expect: HttpExpect = HttpExpect()
    max_redirects: int = Field(default=5, ge=0, le=50)
    max_body_bytes: int = Field(default=1 << 20, ge=0)
    verify_tls: bool = True
    ip_version: Literal["auto", "4", "6"] = "auto"

    def endpoint(self) -> str:
        return self.url


async def probe(check: HttpCheck, ctx: ProbeContext) -> ProbeResult:
    """Run one HTTP check."""
    raise NotImplementedError


KIND = ProbeKind("http", HttpCheck, probe)
