"""Redaction of receiver secrets from error text: pure logic, table tests."""

from __future__ import annotations

import base64

import pytest

from alerts.config import AlertsConfig
from alerts.redact import known_secrets, redact


def _receiver(**spec: object) -> object:
    cfg = AlertsConfig.model_validate(
        {"receivers": [{"name": "r", **spec}], "route": {"receiver": "r"}}
    )
    return cfg.receiver("r")


BASIC = base64.b64encode(b"soc:hunter2-basic").decode()


@pytest.mark.parametrize(
    ("spec", "text", "expected"),
    [
        (
            {"kind": "webhook", "url": "http://10.0.0.1:8080/h?token=tok-123456"},
            "Cannot connect: http://10.0.0.1:8080/h?token=tok-123456 (echo tok-123456)",
            "Cannot connect: http://10.0.0.1:8080/<redacted> (echo <redacted>)",
        ),
        (
            {
                "kind": "webhook",
                "url": "http://x/h",
                "headers": {"Authorization": f"Basic {BASIC}"},
            },
            f"401: Basic {BASIC} / hunter2-basic",
            "401: <redacted> / <redacted>",
        ),
        (
            {"kind": "alertmanager", "url": "http://am:pw-s3cret@10.0.0.2:9093"},
            "http://am:pw-s3cret@10.0.0.2:9093: refused; password pw-s3cret",
            "http://<redacted>@10.0.0.2:9093: refused; password <redacted>",
        ),
        (  # a URL nobody configured (a redirect target) still loses its query values
            {"kind": "webhook", "url": "http://x/h"},
            "redirected to https://evil.example/next?sig=abc&x=1",
            "redirected to https://evil.example/next?sig=<redacted>&x=<redacted>",
        ),
        (  # short values are no credentials: "500" stays readable
            {"kind": "webhook", "url": "http://x/h", "headers": {"X-Team": "soc"}},
            "HTTP 500: soc",
            "HTTP 500: soc",
        ),
    ],
)
def test_redact(spec: dict[str, object], text: str, expected: str) -> None:
    assert redact(text, known_secrets(_receiver(**spec))) == expected  # type: ignore[arg-type]
