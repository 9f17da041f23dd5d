"""Modules for on-demand probes (`/probe?target=…&module=…`), as blackbox_exporter has them.

A module is a check template without its target, in outwatch's own schema
(`{kind: http, expect: {status: 200-299}, timeout: 5s}`) or in blackbox's
(`{prober: http, timeout: 5s, http: {valid_status_codes: [200]}}`) where its keys map one to one.
A blackbox key that does not map is an error at its own path, never silently dropped.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    WithJsonSchema,
    create_model,
    field_validator,
    model_validator,
)

from alerts.base import Duration
from probes.registry import KINDS


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _no_equivalent(value: Any) -> Any:
    raise ValueError("this blackbox_exporter key has no outwatch equivalent")


# A blackbox key outwatch knows but cannot honour: rejected at its own path, with that reason.
Unmapped = Annotated[
    Any,
    AfterValidator(_no_equivalent),
    WithJsonSchema({"not": {}, "description": "a blackbox_exporter key outwatch cannot honour"}),
]


def _one(what: str) -> Any:
    def check(value: list[str] | None) -> list[str] | None:
        if value is not None and len(value) > 1:
            raise ValueError(f"outwatch takes one {what}; join them into one regular expression")
        return value

    return AfterValidator(check)


# -- outwatch's own form: a check of that kind, minus its target --------------------------------


def _template_model(kind: str) -> type[BaseModel]:
    spec = KINDS[kind].model
    target = spec.target_field

    def no_target(value: str | None) -> str | None:
        if value is not None:
            raise ValueError("a module has no target: Prometheus passes it as ?target=")
        return value

    fields: dict[str, Any] = {"timeout": (Duration | None, None), target: (str | None, None)}
    validators: dict[str, Any] = {"_no_target": field_validator(target)(no_target)}
    model: type[BaseModel] = create_model(
        f"{spec.__name__}Module", __base__=spec, __validators__=validators, **fields
    )
    return model


TEMPLATE_MODELS = {k: _template_model(k) for k in KINDS}


# -- blackbox_exporter's form (config/config.go), the keys that map ------------------------------


class BlackboxTls(_Strict):
    """tls_config (prometheus/common TLSConfig): what outwatch's checks can honour."""

    insecure_skip_verify: bool = False
    ca_file: str | None = None
    server_name: str | None = None
    min_version: Literal["TLS12", "TLS13"] | None = None
    cert_file: Unmapped = None
    key_file: Unmapped = None
    ca: Unmapped = None
    cert: Unmapped = None
    key: Unmapped = None
    max_version: Unmapped = None


class _IpChoice(_Strict):
    preferred_ip_protocol: Literal["ip4", "ip6"] | None = None
    ip_protocol_fallback: bool = True
    source_ip_address: Unmapped = None

    def ip_version(self) -> str:
        """outwatch's ip_version: the preferred family only when blackbox may not fall back."""
        if self.preferred_ip_protocol is None or self.ip_protocol_fallback:
            return "auto"
        return self.preferred_ip_protocol[-1]


class BlackboxHttp(_IpChoice):
    """blackbox's `http:` section."""

    valid_status_codes: list[int] | None = None
    method: str | None = None
    headers: dict[str, str] | None = None
    body: str | None = None
    no_follow_redirects: bool = False
    fail_if_body_matches_regexp: Annotated[list[str] | None, _one("body_not_match")] = None
    fail_if_body_not_matches_regexp: Annotated[list[str] | None, _one("body_match")] = None
    tls_config: BlackboxTls = BlackboxTls()
    valid_http_versions: Unmapped = None
    fail_if_ssl: Unmapped = None
    fail_if_not_ssl: Unmapped = None
    fail_if_header_matches: Unmapped = None
    fail_if_header_not_matches: Unmapped = None
    fail_if_body_json_matches_cel: Unmapped = None
    fail_if_body_json_not_matches_cel: Unmapped = None
    body_file: Unmapped = None
    compression: Unmapped = None
    body_size_limit: Unmapped = None
    enable_http3: Unmapped = None
    skip_resolve_phase_with_proxy: Unmapped = None
    # prometheus/common HTTPClientConfig, inlined by blackbox
    basic_auth: Unmapped = None
    authorization: Unmapped = None
    bearer_token: Unmapped = None
    bearer_token_file: Unmapped = None
    oauth2: Unmapped = None
    proxy_url: Unmapped = None
    follow_redirects: Unmapped = None
    enable_http2: Unmapped = None

    def template(self) -> dict[str, Any]:
        """The outwatch http check fields this section means."""
        expect: dict[str, Any] = {"status": self.valid_status_codes or "200-299"}
        if self.fail_if_body_not_matches_regexp:
            expect["body_match"] = self.fail_if_body_not_matches_regexp[0]
        if self.fail_if_body_matches_regexp:
            expect["body_not_match"] = self.fail_if_body_matches_regexp[0]
        out: dict[str, Any] = {"kind": "http", "expect": expect, "ip_version": self.ip_version()}
        if self.method:
            out["method"] = self.method.upper()
        if self.headers:
            out["headers"] = self.headers
        if self.body is not None:
            out["body"] = self.body
        if self.no_follow_redirects:
            out["max_redirects"] = 0
        tls = self.tls_config
        if tls.server_name or tls.min_version:
            raise ValueError("http.tls_config: only insecure_skip_verify and ca_file map")
        out["verify_tls"] = not tls.insecure_skip_verify
        if tls.ca_file:
            out["ca_file"] = tls.ca_file
        return out


class QueryStep(_Strict):
    """One query_response step."""

    expect: str | None = None
    send: str | None = None
    expect_bytes: Unmapped = None
    labels: Unmapped = None
    starttls: Unmapped = None


class BlackboxTcp(_IpChoice):
    """blackbox's `tcp:` section."""

    query_response: list[QueryStep] = Field(default_factory=list)
    tls: bool = False
    tls_config: BlackboxTls = BlackboxTls()

    def template(self) -> dict[str, Any]:
        """A tcp check (optionally one send, then one expect), or a tls handshake check."""
        ip = self.ip_version()
        if self.tls:
            if self.query_response:
                raise ValueError("tcp: tls with query_response has no outwatch equivalent")
            t = self.tls_config
            out = {"kind": "tls", "verify": not t.insecure_skip_verify, "ip_version": ip}
            opt = {"server_name": t.server_name, "ca_file": t.ca_file}
            if t.min_version:
                opt["min_version"] = {"TLS12": "TLSv1.2", "TLS13": "TLSv1.3"}[t.min_version]
            return out | {k: v for k, v in opt.items() if v}
        steps = [(s.send, s.expect) for s in self.query_response]
        # blackbox reads `expect` before writing `send` within one step, and ends sends with \n
        sends = [s for s, e in steps if s is not None and e is None]
        expects = [e for s, e in steps if e is not None and s is None]
        shape_ok = len(sends) + len(expects) == len(steps) and len(sends) <= 1 >= len(expects)
        if not shape_ok or (sends and expects and steps[0][0] is None):
            raise ValueError("tcp.query_response: only one send followed by one expect map")
        out = {"kind": "tcp", "ip_version": ip}
        if sends:
            out["send"] = sends[0] + "\n"
        if expects:
            out["expect"] = expects[0]
        return out


class BlackboxIcmp(_IpChoice):
    """blackbox's `icmp:` section."""

    payload_size: int | None = None
    ttl: int = 64
    dont_fragment: Unmapped = None

    def template(self) -> dict[str, Any]:
        """An icmp check."""
        out: dict[str, Any] = {"kind": "icmp", "ttl": self.ttl, "ip_version": self.ip_version()}
        if self.payload_size is not None:
            out["payload_size"] = self.payload_size
        return out


class AnswerRules(_Strict):
    """validate_answer_rrs: the one rule outwatch's expect.answers means."""

    fail_if_none_matches_regexp: list[str] = Field(default_factory=list)
    fail_if_matches_regexp: Unmapped = None
    fail_if_all_match_regexp: Unmapped = None
    fail_if_not_matches_regexp: Unmapped = None


class BlackboxDns(_IpChoice):
    """blackbox's `dns:` section; the probe's target is the server, as in blackbox."""

    query_name: str = Field(min_length=1)
    query_type: Literal["A", "AAAA", "CNAME", "MX", "TXT", "NS"]
    transport_protocol: Literal["udp"] = "udp"
    query_class: Literal["IN"] = "IN"
    recursion_desired: Literal[True] = True
    valid_rcodes: Annotated[list[str] | None, _one("expect.rcode")] = None
    validate_answer_rrs: AnswerRules = AnswerRules()
    dns_over_tls: Unmapped = None
    tls_config: Unmapped = None
    validate_authority_rrs: Unmapped = None
    validate_additional_rrs: Unmapped = None

    def template(self) -> dict[str, Any]:
        """A dns check of query_name (the resolver comes from ?target=)."""
        expect: dict[str, Any] = {"answers": self.validate_answer_rrs.fail_if_none_matches_regexp}
        if self.valid_rcodes:
            expect["rcode"] = self.valid_rcodes[0]
        return {"kind": "dns", "name": self.query_name, "type": self.query_type, "expect": expect}


class BlackboxModule(_Strict):
    """A module as blackbox_exporter's config writes it."""

    prober: Literal["http", "tcp", "icmp", "dns"]
    timeout: Duration | None = None
    http: BlackboxHttp = BlackboxHttp()
    tcp: BlackboxTcp = BlackboxTcp()
    icmp: BlackboxIcmp = BlackboxIcmp()
    dns: BlackboxDns | None = None
    grpc: Unmapped = None
    unix: Unmapped = None
    websocket: Unmapped = None

    @model_validator(mode="after")
    def _maps(self) -> BlackboxModule:
        fields = self.fields()
        try:
            TEMPLATE_MODELS[fields["kind"]].model_validate(fields)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(map(str, err["loc"]))
            raise ValueError(f"as outwatch's {where}: {err['msg']}") from None
        return self

    def fields(self) -> dict[str, Any]:
        """The outwatch check template this module means (ValueError if it does not map)."""
        if self.prober == "dns" and self.dns is None:
            raise ValueError("a dns module needs dns.query_name and dns.query_type")
        section = {"http": self.http, "tcp": self.tcp, "icmp": self.icmp, "dns": self.dns}
        out: dict[str, Any] = section[self.prober].template()  # type: ignore[union-attr]
        if self.timeout:
            out["timeout"] = self.timeout
        return out


def _form(value: Any) -> str:
    if isinstance(value, dict) and "prober" in value:
        # a tag config._clean_loc leaves out of error paths (like pydantic's function-* steps)
        return "function-blackbox"
    return str(value.get("kind")) if isinstance(value, dict) else ""


_FORMS: Any = (
    Annotated[BlackboxModule, Tag("function-blackbox")],
    *(Annotated[m, Tag(k)] for k, m in TEMPLATE_MODELS.items()),
)
ProbeModule = Annotated[Union[_FORMS], Discriminator(_form)]  # noqa: UP007


def module_fields(module: BaseModel) -> dict[str, Any]:
    """A configured module (either form) as outwatch check fields without the target."""
    if isinstance(module, BlackboxModule):
        return module.fields()
    spec = KINDS[module.kind].model  # type: ignore[attr-defined]
    out = module.model_dump(exclude_unset=True, exclude={spec.target_field})
    return out | {"kind": module.kind}  # type: ignore[attr-defined]


# blackbox's shipped blackbox.yml modules that mean the same in outwatch. Not here: pop3s_banner
# (TLS then a banner), ssh_banner and irc_banner (expect before send), grpc*, websocket,
# http_3xx (HTTP/3), postgresql (STARTTLS): outwatch's probes cannot do what those ask.
BUILTIN: dict[str, dict[str, Any]] = {
    "http_2xx": {"kind": "http", "expect": {"status": "200-299"}},
    "http_post_2xx": {"kind": "http", "method": "POST", "expect": {"status": "200-299"}},
    "tcp_connect": {"kind": "tcp"},
    "icmp": {"kind": "icmp"},
    "icmp_ttl5": {"kind": "icmp", "ttl": 5, "timeout": 5.0},
}
