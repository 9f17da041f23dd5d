"""The one map of receiver kinds. A new receiver is a module plus one line here."""

from __future__ import annotations

from alerts import alertmanager, console, email, pagerduty, slack, telegram, webhook
from alerts.base import ReceiverKind

KINDS: dict[str, ReceiverKind] = {
    k.name: k
    for k in (
        webhook.KIND,
        alertmanager.KIND,
        slack.KIND,
        telegram.KIND,
        pagerduty.KIND,
        email.KIND,
        console.KIND,
    )
}
