"""docs/architecture.md names only files, folders and modules that exist, and answers each of
its three questions by naming at most three files."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "architecture.md"

QUESTIONS = (
    "Where does the 1h burn rate come from?",
    "How does a bad row in ticket-history.csv reach the report?",
    "What happens when the Product Owner approves the plan?",
)
MAX_FILES_PER_ANSWER = 3

CODE_SPAN = re.compile(r"`([^`\n]+)`")
SOURCE_PATH = re.compile(r"src/opsledger/(?:[A-Za-z0-9_]+/)*[A-Za-z0-9_]+\.py")
FOLDER_PATH = re.compile(r"src/opsledger/(?:[A-Za-z0-9_]+/)+")
MODULE_NAME = re.compile(r"opsledger(?:\.[A-Za-z_][A-Za-z0-9_]*)+")
# Names that look dotted but are files (``opsledger.yaml``, the workspace configuration).
FILE_SUFFIXES = {"yaml", "yml", "json", "csv", "md", "toml", "txt", "lock"}


def doc_text() -> str:
    return DOC.read_text(encoding="utf-8")


def code_spans(text: str) -> list[str]:
    return [span.strip() for span in CODE_SPAN.findall(text)]


def paths_named(text: str) -> list[str]:
    """Return every file or folder path under src/opsledger written as a code span."""
    return sorted(
        {
            span
            for span in code_spans(text)
            if SOURCE_PATH.fullmatch(span) or FOLDER_PATH.fullmatch(span)
        }
    )


def modules_named(text: str) -> list[str]:
    """Return every dotted module name written as a code span (``module:function`` too)."""
    names = set()
    for span in code_spans(text):
        module = span.strip('"').partition(":")[0]
        if MODULE_NAME.fullmatch(module) and module.rpartition(".")[2] not in FILE_SUFFIXES:
            names.add(module)
    return sorted(names)


def subsection(text: str, title: str) -> str:
    """Return the body of the ``###`` subsection titled ``title``, up to the next heading."""
    match = re.search(rf"^### {re.escape(title)}[ \t]*\n(.*?)(?=^#{{1,3}} |\Z)", text, re.M | re.S)
    assert match, f"docs/architecture.md has no '### {title}' subsection"
    return match.group(1)


def test_the_doc_names_paths_and_modules() -> None:
    text = doc_text()
    assert len(paths_named(text)) >= 10
    assert modules_named(text)


@pytest.mark.parametrize("path", paths_named(doc_text()))
def test_named_path_exists(path: str) -> None:
    target = ROOT / path
    if path.endswith("/"):
        assert target.is_dir(), f"docs/architecture.md names {path}, which is not a folder"
    else:
        assert target.is_file(), f"docs/architecture.md names {path}, which does not exist"


@pytest.mark.parametrize("module", modules_named(doc_text()))
def test_named_module_exists(module: str) -> None:
    try:
        spec = importlib.util.find_spec(module)
    except ModuleNotFoundError:
        spec = None
    assert spec is not None, f"docs/architecture.md names {module}, which cannot be imported"


@pytest.mark.parametrize("question", QUESTIONS)
def test_each_answer_names_at_most_three_files(question: str) -> None:
    files = set(SOURCE_PATH.findall(subsection(doc_text(), question)))
    assert files, f"the answer to '{question}' names no file"
    assert len(files) <= MAX_FILES_PER_ANSWER, (
        f"the answer to '{question}' names {len(files)} files: {sorted(files)}"
    )
