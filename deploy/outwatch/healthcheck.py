"""Container health: GET /healthz where the config says outwatch listens, over TLS if it serves TLS.

    python3 healthcheck.py [CONFIG]     (default: $OUTWATCH_CONFIG, else /etc/outwatch/config.yaml)

Exit 0 when /healthz answers 200, 1 otherwise with one line saying why. The address and scheme
come from the config's `web.listen` and `web.tls`, read with outwatch's own loader, so the check
follows the config instead of assuming 127.0.0.1:9464 over plain HTTP. A config that no longer
loads (edited, not yet reloaded: the daemon keeps the old one) is read for its `web` section
alone.
"""

from __future__ import annotations

import os
import ssl
import sys
import urllib.error
import urllib.request
from pathlib import Path

import yaml
from pydantic import ValidationError

from monitor import config
from monitor.web.server import split_listen

DEFAULT_CONFIG = "/etc/outwatch/config.yaml"
TIMEOUT = 4.0
# where to connect when the daemon listens on every address
WILDCARDS = {"0.0.0.0": "127.0.0.1", "::": "::1"}


def web_section(path: str) -> config.Web:
    """The config's `web` section; from the raw YAML if the whole config does not load."""
    try:
        return config.load(path).web
    except config.ConfigError:
        try:
            raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
            return config.Web.model_validate(raw.get("web") or {})
        except (OSError, yaml.YAMLError, AttributeError, ValidationError) as exc:
            raise SystemExit(f"unhealthy: {path}: no usable web section: {exc}") from None


def healthz_url(web: config.Web) -> str:
    """http(s)://host:port/healthz for the address the daemon listens on."""
    host, port = split_listen(web.listen)
    host = WILDCARDS.get(host, host)
    if ":" in host:
        host = f"[{host}]"
    return f"{'https' if web.tls else 'http'}://{host}:{port}/healthz"


def check(url: str) -> str | None:
    """None when the URL answers 200, else why not."""
    # the certificate is for the public name, not the loopback address: liveness is the question
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT, context=context) as response:
            status = int(response.status)
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (OSError, ValueError) as exc:
        return f"{url}: {exc}"
    return None if status == 200 else f"{url}: HTTP {status}"


def main(argv: list[str]) -> int:
    """Check once; the exit code is the answer."""
    path = argv[1] if len(argv) > 1 else os.environ.get("OUTWATCH_CONFIG", DEFAULT_CONFIG)
    problem = check(healthz_url(web_section(path)))
    if problem:
        print(f"unhealthy: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
