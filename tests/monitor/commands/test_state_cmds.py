"""`outwatch status|incidents|campaigns`: the fleet's shared state with storage.url (a real
PostgreSQL), this instance's SQLite without; one line and a non-zero exit when it cannot be read."""

from __future__ import annotations

import asyncio
import json
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.cli import main
from monitor.core.base import Outage
from monitor.core.fleet import Verdict
from monitor.core.incidents import Campaign, Change, Incident
from monitor.store import db as local
from monitor.store import fleet as q
from monitor.store import incidents as local_incidents
from monitor.store import pg
from tests.conftest import free_port

START = datetime(2022, 2, 15, 13, 0, tzinfo=UTC)
BANK = Incident(
    "INC-20220215-001", "bank", "bank", START, observed=True, campaign="CMP-20220215-01"
)
GOV = Incident("INC-20220215-002", "gov", "government", START + timedelta(minutes=2), observed=True)
WAVE = Campaign(
    "CMP-20220215-01", START, ("bank", "gov"), (BANK.id, GOV.id), ("bank", "government")
)


def _config(tmp: Path, url: str | None) -> str:
    storage = f"{{path: {tmp / 'own.db'}" + (f', url: "{url}"}}' if url else "}")
    path = tmp / "c.yaml"
    path.write_text(
        f"""vantage: kyiv
storage: {storage}
services:
  - {{name: bank, group: bank, checks: [{{kind: http, url: "http://127.0.0.1:9/"}}]}}
  - {{name: gov, group: government, checks: [{{kind: http, url: "http://127.0.0.1:9/"}}]}}
  - {{name: diia, group: government, checks: [{{kind: http, url: "http://127.0.0.1:9/"}}]}}
"""
    )
    return str(path)


async def _fleet_decided(dsn: str) -> None:
    """What a decider writes when kyiv and lviv see bank down and odesa sees it up."""
    async with await pg.connect(dsn, "test") as conn:
        await pg.migrate(conn)
        changes = [Change("incident_opened", START, incident=i) for i in (BANK, GOV)]
        await q.apply_changes(conn, [*changes, Change("campaign_opened", START, campaign=WAVE)])
        verdicts = {
            "bank": Verdict("down", down=("kyiv", "lviv"), up=("odesa",)),
            "gov": Verdict("degraded", down=("lviv",), up=("kyiv",), absent=("odesa",)),
        }
        await q.put_verdicts(conn, verdicts, START)


def test_fleet_incidents_status_and_campaigns(
    tmp_path: Path, pg_dsn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(_fleet_decided(pg_dsn))
    cfg = _config(tmp_path, pg_dsn)
    # nothing local: every line below comes from the shared database
    assert main(["incidents", "-c", cfg, "--status", "open"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("fleet state from 127.0.0.1:") and out[0].endswith("· 2 incidents")
    assert out[2].startswith(f"{BANK.id}  bank  open  observed  2022-02-15T13:00:00+00:00 → now")
    assert out[2].endswith("down from kyiv, lviv; up from odesa · campaign CMP-20220215-01")

    assert main(["status", "-c", cfg]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "judged at 2022-02-15T13:00:00+00:00" in out[0]
    assert out[2].split() == [
        "bank",
        "down",
        "down",
        "from",
        "kyiv,",
        "lviv;",
        "up",
        "from",
        "odesa",
    ]
    assert out[3].startswith("gov      degraded  down from lviv; up from kyiv; absent")
    assert out[4].split() == ["diia", "unknown", "no", "fleet", "status", "yet"]

    assert main(["status", "-c", cfg, "--format", "json"]) == 0
    bank = json.loads(capsys.readouterr().out)[0]
    assert bank["status"] == "down" and bank["vantages"]["down"] == ["kyiv", "lviv"]

    assert main(["campaigns", "-c", cfg, "--format", "json"]) == 0
    (wave,) = json.loads(capsys.readouterr().out)
    assert wave["id"] == WAVE.id and wave["services"] == ["bank", "gov"]
    assert main(["incidents", "-c", cfg, "--service", "gov", "--format", "json"]) == 0
    assert [i["id"] for i in json.loads(capsys.readouterr().out)] == [GOV.id]


def test_unreachable_database_is_one_line_and_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"postgresql://outwatch:s3cret@127.0.0.1:{free_port()}/outwatch"  # nothing listens
    cfg = _config(tmp_path, url)
    for command in ("status", "incidents", "campaigns"):
        assert main([command, "-c", cfg]) == 1
        out, err = capsys.readouterr()
        assert out == "" and len(err.splitlines()) == 1, err
        assert err.startswith("outwatch: fleet database 127.0.0.1:") and "unreachable" in err
        assert "s3cret" not in err and "Traceback" not in err


def test_a_silent_server_is_one_line_and_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # a loopback listener that accepts and never answers: a hung database, not a refused one
    with socket.create_server(("127.0.0.1", 0)) as silent:
        port = silent.getsockname()[1]
        assert (
            main(["incidents", "-c", _config(tmp_path, f"postgresql://u@127.0.0.1:{port}/x")]) == 1
        )
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unreachable" in err and "Traceback" not in err


def test_database_without_tables_says_so(
    tmp_path: Path, pg_dsn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["incidents", "-c", _config(tmp_path, pg_dsn)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "has no outwatch tables yet" in err


def test_without_url_reads_the_local_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = _config(tmp_path, None)
    assert main(["incidents", "-c", cfg]) == 1  # no database yet: said, not created
    assert "no database at" in capsys.readouterr().err
    assert not (tmp_path / "own.db").exists()
    store = local.Store(str(tmp_path / "own.db"))
    outage = Outage("bank", START, worst="down")
    store.run_sync(lambda db: local_incidents.upsert_incident(db, BANK))
    store.run_sync(lambda db: local.upsert_outage(db, outage))
    store.close()
    assert main(["incidents", "-c", cfg]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("kyiv's own state from") and BANK.id in out[1]
    assert main(["status", "-c", cfg]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[2].split()[:2] == ["bank", "down"] and out[3].split() == ["gov", "up"]


def test_bad_since_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["incidents", "-c", _config(tmp_path, None), "--since", "yesterday"]) == 2
    assert "--since 'yesterday'" in capsys.readouterr().err
