"""The command line has Arrow allocate with jemalloc on Linux, unless told otherwise."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from opsledger.cli import ARROW_ALLOCATOR, choose_arrow_allocator


def _run(probe: str, **environment: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != ARROW_ALLOCATOR} | environment
    return subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          env=env, timeout=120, check=True)


def test_jemalloc_is_chosen_on_linux_when_nothing_was_chosen(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(ARROW_ALLOCATOR, raising=False)
    choose_arrow_allocator("linux")
    assert os.environ[ARROW_ALLOCATOR] == "jemalloc"


def test_a_choice_already_made_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ARROW_ALLOCATOR, "mimalloc")
    choose_arrow_allocator("linux")
    assert os.environ[ARROW_ALLOCATOR] == "mimalloc"


@pytest.mark.parametrize("platform", ["darwin", "win32"])
def test_other_platforms_keep_arrow_s_default(monkeypatch: pytest.MonkeyPatch,
                                              platform: str) -> None:
    monkeypatch.delenv(ARROW_ALLOCATOR, raising=False)
    choose_arrow_allocator(platform)
    assert ARROW_ALLOCATOR not in os.environ


@pytest.mark.skipif(sys.platform != "linux", reason="jemalloc is chosen on Linux only")
def test_the_command_line_runs_arrow_on_jemalloc_without_a_warning() -> None:
    # The pyarrow installed must have jemalloc built in, or Arrow would warn on every command.
    probe = ("import sys\nfrom opsledger.cli import main\nsys.argv = ['opsledger', '--help']\n"
             "try:\n    main()\nexcept SystemExit:\n    pass\n"
             "import pyarrow as pa\npa.array([1, 2, 3])\n"
             "print('backend', pa.default_memory_pool().backend_name)")
    done = _run(probe)
    assert done.stdout.splitlines()[-1] == "backend jemalloc"
    assert "memory_pool" not in done.stderr and "Unsupported" not in done.stderr


def test_the_user_s_choice_reaches_arrow() -> None:
    probe = ("from opsledger.cli import choose_arrow_allocator\nchoose_arrow_allocator()\n"
             "import pyarrow as pa\nprint(pa.default_memory_pool().backend_name)")
    assert _run(probe, **{ARROW_ALLOCATOR: "system"}).stdout.strip() == "system"
