"""Each coverage-guided fuzz target in ``fuzz/`` runs for a short budget without a crash.

Seeds come from the demo workspace (the start of each file of the family's kinds), so the
fuzzer mutates realistic exports rather than starting from nothing. The targets run side
by side (each is its own process) to keep the wall time short.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("atheris", reason="atheris is not installed (pip install atheris)")

FUZZ_DIR = Path(__file__).resolve().parents[2] / "fuzz"
TARGETS = sorted(FUZZ_DIR.glob("fuzz_*.py"))
RUNS = 2000
SECONDS = 1  # or RUNS, whichever comes first; longer runs are for `make fuzz`
SEED_BYTES = 32 * 1024


def families() -> dict[str, tuple[str, ...]]:
    sys.path.insert(0, str(FUZZ_DIR))
    try:
        from readers_under_fuzz import FAMILIES
    finally:
        sys.path.remove(str(FUZZ_DIR))
    return FAMILIES


def seed_corpus(demo: Path, suffixes: tuple[str, ...], folder: Path) -> int:
    folder.mkdir(parents=True)
    count = 0
    for path in sorted(demo.rglob("*")):
        if path.is_file() and path.suffix.lower() in suffixes:
            data = path.read_bytes()
            if len(data) > SEED_BYTES and path.suffix.lower() not in (".zip", ".xlsx"):
                data = data[: data.rfind(b"\n", 0, SEED_BYTES) + 1]
            (folder / f"{count:03d}{path.suffix}").write_bytes(data)
            count += 1
    return count


@pytest.fixture(scope="module")
def campaigns(
    small_demo: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, tuple[subprocess.CompletedProcess[str], list[str]]]:
    """Run every target at once; return each one's process result and crash files."""
    root = tmp_path_factory.mktemp("fuzz")
    running = {}
    for target in TARGETS:
        family = target.stem.removeprefix("fuzz_")
        corpus = root / family / "corpus"
        assert seed_corpus(small_demo, families()[family], corpus) > 0, family
        crashes = root / family / "crashes"
        crashes.mkdir()
        command = [
            sys.executable, str(target), f"-runs={RUNS}", f"-max_total_time={SECONDS}",
            "-timeout=10", "-rss_limit_mb=1024", f"-max_len={64 * 1024}",
            f"-artifact_prefix={crashes}/", str(corpus),
        ]
        running[family] = (
            command,
            crashes,
            subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                env=dict(os.environ, OPSLEDGER_FUZZ_WORKDIR=str(root / family / "work")),
            ),
        )
    results = {}
    for family, (command, crashes, process) in running.items():
        out, err = process.communicate(timeout=180)
        completed = subprocess.CompletedProcess(command, process.returncode, out, err)
        results[family] = (completed, sorted(p.name for p in crashes.iterdir()))
    return results


def test_there_is_a_target_per_reader_family() -> None:
    assert {p.stem.removeprefix("fuzz_") for p in TARGETS} == set(families())


@pytest.mark.parametrize("family", sorted(families()))
def test_fuzz_target_runs_without_a_crash(
    campaigns: dict[str, tuple[subprocess.CompletedProcess[str], list[str]]], family: str
) -> None:
    run, crashes = campaigns[family]
    assert run.returncode == 0 and not crashes, run.stderr[-4000:]
    assert "Done" in run.stderr
