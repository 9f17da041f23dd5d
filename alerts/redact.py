"""Keep receiver secrets out of every message that is logged, stored or printed.

Error text comes from many hands (aiohttp puts the URL in its exceptions, a receiver may echo
the request in a 500 body, SMTP servers echo what they were sent), so redaction works on the
finished text: every known secret value of the receiver, then any URL's userinfo and query values.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from pydantic import BaseModel, SecretStr

REDACTED = "<redacted>"
# a shorter value is no credential, and replacing it would garble every message ("HTTP 500")
MIN_SECRET = 4
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^\s/@'\"<>]*@")
_QUERY_VALUE = re.compile(r"([?&;][^\s=&#'\"<>]+=)[^\s&#'\"<>]+")


def redact_url_parts(text: str) -> str:
    """Hide the userinfo (`user:pass@`) and query values of any URL in `text`."""
    return _QUERY_VALUE.sub(rf"\1{REDACTED}", _USERINFO.sub(rf"\1{REDACTED}@", text))


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with each known secret (longest first) and any URL credential replaced.

    A secret URL keeps its scheme, host and port, so the reader still knows where it failed.
    """
    for secret in sorted(set(secrets), key=len, reverse=True):
        if len(secret) >= MIN_SECRET:
            text = text.replace(secret, _placeholder(secret))
    return redact_url_parts(text)


def _placeholder(secret: str) -> str:
    if "://" not in secret:
        return REDACTED
    try:
        parts = urlsplit(secret)
        where = f"{parts.hostname}:{parts.port}" if parts.port else parts.hostname
    except ValueError:  # an invalid port, say: show nothing of it
        return REDACTED
    return f"{parts.scheme}://{where}/{REDACTED}" if where else REDACTED


def known_secrets(receiver: BaseModel) -> list[str]:
    """Every value of a receiver's settings that grants access, in the forms text may show it.

    Secret fields (tokens, keys, passwords, secret URLs), configured header values, and the
    userinfo, path and query values of every URL in the settings.
    """
    out: list[str] = []
    for name, value in receiver:
        if isinstance(value, SecretStr):
            out += _forms(value.get_secret_value(), whole=True)
        elif name == "headers" and isinstance(value, dict):
            for header in value.values():
                out += _header_forms(str(header))
        else:
            for text in _strings(value):
                out += _forms(text, whole=False)
    return [s for s in dict.fromkeys(out) if len(s) >= MIN_SECRET]


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def _forms(text: str, *, whole: bool) -> list[str]:
    """A secret and, when it is a URL, its credential-bearing parts (raw and percent-encoded)."""
    out = [text] if whole else []
    parts = urlsplit(text) if "://" in text else None
    if parts is not None and parts.netloc:
        if parts.password:
            out += [parts.password, unquote(parts.password), f"{parts.username}:{parts.password}"]
        if whole and parts.path.strip("/"):
            out.append(parts.path)  # a Slack-style URL: the path is the credential
        for _, v in parse_qsl(parts.query, keep_blank_values=False):
            out += [v, quote(v, safe="")]
        if whole:
            out.append(quote(text, safe=":/"))
    return out


def _header_forms(value: str) -> list[str]:
    out = [value]
    scheme, _, credential = value.partition(" ")
    if credential.strip():
        out.append(credential.strip())
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(credential.strip(), validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                decoded = ""
            out += [decoded, decoded.partition(":")[2]]
    return out
