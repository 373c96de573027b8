"""Generate a whole demo workspace: every input, consistent with one seeded world."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from opsledger.core.errors import InputError
from opsledger.demo.alerts import write_alert_history
from opsledger.demo.catalog import write_catalog, write_security_risks
from opsledger.demo.config import write_config
from opsledger.demo.costs import write_costs, write_utilisation
from opsledger.demo.experiments import write_experiments
from opsledger.demo.handover import write_handover
from opsledger.demo.quality import write_test_reports
from opsledger.demo.records import write_gates, write_health, write_incidents, write_perf
from opsledger.demo.security import write_security
from opsledger.demo.slo import write_slos, write_telemetry
from opsledger.demo.tickets import write_tickets
from opsledger.demo.world import Size, World, build_world

Writer = Callable[[World, Path], list[Path]]

# (label, writer) in the order a person would read the workspace.
WRITERS: list[tuple[str, Writer]] = [
    ("configuration", write_config),
    ("quality gates", write_gates),
    ("health history", write_health),
    ("performance runs", write_perf),
    ("incident exports", write_incidents),
    ("handover documents", write_handover),
    ("service catalog", write_catalog),
    ("security risk log", write_security_risks),
    ("ticket history", write_tickets),
    ("scanner reports", write_security),
    ("SLO definitions", write_slos),
    ("request telemetry", write_telemetry),
    ("alert history", write_alert_history),
    ("CI test reports", write_test_reports),
    ("experiments", write_experiments),
    ("cloud costs", write_costs),
    ("utilisation", write_utilisation),
]

MARKER = ".opsledger-demo"


@dataclass(frozen=True)
class DemoWorkspace:
    root: Path
    world: World
    files: tuple[Path, ...]


def generate_demo(
    root: Path,
    size: Size = Size.MEDIUM,
    seed: int = 7,
    now: datetime | None = None,
    force: bool = False,
    progress: Callable[[str], None] = lambda message: None,
) -> DemoWorkspace:
    """Write a demo workspace at ``root`` and return what was written.

    The same ``size``, ``seed`` and ``now`` give byte-identical files. ``now`` defaults to
    the current minute (UTC), so the telemetry and probes reach the present and a review
    run right after finds them up to date.
    """
    _check_target(root, force)
    world = build_world(size, seed, now or datetime.now(UTC).replace(second=0, microsecond=0))
    root.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    for label, writer in WRITERS:
        progress(f"writing {label}")
        files.extend(writer(world, root))
    marker = root / MARKER
    marker.write_text(f"size={size.value} seed={seed} now={world.now.isoformat()}\n")
    return DemoWorkspace(root, world, tuple(sorted(files)))


def _check_target(root: Path, force: bool) -> None:
    if not root.exists():
        return
    if not root.is_dir():
        raise InputError(f"{root}: exists and is not a folder")
    entries = [p for p in root.iterdir()]
    if entries and not (root / MARKER).exists() and not force:
        raise InputError(
            f"{root}: folder is not empty and is not a demo workspace; "
            "choose another folder or pass --force"
        )
