"""The one map of receiver kinds. A new receiver is a module plus one line here."""

from __future__ import annotations

from alerts import console, webhook
from alerts.base import ReceiverKind

KINDS: dict[str, ReceiverKind] = {k.name: k for k in (webhook.KIND, console.KIND)}
