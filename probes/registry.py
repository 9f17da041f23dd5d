"""The one map of probe kinds. A new kind is a module plus one line here."""

from __future__ import annotations

from probes import dns, http, icmp, tcp, tls
from probes.base import ProbeKind

KINDS: dict[str, ProbeKind] = {
    k.name: k for k in (http.KIND, tcp.KIND, dns.KIND, tls.KIND, icmp.KIND)
}
