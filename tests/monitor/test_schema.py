"""The committed JSON Schema is what `outwatch schema` writes, and the example config points at it."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from monitor import config

ROOT = Path(__file__).resolve().parents[2]


def test_committed_schema_is_current() -> None:
    committed = (ROOT / "outwatch.schema.json").read_text(encoding="utf-8")
    assert committed == config.json_schema(), "run: outwatch schema -o outwatch.schema.json"


def test_example_config_points_at_the_schema() -> None:
    first = (ROOT / "config.example.yaml").read_text(encoding="utf-8").splitlines()[0]
    assert first == "# yaml-language-server: $schema=./outwatch.schema.json"


def test_schema_knows_every_probe_kind_and_receiver() -> None:
    text = json.dumps(json.loads(config.json_schema()))
    for kind in ("http", "tcp", "dns", "tls", "webhook", "slack", "pagerduty", "email", "telegram"):
        assert f'"const": "{kind}"' in text or f'"{kind}"' in text


# -- the schema accepts exactly what check-config accepts ------------------------------------

DATA = ROOT / "tests" / "monitor" / "data" / "config"
# every outwatch config shipped in the repository that is meant to be valid
VALID = [
    ROOT / "config.example.yaml",
    ROOT / "deploy" / "outwatch" / "config.yaml",
    ROOT / "tests" / "monitor" / "data" / "founding" / "config.yaml",
    ROOT / "tests" / "monitor" / "data" / "classify_services.yaml",
    ROOT / "tests" / "monitor" / "data" / "claims_services.yaml",
]
# invalid fixtures whose mistake is in the shape (unknown key, wrong type, pattern, range): the
# schema sees it too
STRUCTURAL = {
    "invalid-duration",
    "invalid-missing-url",
    "invalid-negative-threshold",
    "invalid-service-name",
    "invalid-top-level",
    "invalid-unknown-key",
    "invalid-unknown-kind",
    "invalid-basic-not-bcrypt",
    "invalid-blank-hmac-secret",
    "invalid-blank-ingest-token",
    "invalid-blank-token",
    "invalid-listen-port",
    "invalid-duration-inf",
    "invalid-own-channel-key",
}
# mistakes only the loader can see: duplicates, cross-field rules, the environment, files, YAML
SEMANTIC = {
    "invalid-duplicate-check",
    "invalid-duplicate-key",
    "invalid-duplicate-service",
    "invalid-env",
    "invalid-secret-file",
    "invalid-timeout",
    "invalid-yaml",
    "invalid-own-channel-service",  # a service that must exist among `services`
    "invalid-own-feed-service",
    # ranges and forms a JSON Schema cannot say (NaN, a duration's size in text, a URL's port)
    "invalid-duration-huge",
    "invalid-duration-nan",
    "invalid-webhook-port",
    "invalid-empty-token",  # empty only once the environment is substituted
    "invalid-ca-file-missing",
    "invalid-secret-binary",
    "invalid-tls-missing",
    # YAML a safe loader must not even try (the loader refuses them first)
    "invalid-yaml-bomb",
    "invalid-yaml-deep",
    "invalid-yaml-recursive-alias",
}
UNPARSEABLE = (
    "invalid-yaml",
    "invalid-duplicate-key",
    "invalid-yaml-bomb",
    "invalid-yaml-deep",
    "invalid-yaml-recursive-alias",
)


def _validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(config.json_schema())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _schema_errors(path: Path) -> list[str]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [
        f"{'.'.join(map(str, e.absolute_path))}: {e.message}"
        for e in _validator().iter_errors(data)
    ]


@pytest.mark.parametrize("path", VALID, ids=[str(p.relative_to(ROOT)) for p in VALID])
def test_shipped_configs_pass_check_config_and_the_schema(path: Path) -> None:
    config.load(path)
    assert _schema_errors(path) == []


def test_every_shipped_config_is_listed() -> None:
    """A new YAML file with `services:` at the top is an outwatch config: list it above."""
    found = set()
    for path in ROOT.rglob("*.y*ml"):
        if ".git" in path.parts or path.parent == DATA or "compose" in path.name:
            continue
        text = path.read_text(encoding="utf-8")
        if any(line.startswith(("services:", "vantage:")) for line in text.splitlines()):
            found.add(path)
    assert found == set(VALID)


INVALID = sorted(DATA.glob("invalid-*.yaml"))


def test_every_invalid_fixture_is_classified() -> None:
    assert {p.stem for p in INVALID} == STRUCTURAL | SEMANTIC


@pytest.mark.parametrize("path", INVALID, ids=[p.stem for p in INVALID])
def test_invalid_fixtures_are_rejected_by_check_config_and_structural_ones_by_the_schema(
    path: Path,
) -> None:
    with pytest.raises(config.ConfigError):
        config.load(path)
    if path.stem in STRUCTURAL:
        assert _schema_errors(path), f"{path.name}: the schema accepts what check-config rejects"
    elif path.stem in SEMANTIC and path.stem not in UNPARSEABLE:
        # not a shape problem: the schema has no way to see it, and must not pretend to
        assert _schema_errors(path) == []


def test_schema_takes_the_forms_the_loader_rewrites() -> None:
    v = _validator()
    ok = {
        "vantage": "kyiv-1",
        "defaults": {"interval": "1m30s", "timeout": 5},
        "web": {"listen": "${LISTEN:-127.0.0.1:9464}", "auth": {"protect_metrics": "${P}"}},
        "sources": {
            "telegram": {"api_id": "${TG_ID}", "api_hash_file": "hash.txt", "channels": ["x"]},
            "rss": [{"name": "cert", "url": "https://cert.example/feed"}],
        },
    }
    assert [e.message for e in v.iter_errors(ok)] == []
    for bad in ({"vantage": "kyiv 1"}, {"defaults": {"interval": "30 seconds"}}, {"web": 1}):
        assert list(v.iter_errors(bad)), bad
