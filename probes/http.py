"""HTTP(S) probe: one request (plus redirects), status and body expectations, phase timings."""

from __future__ import annotations

import re
from email.utils import parsedate_to_datetime
from functools import lru_cache
from http import HTTPStatus
from typing import ClassVar, Literal
from urllib.parse import SplitResult, urljoin, urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from probes import families, h1, tlsinfo
from probes.base import (
    CheckSpec,
    Gauges,
    ProbeContext,
    ProbeFailure,
    ProbeKind,
    ProbeResult,
    gauges,
    phases,
)

REDIRECTS = frozenset((301, 302, 303, 307, 308))
StatusRanges = tuple[tuple[int, int], ...]


@lru_cache(maxsize=256)
def _parse_status(spec: str | tuple[int | str, ...]) -> StatusRanges:
    items = spec.split(",") if isinstance(spec, str) else spec
    ranges: list[tuple[int, int]] = []
    for item in items:
        text = str(item).strip()
        low, _, high = text.partition("-")
        if not low.isdigit() or (high and not high.isdigit()):
            raise ValueError(f"{text!r} is not a status code or range like 200-399")
        lo, hi = int(low), int(high or low)
        if not 100 <= lo <= hi <= 599:
            raise ValueError(f"{text!r} is not a status range within 100-599")
        ranges.append((lo, hi))
    if not ranges:
        raise ValueError("at least one status code or range is needed")
    return tuple(ranges)


def status_ranges(spec: str | list[int | str]) -> StatusRanges:
    """Parse "200-399", "200,301" or [200, "300-302"] into inclusive ranges."""
    return _parse_status(spec if isinstance(spec, str) else tuple(spec))


def _valid_regex(value: str | None) -> str | None:
    if value is not None:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"bad regular expression: {exc}") from None
    return value


class HttpExpect(BaseModel):
    """What a good answer looks like."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    status: str | list[int | str] = "200-399"
    body_match: str | None = None
    body_not_match: str | None = None

    @field_validator("status")
    @classmethod
    def _status(cls, value: str | list[int | str]) -> str | list[int | str]:
        status_ranges(value)
        return value

    @field_validator("body_match", "body_not_match")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        return _valid_regex(value)


class HttpCheck(CheckSpec):
    """An HTTP request and what its answer must look like."""

    target_field: ClassVar[str] = "url"

    kind: Literal["http"] = "http"
    url: str
    method: str = Field(default="GET", pattern=r"^[A-Z]{1,16}$")
    headers: dict[str, str] = Field(default_factory=dict)
    body: str | None = None
    expect: HttpExpect = HttpExpect()
    max_redirects: int = Field(default=5, ge=0, le=50)
    max_body_bytes: int = Field(default=1 << 20, ge=0)
    verify_tls: bool = True
    ca_file: str | None = None  # trust these CAs instead of the system's (internal services)
    ip_version: Literal["auto", "4", "6"] = "auto"

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        check_url(value)
        return value

    @field_validator("headers")
    @classmethod
    def _clean_headers(cls, value: dict[str, str]) -> dict[str, str]:
        for name, text in value.items():
            if not re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", name) or re.search(
                r"[\r\n\0]", text
            ):
                raise ValueError(f"header {name!r}: not a valid header name and value")
        return value

    def endpoint(self) -> str:
        return self.url


def check_url(url: str) -> SplitResult:
    """Split an http(s) URL, or raise ValueError saying what is wrong with it."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise ValueError(f"{url!r}: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"{url!r}: only http:// and https:// URLs can be probed")
    if not parts.hostname:
        raise ValueError(f"{url!r}: no host name")
    return parts


_STATUS_TEXT = {s.value: f"HTTP {s.value} {s.phrase}" for s in HTTPStatus}


def _status_text(status: int, reason: str) -> str:
    text = _STATUS_TEXT.get(status)
    return text if text is not None else f"HTTP {status} {reason.strip()[:40]}".rstrip()


# The families blackbox's http prober always reports, at their values before an answer.
_START = {
    family: 0.0
    for family in (
        families.HTTP_CONTENT_LENGTH,
        families.HTTP_BODY_LENGTH,
        families.HTTP_REDIRECTS,
        families.HTTP_SSL,
        families.HTTP_STATUS_CODE,
        families.HTTP_VERSION,
        families.FAILED_DUE_TO_REGEX,
    )
}


def _start(g: Gauges) -> None:
    g.phases(families.HTTP_DURATION, ("resolve",))  # the rest once the name resolved (h1)
    g.set_many(_START)


@lru_cache(maxsize=16384)
def _first_hop(
    url: str, method: str, headers: tuple[tuple[str, str], ...], body: str | None
) -> h1.Target:
    """A check's first request, built once: every run of the check sends the same bytes."""
    return h1.target(url, method, dict(headers), body.encode() if body is not None else None)


@lru_cache(maxsize=256)
def _last_modified(text: str) -> float | None:
    """A Last-Modified date in unix seconds; None if unparsable (blackbox leaves it out too)."""
    try:
        return parsedate_to_datetime(text).timestamp()
    except (TypeError, ValueError):
        return None


def _answered(g: Gauges, resp: h1.Response, redirects: int) -> None:
    """What the final answer tells, set before it is judged (a 503 still has a length)."""
    g.set(families.HTTP_STATUS_CODE, resp.status)
    g.set(families.HTTP_CONTENT_LENGTH, resp.content_length)
    g.set(families.HTTP_BODY_LENGTH, resp.body_bytes)
    g.set(families.HTTP_REDIRECTS, redirects)
    g.set(families.HTTP_VERSION, resp.http_version)
    if resp.last_modified:
        modified = _last_modified(resp.last_modified)
        if modified is not None:
            g.set(families.HTTP_LAST_MODIFIED, modified)
    if resp.tls is not None:
        g.set(families.HTTP_SSL, 1.0)
        tlsinfo.record(g, resp.tls)


async def probe(check: HttpCheck, ctx: ProbeContext) -> ProbeResult:
    """Run one HTTP check."""
    timer = phases()
    g = gauges()
    _start(g)
    url = check.url
    method = check.method
    body = check.body
    keep_body = bool(check.expect.body_match or check.expect.body_not_match)
    seen = {url}
    cert_expiry: float | None = None
    target = _first_hop(url, method, tuple(check.headers.items()), body)
    for _ in range(check.max_redirects + 1):
        context = None
        if target.tls:
            context = tlsinfo.client_context(
                ctx, verify=check.verify_tls, ca_file=check.ca_file, alpn=("http/1.1",)
            )
        resp = await h1.exchange(
            target,
            timer=timer,
            ssl_context=context,
            ip_version=check.ip_version,
            max_body=check.max_body_bytes,
            keep_body=keep_body,
            head=method == "HEAD",
        )
        cert_expiry = resp.tls.earliest_expiry if resp.tls is not None else cert_expiry
        if resp.status not in REDIRECTS or not resp.location or check.max_redirects == 0:
            _answered(g, resp, len(seen) - 1)
            return _judge(check, resp, timer.end(), len(seen) - 1, cert_expiry, g)
        url = _next_url(url, resp.location)
        g.set(families.HTTP_REDIRECTS, len(seen))
        if url in seen:
            raise ProbeFailure("redirect", f"redirect loop back to {url}", status_code=resp.status)
        seen.add(url)
        if resp.status == 303 or (resp.status in (301, 302) and method == "POST"):
            method, body = "GET", None  # what browsers do
        # a redirect's target is the server's to choose: built each time, never kept
        target = h1.target(url, method, check.headers, body.encode() if body is not None else None)
    raise ProbeFailure("redirect", f"more than {check.max_redirects} redirects")


def _next_url(current: str, location: str) -> str:
    url = urljoin(current, location.strip())
    try:
        check_url(url)
    except ValueError:
        raise ProbeFailure(
            "redirect", f"redirect to an unusable location {location[:100]!r}"
        ) from None
    return url


def _judge(
    check: HttpCheck,
    resp: h1.Response,
    timings: dict[str, float],
    redirects: int,
    cert_expiry: float | None,
    g: Gauges,
) -> ProbeResult:
    status = resp.status
    text = _status_text(status, resp.reason)
    if not any(lo <= status <= hi for lo, hi in status_ranges(check.expect.status)):
        raise ProbeFailure(
            "http_status", text, phases=timings, status_code=status, cert_expiry=cert_expiry
        )
    if resp.body is not None:
        body = resp.body.decode("utf-8", "replace")
        expect = check.expect
        problem = None
        if expect.body_match and not re.search(expect.body_match, body):
            problem = f"body does not match {expect.body_match!r}"
        elif expect.body_not_match and re.search(expect.body_not_match, body):
            problem = f"body matches {expect.body_not_match!r}"
        g.set(families.FAILED_DUE_TO_REGEX, 1.0 if problem else 0.0)
        if problem:
            raise ProbeFailure(
                "content", problem, phases=timings, status_code=status, cert_expiry=cert_expiry
            )
    extra: dict[str, object] = {"body_bytes": resp.body_bytes}
    if redirects:
        extra["redirects"] = redirects
    if resp.truncated:
        extra["body_truncated"] = True
        text += f" (body cut at {check.max_body_bytes} bytes)"
    if resp.tls is not None and resp.tls.version:
        extra["tls_version"] = resp.tls.version
    return ProbeResult(
        ok=True,
        detail=text,
        phases=timings,
        status_code=status,
        cert_expiry=cert_expiry,
        extra=extra,
    )


KIND = ProbeKind("http", HttpCheck, probe)
