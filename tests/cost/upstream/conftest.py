"""Where the upstream FOCUS and OpenCost files live, and workspaces built from them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import yaml
from typer.testing import CliRunner

from opsledger.cli.main import app

UPSTREAM = Path(__file__).parents[2] / "fixtures" / "upstream"
SAMPLE = UPSTREAM / "focus" / "sample-data" / "FOCUS-1.0" / "focus_sample.csv"
SPEC = UPSTREAM / "focus" / "spec" / "specification" / "data"
OPENCOST = UPSTREAM / "opencost" / "static"
ALLOCATIONS = OPENCOST / "allocation-example-output.json"
CLOUD_COST = OPENCOST / "cloudCost-example-output.json"


def workspace(root: Path, *files: Path, config: dict[str, Any] | None = None) -> Path:
    """Return a workspace whose costs/ folder holds copies of ``files``."""
    folder = root / "costs"
    folder.mkdir(parents=True)
    for file in files:
        shutil.copyfile(file, folder / file.name)
    if config is not None:
        (root / "opsledger.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    return root


def run(*args: str) -> tuple[int, str]:
    """Return the exit code and standard output of one opsledger command."""
    outcome = CliRunner().invoke(app, list(args))
    return outcome.exit_code, outcome.stdout


def costs_status(root: Path) -> dict[str, Any]:
    """Return the ``costs`` line of ``validate --json``."""
    code, out = run("validate", str(root), "--json")
    assert code == 0, out
    return next(item for item in json.loads(out) if item["input"] == "costs")


def cost_document(root: Path, now: str) -> dict[str, Any]:
    code, out = run("cost", str(root), "--json", "--now", now)
    assert code == 0, out
    document: dict[str, Any] = json.loads(out)
    return document
