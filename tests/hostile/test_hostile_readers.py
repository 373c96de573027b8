"""Every registered reader against every hostile file that fits its input.

A reader must return a ReadResult, never raise, never hang (per-case timeout), keep its
memory bounded, and for a refused file name the file in a fatal or row problem.
The list of readers comes from the registry, so a reader registered later is covered too.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from opsledger.core.problems import Level

from .corpus import (
    CASES,
    MARKER_NAME,
    HostileCase,
)
from .harness import (
    ReaderTarget,
    Worker,
    accepted_suffixes,
    distinct_formats,
    place,
    reader_targets,
    seed_for,
)

# Peak memory a reader may add while handling one hostile file (the 1 GiB file included).
MEMORY_BOUND_KIB = 160 * 1024
GIGABYTE_MEMORY_BOUND_KIB = 48 * 1024


def _params() -> Iterator[Any]:
    for target in reader_targets():
        suffixes = accepted_suffixes(target)
        for case in CASES:
            for suffix in distinct_formats(suffixes & case.suffixes):
                label = f"{target.key.value}-{case.name}"
                if target.is_folder:
                    label += suffix
                yield pytest.param(target, case, suffix, id=label)


PARAMS = list(_params())


@pytest.fixture(scope="module")
def worker() -> Iterator[Worker]:
    running = Worker()
    yield running
    running.close()


def check_answer(answer: dict[str, Any], case: HostileCase, file: Path) -> None:
    assert "error" not in answer, f"{case.name} on {file.name}:\n{answer['error']}"
    bound = GIGABYTE_MEMORY_BOUND_KIB if case.name == "gigabyte-line" else MEMORY_BOUND_KIB
    assert answer["peak_growth_kib"] < bound, (
        f"{case.name}: memory grew by {answer['peak_growth_kib'] // 1024} MiB"
    )
    naming = [
        p for p in answer["problems"]
        if p["level"] != Level.WARNING.value and p["path"] == str(file) and p["message"]
    ]
    if case.expect == "refuse":
        assert naming, f"{case.name}: no problem names {file}: {answer['problems']}"
        assert all(str(file) in p["text"] for p in naming)
    if case.name == "utf16-with-bom":
        assert any("UTF-16" in p["message"] for p in naming), naming
    if case.expect == "finite":
        assert not answer["non_finite"] or naming, (
            f"{case.name}: NaN or infinity accepted into the records without a problem"
        )


@pytest.mark.parametrize(("target", "case", "suffix"), PARAMS)
def test_reader_survives_hostile_file(
    worker: Worker,
    small_demo: Path,
    tmp_path: Path,
    target: ReaderTarget,
    case: HostileCase,
    suffix: str,
) -> None:
    file = place(tmp_path, target, suffix)
    case.build(file, seed_for(small_demo, target, suffix))
    answer = worker.ask({"op": "read", "reader": target.reader, "path": str(tmp_path /
                                                                           target.relative)})
    check_answer(answer, case, file)
    assert not (file.parent / MARKER_NAME).exists(), "a YAML tag ran code"


def test_every_registered_reader_meets_hostile_files() -> None:
    covered = {p.values[0].key for p in PARAMS}
    assert covered == {t.key for t in reader_targets()}
    # Each reader gets at least the size, garbage and empty cases.
    for target in reader_targets():
        names = {p.values[1].name for p in PARAMS if p.values[0].key is target.key}
        assert {"gigabyte-line", "garbage", "empty"} <= names, target.key


def test_gigabyte_file_is_sparse_and_refused_by_size(worker: Worker, tmp_path: Path) -> None:
    """The 1 GiB file costs no disk, and a reader refuses it by size without reading it."""
    case = next(c for c in CASES if c.name == "gigabyte-line")
    target = next(t for t in reader_targets() if t.relative.suffix == ".csv")
    file = place(tmp_path, target, ".csv")
    case.build(file, None)
    assert file.stat().st_size == 1 << 30
    assert file.stat().st_blocks * 512 < 1 << 20
    answer = worker.ask({"op": "read", "reader": target.reader, "path": str(file)})
    assert answer["seconds"] < 2.0
    assert any("too large" in p["message"] for p in answer["problems"]), answer["problems"]
