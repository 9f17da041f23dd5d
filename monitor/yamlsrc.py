"""YAML loading that remembers the line of every key, and ${ENV} / *_file substitution."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

Loc = tuple[str | int, ...]
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_ENV = re.compile(r"\$(\$|\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\})")


class SourceError(Exception):
    """One problem in the input, with where it is."""

    def __init__(self, loc: Loc, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.loc = loc
        self.message = message
        self.line = line


def format_loc(loc: Loc) -> str:
    """('services', 2, 'checks', 0, 'url') -> 'services[2].checks[0].url'."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _lines(node: yaml.Node, loc: Loc, lines: dict[Loc, int], problems: list[SourceError]) -> None:
    lines.setdefault(loc, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in seen:
                line = key_node.start_mark.line + 1
                problems.append(SourceError(loc + (key,), "duplicate key", line))
            seen.add(key)
            lines[loc + (key,)] = key_node.start_mark.line + 1
            _lines(value_node, loc + (key,), lines, problems)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _lines(item, loc + (i,), lines, problems)


def parse_yaml(text: str) -> tuple[Any, dict[Loc, int]]:
    """Parse one YAML document; return the data and a map of each key's line."""
    # one pass: compose the node tree (which knows each key's line), then build the data from it;
    # libyaml's loader when present (a 100,000-check config parses several times faster)
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        line = mark.line + 1 if mark is not None else None
        raise SourceError((), f"not valid YAML: {problem}", line) from None
    finally:
        loader.dispose()
    lines: dict[Loc, int] = {}
    problems: list[SourceError] = []
    if node is not None:
        _lines(node, (), lines, problems)
    if problems:
        raise problems[0]
    return data, lines


def substitute(
    data: Any,
    loc: Loc = (),
    env: Mapping[str, str] | None = None,
    base: Path | None = None,
    secrets: frozenset[str] | None = None,
) -> Any:
    """Replace ${VAR} (and ${VAR:-default}) in strings and read `*_file` keys into their base key."""
    env = os.environ if env is None else env
    if isinstance(data, dict):
        out: dict[Any, Any] = {}
        for key, value in data.items():
            if (
                isinstance(key, str)
                and key.endswith("_file")
                and isinstance(value, str)
                and (secrets is None or key.removesuffix("_file") in secrets)
            ):
                name = key.removesuffix("_file")
                if name in data:
                    raise SourceError(loc + (key,), f"set either {name} or {key}, not both")
                path = Path(substitute(value, loc + (key,), env, base))
                if base is not None and not path.is_absolute():
                    path = base / path
                try:
                    out[name] = path.read_text(encoding="utf-8").strip()
                except OSError as exc:
                    raise SourceError(loc + (key,), f"cannot read {path}: {exc.strerror}") from None
            else:
                out[key] = substitute(value, loc + (str(key),), env, base, secrets)
        return out
    if isinstance(data, list):
        return [substitute(v, loc + (i,), env, base, secrets) for i, v in enumerate(data)]
    if isinstance(data, str) and "$" in data:
        return _expand(data, loc, env)
    return data


def _expand(text: str, loc: Loc, env: Mapping[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        if match.group(1) == "$":
            return "$"
        name, default = match.group(2), match.group(3)
        if name in env:
            return env[name]
        if default is not None:
            return default
        raise SourceError(loc, f"environment variable {name} is not set")

    return _ENV.sub(one, text)
