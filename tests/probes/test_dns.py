"""DNS probe against a tiny loopback DNS server."""

from __future__ import annotations

import pytest

from probes.dns import DnsCheck
from tests.probes.servers import dns_server, run_probe

RECORDS = {
    ("privatbank.ua.", "A"): ["104.18.1.1", "104.18.2.2"],
    ("privatbank.ua.", "TXT"): ['"v=spf1 -all"'],
    ("nodata.example.", "A"): [],
}


async def test_answer() -> None:
    async with dns_server(RECORDS) as port:
        result, _ = await run_probe(
            "dns",
            name="privatbank.ua",
            resolver=f"127.0.0.1:{port}",
            expect={"answers": [r"^104\.18\."]},
        )
    assert result.ok, result
    assert result.detail == "NOERROR: 104.18.1.1, 104.18.2.2"
    assert list(result.phases) == ["resolve", "request"]  # blackbox's dns phase names


@pytest.mark.parametrize(
    ("name", "type_", "expect", "error", "detail"),
    [
        ("gone.example", "A", {}, "dns", "NXDOMAIN for gone.example A (expected NOERROR)"),
        ("gone.example", "A", {"rcode": "nxdomain"}, None, "NXDOMAIN: no answers"),
        ("nodata.example", "A", {}, "dns", "no A records for nodata.example"),
        (
            "privatbank.ua",
            "A",
            {"rcode": "NXDOMAIN"},
            "content",
            "NOERROR for privatbank.ua A (expected NXDOMAIN)",
        ),
        (
            "privatbank.ua",
            "A",
            {"answers": ["^6\\.6\\.6\\.6$"]},
            "content",
            "no answer matches '^6\\\\.6\\\\.6\\\\.6$' (got 104.18.1.1, 104.18.2.2)",
        ),
        ("privatbank.ua", "TXT", {"answers": ["spf1"]}, None, 'NOERROR: "v=spf1 -all"'),
    ],
)
async def test_outcomes(
    name: str, type_: str, expect: dict[str, object], error: str | None, detail: str
) -> None:
    async with dns_server(RECORDS) as port:
        result, _ = await run_probe(
            "dns", name=name, type=type_, resolver=f"127.0.0.1:{port}", expect=expect
        )
    assert (result.ok, result.error, result.detail) == (error is None, error, detail)


async def test_silent_server_times_out() -> None:
    async with dns_server(silent=True) as port:
        result, elapsed = await run_probe("dns", name="privatbank.ua", resolver=f"127.0.0.1:{port}")
    assert (result.error, result.detail) == ("timeout", "no answer within 0.5s (during request)")
    assert elapsed < 0.8


@pytest.mark.parametrize(
    "fields",
    [
        {"name": "x", "resolver": "dns.google"},
        {"name": "x", "expect": {"rcode": "NOPE"}},
        {"name": "x", "expect": {"answers": ["("]}},
        {"name": ""},
    ],
)
def test_bad_settings(fields: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        DnsCheck.model_validate(fields)
