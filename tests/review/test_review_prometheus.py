"""``review --prometheus URL`` sends the review's PromQL SLOs to that server, as the report's
advice says, and ``gates`` takes the same option."""

from __future__ import annotations

import socket
from pathlib import Path

from tests.conftest import DEMO_NOW, cli

ADVICE = "Prometheus server was given (--prometheus URL"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again when the block ends


def test_review_asks_the_named_server(ws: Path) -> None:
    report = ws / "reports" / "ops" / "MONTHLY_OPS_REPORT.md"
    code, out = cli("review", str(ws), "--now", DEMO_NOW.isoformat())
    assert code == 0, out
    assert ADVICE in report.read_text()  # the demo's PromQL SLOs without a server

    url = f"http://127.0.0.1:{closed_port()}"
    code, out = cli("review", str(ws), "--now", DEMO_NOW.isoformat(), "--prometheus", url)
    assert code == 0, out
    text = report.read_text()
    assert ADVICE not in text
    assert f"{url.removeprefix('http://')} is not reachable" in text


def test_gates_and_run_take_the_option(ws: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    for command in (["gates", "p09"], ["run", "p09"]):
        code, out = cli(*command, str(ws), "--now", DEMO_NOW.isoformat(), "--prometheus", url)
        assert code in (0, 1), out
        assert "No such option" not in out
