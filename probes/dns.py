"""DNS probe via dnspython: one query to a configured or the system's first nameserver."""

from __future__ import annotations

import re
from typing import ClassVar, Literal

import dns.asyncquery
import dns.exception
import dns.message
import dns.rcode
import dns.rdatatype
import dns.resolver
from pydantic import BaseModel, ConfigDict, Field, field_validator

from probes import families, net
from probes.base import (
    CheckSpec,
    ErrorClass,
    Gauges,
    ProbeContext,
    ProbeFailure,
    ProbeKind,
    ProbeResult,
    gauges,
    phases,
)

_SYSTEM = "dns.system_nameservers"


class DnsExpect(BaseModel):
    """Expected rcode and answers (regexes, each must match some answer)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rcode: str = "NOERROR"
    answers: list[str] = Field(default_factory=list)

    @field_validator("rcode")
    @classmethod
    def _rcode(cls, value: str) -> str:
        try:
            dns.rcode.from_text(value.upper())
        except dns.rcode.UnknownRcode:
            raise ValueError(f"{value!r} is not a DNS rcode like NOERROR or NXDOMAIN") from None
        return value.upper()

    @field_validator("answers")
    @classmethod
    def _regexes(cls, value: list[str]) -> list[str]:
        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"{pattern!r}: bad regular expression: {exc}") from None
        return value


class DnsCheck(CheckSpec):
    """Query a name against the system resolver or a configured one."""

    target_field: ClassVar[str] = "resolver"

    kind: Literal["dns"] = "dns"
    name: str = Field(min_length=1, max_length=253)
    type: Literal["A", "AAAA", "CNAME", "MX", "TXT", "NS"] = "A"
    resolver: str | None = None  # "ip" or "ip:port"
    expect: DnsExpect = DnsExpect()

    @field_validator("resolver")
    @classmethod
    def _resolver(cls, value: str | None) -> str | None:
        if value is not None:
            host, _ = net.split_host_port(value, 53)
            if net.literal_family(host) is None:
                raise ValueError(f"{value!r}: the resolver must be an IP address (with :port)")
        return value

    def endpoint(self) -> str:
        return self.name


def _nameserver(check: DnsCheck, ctx: ProbeContext) -> tuple[str, int]:
    if check.resolver:
        return net.split_host_port(check.resolver, 53)
    system = ctx.resources.get(_SYSTEM)
    if system is None:  # read resolv.conf once per context
        conf = dns.resolver.Resolver()
        system = ctx.resources[_SYSTEM] = (str(conf.nameservers[0]), conf.port)
    return system


def _start(g: Gauges) -> None:
    """The families blackbox's dns prober always reports, at their values before an answer."""
    g.phases(families.DNS_DURATION, families.DNS_PHASES)
    for family in (
        families.DNS_ANSWER_RRS,
        families.DNS_AUTHORITY_RRS,
        families.DNS_ADDITIONAL_RRS,
        families.DNS_QUERY_SUCCEEDED,
    ):
        g.set(family, 0.0)


def _answered(g: Gauges, response: dns.message.Message) -> None:
    g.set(families.DNS_ANSWER_RRS, sum(len(rrset) for rrset in response.answer))
    g.set(families.DNS_AUTHORITY_RRS, sum(len(rrset) for rrset in response.authority))
    # miekg/dns (blackbox) counts the EDNS OPT record among the additional ones; dnspython keeps
    # it apart
    extra = sum(len(rrset) for rrset in response.additional) + (response.opt is not None)
    g.set(families.DNS_ADDITIONAL_RRS, extra)
    g.set(families.DNS_QUERY_SUCCEEDED, 1.0)


async def probe(check: DnsCheck, ctx: ProbeContext) -> ProbeResult:
    """Run one DNS check."""
    timer = phases()
    g = gauges()
    _start(g)
    families.start_address_choice(g)
    timer.begin("resolve")
    where, port = _nameserver(check, ctx)
    net.chosen(0, where)  # the nameserver is an address already: the "lookup" is reading it
    g.set(families.DNS_LOOKUP_TIME, timer.end().get("resolve", 0.0))
    timer.begin("request")
    query = dns.message.make_query(check.name, check.type)
    try:
        response, _ = await dns.asyncquery.udp_with_fallback(query, where, port=port)
    except dns.exception.DNSException as exc:  # a garbled or mismatched answer
        raise ProbeFailure("protocol", f"bad DNS answer from {where}: {exc}") from None
    timings = timer.end()
    _answered(g, response)
    rcode = dns.rcode.to_text(response.rcode())
    qtype = dns.rdatatype.from_text(check.type)
    answers = sorted(r.to_text() for rrset in response.answer for r in rrset)  # stable details
    typed = any(rrset.rdtype == qtype for rrset in response.answer)
    what = f"{check.name} {check.type}"
    expect = check.expect
    if rcode != expect.rcode:
        error: ErrorClass = "content" if rcode == "NOERROR" else "dns"
        raise ProbeFailure(error, f"{rcode} for {what} (expected {expect.rcode})", phases=timings)
    if rcode == "NOERROR" and not typed and expect.rcode == "NOERROR":
        raise ProbeFailure("dns", f"no {check.type} records for {check.name}", phases=timings)
    for pattern in expect.answers:
        if not any(re.search(pattern, a) for a in answers):
            got = ", ".join(answers[:5]) or "nothing"
            raise ProbeFailure(
                "content", f"no answer matches {pattern!r} (got {got})", phases=timings
            )
    detail = f"{rcode}: " + (", ".join(answers[:5]) or "no answers")
    return ProbeResult(ok=True, detail=detail, phases=timings, extra={"answers": answers[:20]})


KIND = ProbeKind("dns", DnsCheck, probe)
