"""The inventory section, the report's appendix: what was found, missing or malformed."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from opsledger.core.inputs import Context, InputStatus
from opsledger.core.problems import Level, Problem
from opsledger.render.sections import Section, Status, md_escape, md_table

TITLE = "Inputs (appendix)"
# Problems listed per input in the report; the rest are counted.
LISTED_PROBLEMS = 10


def relative(status: InputStatus, root: Path) -> str:
    try:
        return status.path.relative_to(root).as_posix()
    except ValueError:
        return str(status.path)


def portable(problem: Problem, root: Path) -> str:
    """Return the problem as text with its path relative to the workspace."""
    path = Path(problem.path)
    if path.is_absolute() and path.is_relative_to(root):
        return str(replace(problem, path=path.relative_to(root).as_posix()))
    return str(problem)


def relative_path(text: str, root: Path) -> str:
    path = Path(text)
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else text


def inventory_rows(inventory: list[InputStatus], root: Path) -> list[list[object]]:
    return [
        [
            status.key.value,
            relative(status, root),
            status.state,
            status.records if status.present else "",
            status.detected_format,
            len(status.problems) or "",
        ]
        for status in inventory
    ]


def inventory_section(ctx: Context) -> Section:
    inventory = ctx.inputs.inventory()
    malformed = [s for s in inventory if s.malformed]
    missing = [s for s in inventory if not s.present]
    quarantined = sum(s.quarantined for s in inventory)
    header = ["Input", "Path", "State", "Records", "Format", "Problems"]
    clean = [s for s in inventory if s.present and not s.malformed and not s.problems]
    troubled = [s for s in inventory if s not in clean]
    root = ctx.workspace.root
    body = f"{len(clean)} of {len(inventory)} inputs read cleanly"
    body += (" (listed under “On target”); the others:\n\n" if troubled else ".\n")
    if troubled:
        body += md_table(header, inventory_rows(troubled, root), "lllrlr")
    problem_lines: list[str] = []
    for status in inventory:
        shown = [p for p in status.problems if p.level is not Level.WARNING][:LISTED_PROBLEMS]
        problem_lines.extend(f"- `{md_escape(portable(p, root))}`" for p in shown)
        rest = len([p for p in status.problems if p.level is not Level.WARNING]) - len(shown)
        if rest > 0:
            problem_lines.append(f"- … and {rest} more in {md_escape(status.key.value)}")
    if problem_lines:
        body += "\nProblems found (malformed files are not used; bad rows are quarantined):\n\n"
        body += "\n".join(problem_lines) + "\n"
    outcome = Status.FAIL if malformed else Status.WARN if (missing or quarantined) else Status.PASS
    headline = (
        f"{len(inventory) - len(missing)} of {len(inventory)} inputs found, "
        f"{len(malformed)} malformed, {quarantined} rows quarantined"
    )
    return Section(
        "inventory",
        TITLE,
        body,
        outcome,
        {
            "headline": headline,
            "inputs": [
                {
                    "key": s.key.value,
                    "path": relative(s, root),
                    "state": s.state,
                    "records": s.records,
                    "format": s.detected_format,
                    "problems": [
                        {**p.to_json(), "path": relative_path(p.path, root)}
                        for p in s.problems
                    ],
                }
                for s in inventory
            ],
        },
        headline=headline,
        details=md_table(header, inventory_rows(clean, root), "lllrlr") if clean else "",
    )
