"""The test side of the hostile-file harness: a worker process with a per-case timeout,
and where each registered reader expects its input."""

from __future__ import annotations

import importlib
import json
import os
import select
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opsledger.core.config import Config
from opsledger.core.problems import Level
from opsledger.core.workspace import InputKey, Workspace
from opsledger.readers.registry import READERS

from .corpus import ALL_SUFFIXES

WORKER = Path(__file__).with_name("worker.py")
CASE_TIMEOUT = 60.0  # far above any case; a hang still fails, a loaded CI machine does not


class CaseTimeout(Exception):
    """The worker did not answer in time: the case hangs (or is far too slow)."""


class Worker:
    """One worker process; restarted after a timeout or a crash."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[str] | None = None

    def _start(self) -> subprocess.Popen[str]:
        env = dict(os.environ, PYTHONHASHSEED="0", COLUMNS="200")
        env.pop("OPSLEDGER_DEBUG", None)
        return subprocess.Popen(
            [sys.executable, str(WORKER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
        )

    def ask(self, request: dict[str, Any], timeout: float = CASE_TIMEOUT) -> dict[str, Any]:
        if self.process is None or self.process.poll() is not None:
            self.process = self._start()
        process = self.process
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(json.dumps(request) + "\n")
        process.stdin.flush()
        ready, _, _ = select.select([process.stdout], [], [], timeout)
        if not ready:
            self.close()
            raise CaseTimeout(f"no answer within {timeout:g} s: {request}")
        line = process.stdout.readline()
        if not line:
            code = process.wait()
            self.process = None
            return {"error": f"worker died with exit status {code} (killed by the OS?)"}
        answer: dict[str, Any] = json.loads(line)
        return answer

    def close(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None


@dataclass(frozen=True)
class ReaderTarget:
    """A registered reader and where the workspace puts its input."""

    key: InputKey
    reader: str
    relative: Path  # a file, or a folder the reader scans

    @property
    def is_folder(self) -> bool:
        return not self.relative.suffix


def reader_targets() -> list[ReaderTarget]:
    """Return every reader in the registry, so a newly registered one is covered at once."""
    anchor = Path("/workspace")
    layout = Workspace(anchor, Config())
    return [
        ReaderTarget(key, f"{READERS[key].__module__}:{READERS[key].__name__}",
                     layout.path(key).relative_to(anchor))
        for key in InputKey
        if key in READERS
    ]


# Spellings of one format that a reader handles with the same code: one of each is enough.
SAME_FORMAT = ({".yaml", ".yml"}, {".jsonl", ".ndjson"})


def distinct_formats(suffixes: frozenset[str]) -> list[str]:
    """Return ``suffixes`` sorted, keeping one spelling of each format."""
    kept: list[str] = []
    for suffix in sorted(suffixes):
        if not any(suffix in group and kept_one in group
                   for group in SAME_FORMAT for kept_one in kept):
            kept.append(suffix)
    return kept


def accepted_suffixes(target: ReaderTarget) -> frozenset[str]:
    """Return the suffixes a folder reader opens, found by probing it with a bad file.

    A suffix counts when a file of that kind holding a NUL byte gives a fatal or row
    problem naming the file; a reader that skips the file (or only warns that it does
    not know the kind) does not read it.
    """
    if not target.is_folder:
        return frozenset({target.relative.suffix.lower()})
    module_name, _, function = target.reader.partition(":")
    reader = getattr(importlib.import_module(module_name), function)
    found = set()
    with tempfile.TemporaryDirectory() as tmp:
        for suffix in sorted(ALL_SUFFIXES):
            folder = Path(tmp) / suffix.strip(".")
            folder.mkdir()
            probe = folder / f"probe{suffix}"
            probe.write_bytes(b"probe\x00\n")
            try:
                result = reader(folder)
            except Exception:
                found.add(suffix)  # the hostile cases will show the crash
                continue
            if any(p.path == str(probe) and p.level is not Level.WARNING for p in result.problems):
                found.add(suffix)
    return frozenset(found)


def seed_for(demo: Path, target: ReaderTarget, suffix: str) -> bytes | None:
    """Return a valid file of this kind from the demo workspace, to start the attack from."""
    source = demo / target.relative
    if source.is_file():
        return source.read_bytes()
    if source.is_dir():
        for candidate in sorted(source.rglob(f"*{suffix}")):
            if candidate.is_file():
                return candidate.read_bytes()
    return None


def place(root: Path, target: ReaderTarget, suffix: str) -> Path:
    """Return where the hostile file goes for this reader (its file, or inside its folder)."""
    if target.is_folder:
        folder = root / target.relative
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"hostile{suffix}"
    path = root / target.relative
    path.parent.mkdir(parents=True, exist_ok=True)
    return path
