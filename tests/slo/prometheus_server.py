"""A real Prometheus for the engine tests, backfilled from OpenMetrics text.

The server is Debian's ``prometheus`` on 127.0.0.1 with a free port and a temporary storage
folder; the samples are written into blocks beforehand with ``promtool tsdb
create-blocks-from openmetrics``. A test is skipped when the binaries are not installed.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def backfilled_prometheus(
    root: Path, openmetrics: str, backfill_seconds: float = 120
) -> Iterator[str]:
    """Yield the URL of a Prometheus serving the samples of ``openmetrics`` (ending ``# EOF``),
    with its storage under ``root``; the server is stopped afterwards."""
    binary, promtool = shutil.which("prometheus"), shutil.which("promtool")
    if binary is None or promtool is None:
        pytest.skip(
            "the prometheus and promtool binaries are not installed (apt install prometheus)"
        )
    source = root / "samples.om"
    source.write_text(openmetrics)
    data = root / "data"
    subprocess.run(
        [promtool, "tsdb", "create-blocks-from", "openmetrics", str(source), str(data)],
        check=True,
        capture_output=True,
        timeout=backfill_seconds,
    )
    config = root / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 15s\n")
    port = free_port()
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={data}",
            "--storage.tsdb.retention.time=100y",  # the backfilled samples are in the past
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{url}/-/ready", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail("Prometheus did not become ready")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
