"""One result vocabulary across the package: skipped results share a base, documents are
serialised by ``to_json``, and every schema version comes from :mod:`opsledger.model.schema`."""

from __future__ import annotations

import ast
import importlib
from collections import Counter
from pathlib import Path

import opsledger
from opsledger.model import schema
from opsledger.model.status import Skipped, SkippedResult

PACKAGE = Path(opsledger.__file__).parent
# The demo writes other tools' formats (their schema versions are theirs, not ours).
OWN_DOCUMENTS = [p for p in sorted(PACKAGE.rglob("*.py")) if "demo" not in p.parts]


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def classes() -> list[tuple[str, ast.ClassDef]]:
    found = []
    for path in OWN_DOCUMENTS:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        found += [(module_name(path), node) for node in tree.body
                  if isinstance(node, ast.ClassDef)]
    return found


def test_every_skipped_result_derives_from_the_shared_base() -> None:
    skipped = [(module, node.name) for module, node in classes()
               if node.name.startswith(("Skipped", "NotAvailable", "NotAnalyzed"))
               and node.name != "SkippedResult"]
    assert len(skipped) >= 10
    for module, name in skipped:
        cls = getattr(importlib.import_module(module), name)
        assert issubclass(cls, SkippedResult), f"{module}.{name}"
        assert "reason" in getattr(cls, "__dataclass_fields__", {}), f"{module}.{name}"
    names = Counter(name for _, name in skipped)
    assert [n for n, count in names.items() if count > 1] == []


def test_the_bare_skipped_result_serialises_its_reason() -> None:
    assert Skipped("no data").to_json() == {"skipped": "no data"}
    assert Skipped("no data").skipped is True


def test_documents_are_serialised_by_to_json_only() -> None:
    for module, node in classes():
        methods = {f.name for f in node.body if isinstance(f, ast.FunctionDef)}
        assert not methods & {"to_dict", "as_dict", "as_json"}, f"{module}.{node.name}"


def test_schema_versions_come_from_the_schema_module() -> None:
    """No document writes a literal ``schema_version``; each names its family's constant."""
    literal = []
    for path in OWN_DOCUMENTS:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Dict):
                for key, value in zip(node.keys, node.values, strict=True):
                    if (isinstance(key, ast.Constant) and key.value == "schema_version"
                            and isinstance(value, ast.Constant)):
                        literal.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert literal == []
    families = {k: v for k, v in vars(schema).items() if k.isupper()}
    assert len(families) >= 8 and all(type(v) is int and v >= 1 for v in families.values())
