"""probe_modules: outwatch's own form, blackbox_exporter's keys where they map, clear errors."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
import yaml

from monitor import config
from monitor.probemodules import BUILTIN, module_fields
from monitor.web.probe import build_check


def _fields(module_yaml: str) -> dict[str, Any]:
    cfg = config.parse(f"probe_modules:\n  m: {module_yaml}\n")
    return module_fields(cfg.probe_modules["m"])


def _problems(text: str) -> list[str]:
    with pytest.raises(config.ConfigError) as err:
        config.parse(text, "bb.yaml")
    return err.value.problems


def test_outwatch_form_is_a_check_without_its_target() -> None:
    fields = _fields("{kind: http, expect: {status: 200-299, body_match: ok}, timeout: 5s}")
    assert fields == {
        "kind": "http",
        "expect": {"status": "200-299", "body_match": "ok"},
        "timeout": 5.0,
    }
    check = build_check(fields, "127.0.0.1:8080/health", 3.0)
    assert check.url == "http://127.0.0.1:8080/health"  # blackbox adds http:// as well
    assert check.timeout == 3.0


def test_blackbox_http_keys_map_one_to_one() -> None:
    fields = _fields(
        """
    prober: http
    timeout: 5s
    http:
      valid_status_codes: [200, 204]
      method: post
      headers: {Accept: text/html}
      no_follow_redirects: true
      fail_if_body_not_matches_regexp: ["operational"]
      fail_if_body_matches_regexp: ["maintenance"]
      preferred_ip_protocol: ip4
      ip_protocol_fallback: false
      tls_config: {insecure_skip_verify: true}"""
    )
    assert fields == {
        "kind": "http",
        "timeout": 5.0,
        "method": "POST",
        "headers": {"Accept": "text/html"},
        "max_redirects": 0,
        "expect": {
            "status": [200, 204],
            "body_match": "operational",
            "body_not_match": "maintenance",
        },
        "ip_version": "4",
        "verify_tls": False,
    }


def test_blackbox_tcp_icmp_dns() -> None:
    assert _fields("{prober: tcp}") == {"kind": "tcp", "ip_version": "auto"}
    banner = _fields("{prober: tcp, tcp: {query_response: [{send: HELO}, {expect: '^250'}]}}")
    assert banner == {"kind": "tcp", "ip_version": "auto", "send": "HELO\n", "expect": "^250"}
    tls = _fields("{prober: tcp, tcp: {tls: true, tls_config: {server_name: a.example}}}")
    assert tls == {"kind": "tls", "verify": True, "ip_version": "auto", "server_name": "a.example"}
    assert _fields("{prober: icmp, icmp: {ttl: 5}}") == {
        "kind": "icmp",
        "ttl": 5,
        "ip_version": "auto",
    }
    dns = _fields(
        "{prober: dns, dns: {query_name: a.example, query_type: MX, valid_rcodes: [NXDOMAIN],"
        " validate_answer_rrs: {fail_if_none_matches_regexp: ['mail']}}}"
    )
    assert dns == {
        "kind": "dns",
        "name": "a.example",
        "type": "MX",
        "expect": {"answers": ["mail"], "rcode": "NXDOMAIN"},
    }
    assert build_check(dns, "127.0.0.1:5353", 2.0).resolver == "127.0.0.1:5353"  # the server


def test_keys_that_do_not_map_are_errors_at_their_place() -> None:
    problems = _problems(
        """probe_modules:
  a:
    prober: http
    http:
      fail_if_ssl: true
  b: {prober: grpc}
  c: {prober: tcp, tcp: {query_response: [{expect: "^SSH"}, {send: x}]}}
  d: {prober: http, http: {fail_if_body_not_matches_regexp: [a, b]}}
  e: {kind: http, url: "https://a.example/"}
  f: {prober: dns, dns: {query_name: a.example, query_type: ANY}}
  g: {prober: http, http: {basic_auth: {username: u}}}
  h: {kind: icmp, ttl: 0}
"""
    )
    assert problems == [
        "bb.yaml:5: probe_modules.a.http.fail_if_ssl: "
        "this blackbox_exporter key has no outwatch equivalent",
        "bb.yaml:6: probe_modules.b.prober: Input should be 'http', 'tcp', 'icmp' or 'dns'",
        "bb.yaml:7: probe_modules.c: tcp.query_response: only one send followed by one expect map",
        "bb.yaml:8: probe_modules.d.http.fail_if_body_not_matches_regexp: "
        "outwatch takes one body_match; join them into one regular expression",
        "bb.yaml:9: probe_modules.e.url: a module has no target: Prometheus passes it as ?target=",
        "bb.yaml:10: probe_modules.f.dns.query_type: "
        "Input should be 'A', 'AAAA', 'CNAME', 'MX', 'TXT' or 'NS'",
        "bb.yaml:11: probe_modules.g.http.basic_auth: "
        "this blackbox_exporter key has no outwatch equivalent",
        "bb.yaml:12: probe_modules.h.ttl: Input should be greater than or equal to 1",
    ]


def test_builtin_modules_make_valid_checks() -> None:
    targets = {"http": "a.example", "tcp": "a.example:25", "icmp": "a.example"}
    for fields in BUILTIN.values():
        build_check(fields, targets[fields["kind"]], 1.0)


@pytest.mark.parametrize(
    ("module", "valid"),
    [
        ("{kind: http, expect: {status: 200-299}, timeout: 5s}", True),
        ("{prober: http, http: {valid_status_codes: [200]}, timeout: 5s}", True),
        ("{prober: dns, dns: {query_name: a.example, query_type: A}}", True),
        ("{prober: http, http: {fail_if_ssl: true}}", False),
        ("{prober: websocket}", False),
        ("{kind: http, nope: 1}", False),
        ("{prober: http, http: {method: GET, bogus: 1}}", False),
    ],
)
def test_schema_and_check_config_agree_on_modules(module: str, valid: bool) -> None:
    text = f"probe_modules:\n  m: {module}\n"
    schema = jsonschema.Draft202012Validator(json.loads(config.json_schema()))
    assert schema.is_valid(yaml.safe_load(text)) is valid
    if valid:
        config.parse(text)
    else:
        with pytest.raises(config.ConfigError):
            config.parse(text)
