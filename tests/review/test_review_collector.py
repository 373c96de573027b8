"""A review keeps what it read out of the garbage collector's passes while its sections run,
and hands everything back to the collector when it ends, whether it succeeds or fails."""

from __future__ import annotations

import gc
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from opsledger.core.inputs import Context
from opsledger.core.workspace import InputKey, open_workspace
from opsledger.render.sections import Section
from opsledger.review import service

CLOCK = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture
def workspace(small_demo: Path, tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    shutil.copytree(small_demo, root)
    return root


def test_records_read_are_frozen_while_sections_run_and_released_after(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[int, int, int]] = []

    def observing_section(ctx: Context) -> Section:
        probes = ctx.inputs.read(InputKey.HEALTH).record_count  # held by column
        records = [*ctx.inputs.records(InputKey.INCIDENTS), *ctx.inputs.records(InputKey.TICKETS)]
        gc.collect()
        # A frozen object is in the permanent generation, which no pass of the collector
        # walks: gc.get_objects() lists the objects of the other generations only. (The
        # freeze count itself falls whenever a frozen object is freed, by any thread.)
        walked = {id(thing) for thing in gc.get_objects()}
        seen.append((probes, len(records), sum(id(record) in walked for record in records)))
        return Section("observing", "Observing", "_observed_\n")

    monkeypatch.setattr(service, "APPENDIX", (*service.APPENDIX, observing_section))
    assert gc.get_freeze_count() == 0
    result = service.run_review(open_workspace(workspace), CLOCK)
    [(probes, records, walked)] = seen
    # Every record read (incidents, tickets) was frozen, and stayed so through a collection.
    assert probes > 10_000 and records > 100
    assert walked == 0
    assert gc.get_freeze_count() == 0
    assert [s.key for s in result.sections][-1] == "observing"
    assert result.report.exists()


def test_a_review_that_fails_still_releases_what_it_froze(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing_write(*args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(service, "write_review", failing_write)
    with pytest.raises(OSError, match="disk full"):
        service.run_review(open_workspace(workspace), CLOCK)
    assert gc.get_freeze_count() == 0
