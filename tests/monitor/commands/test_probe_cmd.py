"""`outwatch probe`: one check now, printed for a person or as JSON, with meaningful exit codes."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from monitor.cli import main
from tests.conftest import free_port


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        code = 503 if self.path == "/down" else 200
        body = b"ok"
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def http_port() -> Iterator[int]:
    """A threaded HTTP server, since the command runs its own event loop."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_ok_prints_phases(http_port: int, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["probe", f"http://127.0.0.1:{http_port}/"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("OK   http http://127.0.0.1:")
    for word in ("status       200", "connect", "processing", "transfer", "total"):
        assert word in out
    assert " ms" in out


def test_failure_exits_1_with_class(http_port: int, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["probe", f"http://127.0.0.1:{http_port}/down", "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] is False and data["error"] == "http_status"
    assert data["detail"] == "HTTP 503 Service Unavailable"
    assert data["status_code"] == 503 and data["kind"] == "http"
    assert set(data["phases"]) >= {"connect", "processing"}
    assert data["gauges"]["probe_http_status_code"] == 503  # blackbox's series, by name
    assert 'probe_http_duration_seconds{phase="connect"}' in data["gauges"]


def test_refused_tcp(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["probe", f"127.0.0.1:{free_port()}", "--timeout", "1s"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("FAIL tcp") and "refused" in out


@pytest.mark.parametrize(
    "argv",
    [["probe", "ftp://x"], ["probe", "host:0"], ["probe", "host:80", "--timeout", "soon"]],
)
def test_bad_input_exits_2_with_one_line(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("outwatch probe: ") and err.count("\n") == 1


def test_icmp_to_loopback(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["probe", "icmp://127.0.0.1", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["kind"], out["ok"], out["extra"]["address"]) == ("icmp", True, "127.0.0.1")
    assert out["gauges"]["probe_icmp_reply_hop_limit"] == 64.0
