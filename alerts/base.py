"""Shared alerting types: durations, alerts, notifications, the receiver protocol and its errors."""

from __future__ import annotations

import math
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Annotated, Any, Literal, Protocol, TypeVar

import aiohttp
import sqlite_utils
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    PlainSerializer,
    SecretStr,
    WithJsonSchema,
)
from yarl import URL

from alerts.redact import redact_url_parts

T = TypeVar("T")

MAX_DURATION = 5200 * 604800.0  # 100 years (and a bit): any time + this still fits a datetime
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")


def parse_duration(value: object) -> float:
    """Parse `30s`, `5m`, `1h30m`, `14d` (or plain seconds) into seconds."""
    if isinstance(value, bool):
        raise ValueError("expected a duration like 30s, 5m or 14d")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and value.strip():
        text = value.strip()
        parts = _DURATION.findall(text)
        if not parts or "".join(n + u for n, u in parts) != text:
            raise ValueError(f"{value!r} is not a duration like 30s, 5m or 14d")
        seconds = sum(float(n) * _UNITS[u] for n, u in parts)
    else:
        raise ValueError("expected a duration like 30s, 5m or 14d")
    if not math.isfinite(seconds) or seconds > MAX_DURATION:
        # every duration is added to a time somewhere: past ~100 years that overflows
        raise ValueError("a duration must be finite and at most 100 years (5200w)")
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    return seconds


def format_duration(seconds: float) -> str:
    """Inverse of parse_duration for whole units (used in schema defaults and messages)."""
    for unit in ("w", "d", "h", "m", "s"):
        size = _UNITS[unit]
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds * 1000)}ms"


# What parse_duration accepts, for the JSON Schema editors check configs against.
DURATION_PATTERN = r"^\s*(\d+(\.\d+)?(ms|s|m|h|d|w))+\s*$"

# Seconds as a float inside the program; `30s`-style text in YAML and JSON.
Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0, "maximum": MAX_DURATION},
                {"type": "string", "pattern": DURATION_PATTERN},
            ],
            "description": "seconds, or a duration like 30s, 5m, 1h30m, 14d",
        },
        mode="validation",
    ),
]


def _http_url(value: str) -> str:
    if not re.match(r"^https?://[^\s/]+", value):
        # the value may carry a password or a token: never echo those parts
        raise ValueError(f"{redact_url_parts(value)!r} is not an http(s):// URL")
    try:
        URL(value).port  # noqa: B018 - parsing it is the check: `:abc`, `:99999`, `[::1`
    except ValueError as exc:
        raise ValueError(f"not a usable URL: {exc}") from None
    return value.rstrip("/") if value.count("/") == 2 else value


# An http(s) URL written by an operator (kept as text; aiohttp parses it when sending).
HttpURL = Annotated[str, AfterValidator(_http_url)]


def _secret_http_url(value: SecretStr) -> SecretStr:
    try:
        _http_url(value.get_secret_value())
    except ValueError:
        raise ValueError("url must be an http(s):// URL") from None  # never echo the secret
    return value


# A URL that carries a credential (Slack and webhook URLs): validated, never shown.
SecretHttpURL = Annotated[SecretStr, AfterValidator(_secret_http_url)]


def _non_blank(value: SecretStr) -> SecretStr:
    if not value.get_secret_value().strip():
        raise ValueError("must not be empty or blank: an empty secret would let anyone in")
    return value


# A credential (token, HMAC key, password hash): never empty, never blank, never shown.
Secret = Annotated[
    SecretStr,
    AfterValidator(_non_blank),
    WithJsonSchema(
        {"type": "string", "format": "password", "pattern": r"\S", "writeOnly": True},
        mode="validation",
    ),
]

AlertStatus = Literal["firing", "resolved"]
REASON_BODY_LIMIT = 4000  # of a receiver's error body kept until redaction
REASON_LIMIT = 300  # characters of a delivery error's reason, once redacted
_FNV_OFFSET, _FNV_PRIME, _MASK = 0xCBF29CE484222325, 0x100000001B3, 0xFFFFFFFFFFFFFFFF


def fingerprint(labels: Mapping[str, str]) -> str:
    """prometheus/common's LabelSet.Fingerprint as hex: FNV-1a 64 over sorted names and values,
    each followed by the single byte 0xFF (a byte no UTF-8 text contains).

    An empty value is an absent label, as Alertmanager drops it when an alert is posted.
    """
    h = _FNV_OFFSET
    for key in sorted((k for k in labels if labels[k]), key=str.encode):  # Go sorts bytewise
        for byte in key.encode() + b"\xff" + labels[key].encode() + b"\xff":
            h = ((h ^ byte) * _FNV_PRIME) & _MASK
    return f"{h:016x}"


@dataclass(frozen=True)
class Alert:
    """What a person is told about: labels identify it, annotations explain it."""

    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    starts_at: datetime
    ends_at: datetime | None = None
    generator_url: str = ""

    @property
    def status(self) -> AlertStatus:
        """Firing until it has an end."""
        return "resolved" if self.ends_at is not None else "firing"

    @cached_property  # labels are never changed in place; a router asks several times
    def fingerprint(self) -> str:
        """Stable identity from the labels alone, as Alertmanager computes it (FNV-1a 64 hex)."""
        return fingerprint(self.labels)


@dataclass(frozen=True)
class Notification:
    """One message to one receiver about one group of alerts."""

    receiver: str
    group_key: str
    group_labels: Mapping[str, str]
    alerts: tuple[Alert, ...]
    external_url: str = ""
    id: str = ""

    @property
    def status(self) -> AlertStatus:
        """Firing if any alert in the group still fires."""
        return "firing" if any(a.status == "firing" for a in self.alerts) else "resolved"


class DeliveryError(Exception):
    """A receiver could not deliver; `retryable` decides whether the outbox tries again.

    `category` is a short, low-cardinality word for metrics (http_4xx, http_5xx, http_429,
    timeout, connection, smtp, error); `reason` is the readable detail.
    """

    def __init__(
        self,
        reason: str,
        *,
        retryable: bool,
        retry_after: float | None = None,
        category: str = "error",
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.retry_after = retry_after
        self.category = category


def check_status(status: int, body: str = "", retry_after: str | None = None) -> None:
    """Decide once, for every HTTP receiver, that 5xx and 429 retry and other 4xx are final."""
    if status < 300:
        return
    # the body comes from the internet: one line; cut short only once redacted (delivery.attempt),
    # so that a secret it echoes is never left half
    snippet = " ".join(body[:REASON_BODY_LIMIT].split())
    reason = f"HTTP {status}: {snippet}".strip().rstrip(":")
    if status == 429 or status >= 500:
        delay = None
        if retry_after and retry_after.strip().isdigit():
            delay = float(retry_after.strip())
        category = "http_429" if status == 429 else "http_5xx"
        raise DeliveryError(reason, retryable=True, retry_after=delay, category=category)
    raise DeliveryError(reason, retryable=False, category="http_4xx")


class ReceiverSpec(BaseModel):
    """Base of each receiver kind's settings; `name`, `timeout`, `send_resolved` added by config.

    `resend_interval`, when set, re-sends a group's firing alerts at least that often even when
    nothing changed (Alertmanager needs it before its resolve_timeout).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: str
    resend_interval: Duration | None = None


@dataclass
class ReceiverContext:
    """Long-lived resources receivers share; owned by the caller (the dispatcher or a command)."""

    session: aiohttp.ClientSession
    vantage: str = ""
    external_url: str = ""


class Clock(Protocol):
    """UTC wall time for records, monotonic seconds for timers (monitor.core.base clocks fit)."""

    def now(self) -> datetime: ...

    def monotonic(self) -> float: ...


class Storage(Protocol):
    """Runs `fn(db)` on the one database writer, inside one transaction (monitor.store.db.Store fits)."""

    async def run(self, fn: Callable[[sqlite_utils.Database], T]) -> T: ...


@dataclass(frozen=True)
class ReceiverKind:
    """A registry entry: the kind's name, its settings model and its send function."""

    name: str
    model: type[ReceiverSpec]
    send: Callable[[Any, Notification, ReceiverContext], Awaitable[None]]
