"""The package's shape: no module imports itself back through others, and each capability
is one package whose interface is its service."""

from __future__ import annotations

from pathlib import Path

import grimp

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "opsledger"
KERNEL = ("core", "model", "formats", "readers", "engines", "render", "approvals", "forecasting")
CAPABILITIES = ("slo", "incidents", "patching", "cost", "support", "backlog", "experiments",
                "quality", "review", "protocols")


def import_cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Return the strongly connected groups of modules (Tarjan), those of two or more."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                cycles.append(sorted(group))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return cycles


def test_no_module_imports_itself_back() -> None:
    graph = grimp.build_graph("opsledger", cache_dir=None)
    assert import_cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = grimp.ImportGraph()
    for name in ("a", "a.b", "a.c", "a.d"):
        graph.add_module(name)
    graph.add_import(importer="a.b", imported="a.c")
    graph.add_import(importer="a.c", imported="a.b")
    graph.add_import(importer="a.c", imported="a.d")
    assert import_cycles(graph) == [["a.b", "a.c"]]


def test_only_the_front_door_and_the_version_sit_at_the_root() -> None:
    modules = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert modules == ["__init__.py", "version.py"]


def test_every_package_is_kernel_capability_demo_or_command_line() -> None:
    packages = sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists())
    assert packages == sorted((*KERNEL, *CAPABILITIES, "demo", "cli"))


def test_every_capability_has_its_service() -> None:
    assert [c for c in CAPABILITIES if not (PACKAGE / c / "service.py").exists()] == []
