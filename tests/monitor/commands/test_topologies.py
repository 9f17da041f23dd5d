"""Every config in docs/topologies.md is one `outwatch check-config` accepts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from monitor.cli import main

DOC = Path(__file__).resolve().parents[3] / "docs" / "topologies.md"
BLOCKS = re.findall(r"^```yaml\n(.*?)^```$", DOC.read_text(encoding="utf-8"), re.M | re.S)


def test_the_doc_shows_each_topology() -> None:
    assert len(BLOCKS) == 3  # single instance, one vantage with shards, several vantages
    assert "storage.url" not in BLOCKS[0] and "url:" not in BLOCKS[0].split("services:")[0]
    assert all("postgresql://" in b and "${PGPASSWORD}" in b for b in BLOCKS[1:])


@pytest.mark.parametrize("n", range(len(BLOCKS)))
def test_check_config_accepts_it(
    n: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PGPASSWORD", "not-a-real-one")
    path = tmp_path / f"topology-{n}.yaml"
    path.write_text(BLOCKS[n], encoding="utf-8")
    assert main(["check-config", str(path)]) == 0, capsys.readouterr().err
    out, err = capsys.readouterr()
    assert ": ok: vantage " in out and "not-a-real-one" not in out + err
