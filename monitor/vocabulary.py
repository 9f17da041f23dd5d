"""The domain's words, each written once: states, kinds, flags, alert names, failure words.

Below config in the layers: config checks routes against the alert names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

CheckState = Literal["up", "down", "unknown"]
ServiceStatus = Literal["up", "degraded", "down", "unknown"]
SERVICE_STATUSES: tuple[ServiceStatus, ...] = ("down", "degraded", "up", "unknown")

# how a vantage sees a service in the fleet's breakdown, worst first; `absent` is a vantage that
# is offline (its canaries fail) or silent, counted neither up nor down
VantageView = Literal["down", "degraded", "up", "unknown", "absent"]
VANTAGE_VIEWS: tuple[VantageView, ...] = ("down", "degraded", "up", "unknown", "absent")
# each view as said before the vantages' names: "down from lviv", "absent (offline or silent) odesa"
VANTAGE_SEEN: dict[VantageView, str] = {
    **{v: f"{v} from" for v in SERVICE_STATUSES},
    "absent": "absent (offline or silent)",
}
NO_VANTAGE_YET = "no vantage reports it yet"

AnnouncementKind = Literal["attack", "outage", "restored", "advisory", "other"]
ANNOUNCEMENT_KINDS: tuple[AnnouncementKind, ...] = (
    "attack",
    "outage",
    "restored",
    "advisory",
    "other",
)

# What a claim says happened to one service; "other" is only ever a notice's overall kind.
ClaimKind = Literal["attack", "outage", "restored", "advisory"]
CLAIM_KINDS: tuple[ClaimKind, ...] = ("attack", "outage", "restored", "advisory")
Polarity = Literal["asserted", "denied"]
ClaimTime = Literal["now", "past", "planned"]
# why a service failed, as its claims tell: "technical" when an official says so or denies an attack
Cause = Literal["attack", "technical", "unknown"]

Flag = Literal[
    "restored_claim_while_down",
    "announced_not_observed",
    "observed_not_announced",
    "cause_disputed",
]


@dataclass(frozen=True)
class FlagWords:
    """How a flag is shown on the page and said in an alert ("{service}" is filled in)."""

    title: str
    summary: str
    severity: Literal["critical", "warning"]


FLAGS: dict[Flag, FlagWords] = {
    "restored_claim_while_down": FlagWords(
        "Announced as restored while probes still see it down",
        "{service}: an official notice says restored, but probes still see it down",
        "critical",
    ),
    "announced_not_observed": FlagWords(
        "Announced, but not observed from this vantage",
        "{service}: an official notice reports an attack or outage that probes do not see",
        "warning",
    ),
    "observed_not_announced": FlagWords(
        "Observed down, but no official notice",
        "{service}: down with no official notice",
        "warning",
    ),
    # an official "technical failure" / "not an attack" while the failures look volumetric
    "cause_disputed": FlagWords(
        "Called technical, but the failures look like a DDoS",
        "{service}: an official notice calls it a technical failure, but probes mostly time out",
        "warning",
    ),
}

# failure signature entries (probe error classes) in the words alerts and hints use
ERROR_WORDS = {
    "timeout": "timed out",
    "refused": "refused",
    "reset": "reset",
    "http_status": "bad HTTP status",
    "dns": "DNS failure",
    "tls": "TLS failure",
    "content": "content mismatch",
}

# every alertname outwatch sends, and their severities (config warns on routes that match none)
ALERTNAMES: tuple[str, ...] = (
    "service_down",
    "incident_confirmed",
    *FLAGS,
    "campaign_opened",
    "vantage_offline",
    "source_disconnected",
    "source_stale",
    "cert_expiring",
)
SEVERITIES = ("critical", "warning")
