"""Alertmanager receiver: push alerts to `POST /api/v2/alerts`, re-sent before they time out."""

from __future__ import annotations

import logging
from typing import Any, Literal

import aiohttp
from pydantic import Field, model_validator

from alerts.base import (
    Alert,
    DeliveryError,
    Duration,
    HttpURL,
    Notification,
    ReceiverContext,
    ReceiverKind,
    ReceiverSpec,
    check_status,
)
from alerts.redact import known_secrets, redact

log = logging.getLogger("outwatch.alerts")


class AlertmanagerReceiver(ReceiverSpec):
    """Alertmanager at `url` (or every one of `urls`, for an HA pair)."""

    kind: Literal["alertmanager"] = "alertmanager"
    url: HttpURL | None = None
    urls: list[HttpURL] = Field(default_factory=list)
    # firing alerts are pushed again this often, well inside Alertmanager's resolve_timeout (5m)
    resend_interval: Duration | None = 60.0

    @model_validator(mode="after")
    def _one_target(self) -> AlertmanagerReceiver:
        if not self.url and not self.urls:
            raise ValueError("set url (or urls for an HA pair)")
        return self

    def targets(self) -> list[str]:
        """Every Alertmanager to push to."""
        return [u.rstrip("/") for u in ([self.url] if self.url else []) + self.urls]


def _iso(value: Any) -> str:
    return str(value.isoformat()).replace("+00:00", "Z")


def alert_json(a: Alert, external_url: str) -> dict[str, Any]:
    """An alert as Alertmanager's API v2 `postableAlert`."""
    out: dict[str, Any] = {
        "labels": dict(a.labels),
        "annotations": dict(a.annotations),
        "startsAt": _iso(a.starts_at),
        "generatorURL": a.generator_url or external_url,
    }
    if a.ends_at is not None:
        out["endsAt"] = _iso(a.ends_at)
    return out


async def _post(ctx: ReceiverContext, url: str, body: list[dict[str, Any]]) -> None:
    async with ctx.session.post(f"{url}/api/v2/alerts", json=body) as resp:
        text = await resp.text(errors="replace")
        check_status(resp.status, text, resp.headers.get("Retry-After"))


async def send(
    spec: AlertmanagerReceiver, notification: Notification, ctx: ReceiverContext
) -> None:
    """Push the group's alerts to every Alertmanager; delivered when at least one accepted."""
    body = [alert_json(a, notification.external_url) for a in notification.alerts]
    errors: list[DeliveryError] = []
    secrets = known_secrets(spec)
    for url in spec.targets():
        try:
            await _post(ctx, url, body)
        except DeliveryError as exc:
            log.warning("alertmanager %s", redact(f"{url}: {exc.reason}", secrets))
            errors.append(exc)
        except (aiohttp.ClientError, OSError) as exc:
            # one peer of an HA pair being down must not stop the other getting the alerts
            reason = redact(f"{url}: {exc}", secrets)
            log.warning("alertmanager %s", reason)
            errors.append(DeliveryError(reason, retryable=True, category="connection"))
    if len(errors) == len(spec.targets()):
        first = errors[0]
        retryable = any(e.retryable for e in errors)
        raise DeliveryError(
            first.reason,
            retryable=retryable,
            retry_after=first.retry_after,
            category=first.category,
        )


KIND = ReceiverKind("alertmanager", AlertmanagerReceiver, send)
