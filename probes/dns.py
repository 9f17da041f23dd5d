"""DNS probe via dnspython."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from probes.base import CheckSpec, ProbeContext, ProbeKind, ProbeResult


class DnsExpect(BaseModel):
    """Expected rcode and answers (regexes, each must match some answer)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rcode: str = "NOERROR"
    answers: list[str] = Field(default_factory=list)


class DnsCheck(CheckSpec):
    """Query a name against the system resolver or a configured one."""

    kind: Literal["dns"] = "dns"
    name: str
    type: Literal["A", "AAAA", "CNAME", "MX", "TXT", "NS"] = "A"
    resolver: str | None = None  # "ip" or "ip:port"
    expect: DnsExpect = DnsExpect()

    def endpoint(self) -> str:
        return self.name


async def probe(check: DnsCheck, ctx: ProbeContext) -> ProbeResult:
    """Run one DNS check."""
    raise NotImplementedError


KIND = ProbeKind("dns", DnsCheck, probe)
