"""The gauge families probes report, with blackbox_exporter's names, help and labels.

Names, label names and meanings follow blackbox_exporter's prober/ (http.go, tcp.go, dns.go,
icmp.go, tls.go, utils.go), so dashboards and alerts written for it read outwatch's series too.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

from probes.base import Family, Gauges

# -- set by the caller's renderer from the result itself: probe_success, probe_duration_seconds

# -- address choice (utils.go chooseProtocol), for every prober that resolves its target
IP_PROTOCOL = Family("probe_ip_protocol", "Specifies whether probe ip protocol is IP4 or IP6")
DNS_LOOKUP_TIME = Family(
    "probe_dns_lookup_time_seconds", "Returns the time taken for probe dns lookup in seconds"
)
IP_ADDR_HASH = Family(
    "probe_ip_addr_hash",
    "Specifies the hash of IP address. It's useful to detect if the IP address changes.",
)

# -- HTTP (http.go)
HTTP_DURATION = Family(
    "probe_http_duration_seconds",
    "Duration of http request by phase, summed over all redirects",
    ("phase",),
)
HTTP_PHASES = ("resolve", "connect", "tls", "processing", "transfer")
HTTP_CONTENT_LENGTH = Family("probe_http_content_length", "Length of http content response")
HTTP_BODY_LENGTH = Family(
    "probe_http_uncompressed_body_length", "Length of uncompressed response body"
)
HTTP_REDIRECTS = Family("probe_http_redirects", "The number of redirects")
HTTP_SSL = Family("probe_http_ssl", "Indicates if SSL was used for the final redirect")
HTTP_STATUS_CODE = Family("probe_http_status_code", "Response HTTP status code")
HTTP_VERSION = Family("probe_http_version", "Returns the version of HTTP of the probe response")
HTTP_LAST_MODIFIED = Family(
    "probe_http_last_modified_timestamp_seconds",
    "Returns the Last-Modified HTTP response header in unixtime",
)
FAILED_DUE_TO_REGEX = Family("probe_failed_due_to_regex", "Indicates if probe failed due to regex")

# -- TLS (tls.go; set by http over TLS and by tcp with TLS)
SSL_EARLIEST_CERT_EXPIRY = Family(
    "probe_ssl_earliest_cert_expiry", "Returns last SSL chain expiry in unixtime"
)
SSL_LAST_CHAIN_EXPIRY = Family(
    "probe_ssl_last_chain_expiry_timestamp_seconds",
    "Returns last SSL chain expiry in timestamp",
)
SSL_LAST_CHAIN_INFO = Family(
    "probe_ssl_last_chain_info",
    "Contains SSL leaf certificate information",
    ("fingerprint_sha256", "subject", "issuer", "subjectalternative"),
)
TLS_VERSION_INFO = Family(
    "probe_tls_version_info", "Returns the TLS version used or NaN when unknown", ("version",)
)

# -- DNS (dns.go)
DNS_DURATION = Family("probe_dns_duration_seconds", "Duration of DNS request by phase", ("phase",))
DNS_PHASES = ("resolve", "connect", "request")
DNS_ANSWER_RRS = Family(
    "probe_dns_answer_rrs", "Returns number of entries in the answer resource record list"
)
DNS_AUTHORITY_RRS = Family(
    "probe_dns_authority_rrs", "Returns number of entries in the authority resource record list"
)
DNS_ADDITIONAL_RRS = Family(
    "probe_dns_additional_rrs", "Returns number of entries in the additional resource record list"
)
DNS_QUERY_SUCCEEDED = Family(
    "probe_dns_query_succeeded", "Displays whether or not the query was executed successfully"
)

# -- ICMP (icmp.go)
ICMP_DURATION = Family(
    "probe_icmp_duration_seconds", "Duration of icmp request by phase", ("phase",)
)
ICMP_PHASES = ("resolve", "setup", "rtt")
ICMP_HOP_LIMIT = Family("probe_icmp_reply_hop_limit", "Replied packet hop limit (TTL for ipv4)")


_ADDRESS_START = {IP_PROTOCOL: 0.0, DNS_LOOKUP_TIME: 0.0, IP_ADDR_HASH: 0.0}


def start_address_choice(g: Gauges) -> None:
    """What chooseProtocol registers before resolving: all three at 0 until an address is picked."""
    g.set_many(_ADDRESS_START)


def address_chosen(g: Gauges, version: int, packed: bytes) -> None:
    """The address family (4 or 6) and FNV-1a hash of the address the probe uses."""
    g.set(IP_PROTOCOL, float(version))
    g.set(IP_ADDR_HASH, float(fnv1a32(packed)))


@lru_cache(maxsize=4096)  # a fleet probes the same few addresses over and over
def fnv1a32(data: bytes) -> int:
    """32-bit FNV-1a, the hash blackbox_exporter gives probe_ip_addr_hash."""
    h = 0x811C9DC5
    for byte in data:
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return h


def sha256_hex(data: bytes) -> str:
    """Lowercase hex SHA-256 (the certificate fingerprint label)."""
    return hashlib.sha256(data).hexdigest()
