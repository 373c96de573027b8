"""INCIDENT-POSTMORTEMS/: front matter, sections, action items, and one bad file per mode."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from opsledger.core.problems import Level, Problem
from opsledger.model.common import ItemStatus
from opsledger.readers import postmortems

FIXTURES = Path(__file__).parent / "fixtures" / "handover" / "postmortems"


def folder_with(tmp_path: Path, *names: str) -> Path:
    folder = tmp_path / "INCIDENT-POSTMORTEMS"
    folder.mkdir()
    for name in names:
        shutil.copy(FIXTURES / name, folder / name)
    return folder


def texts(problems: list[Problem], level: Level) -> list[str]:
    return [str(p) for p in problems if p.level is level]


def test_good_postmortem(tmp_path: Path) -> None:
    folder = folder_with(tmp_path, "good.md")
    result = postmortems.read(folder)
    (pm,) = result.records
    assert pm.incident_id == "INC-1001"
    assert pm.title == "checkout: elevated 5xx after deploy"
    assert pm.service == "checkout"
    assert pm.severity == "SEV1"
    assert pm.incident_date == datetime(2026, 10, 1, 6, 5, tzinfo=UTC)
    assert pm.review_date == date(2026, 10, 6)
    assert pm.status == "published"  # "Published"
    assert pm.authors == ("Hana Osei", "Eli Novak")
    assert list(pm.sections) == ["Summary", "Root cause", "Action items"]
    assert pm.sections["Root cause"] == "A bad deploy."
    assert pm.path == str(folder / "good.md")
    first, second = pm.action_items
    assert (first.id, first.owner, first.due_date, first.status, first.priority) == (
        "A1",
        "Hana Osei",
        date(2026, 10, 16),
        ItemStatus.OPEN,
        "P1",
    )
    assert first.incident_id == "INC-1001" and first.service == "checkout"
    assert second.owner is None  # "—": kept for the follow-up check
    assert second.title == "Automatic rollback with `kubectl rollout undo | tee`"
    # The third action item has a bad date: quarantined alone, with the file's line number.
    (bad_date,) = texts(result.problems, Level.ROW)
    assert bad_date.startswith(f"{folder / 'good.md'}: line 30, column 'due': 'due' is not a date")
    assert not result.fatal


def test_malformed_front_matter_names_file_and_line(tmp_path: Path) -> None:
    folder = folder_with(tmp_path, "good.md", "malformed-front-matter.md")
    result = postmortems.read(folder)
    assert [pm.incident_id for pm in result.records] == ["INC-1001"]  # the other file stands
    bad = [p for p in result.problems if p.path.endswith("malformed-front-matter.md")]
    (problem,) = bad
    assert problem.level is Level.ROW
    assert problem.location.startswith("line ")
    assert "front matter: invalid YAML" in problem.message
    assert not result.fatal


def test_python_tag_is_refused_not_executed(tmp_path: Path) -> None:
    folder = folder_with(tmp_path, "python-tag.md")
    result = postmortems.read(folder)
    assert result.records == []
    (message,) = texts(result.problems, Level.ROW)
    assert message.startswith(f"{folder / 'python-tag.md'}: line 3: front matter uses a YAML tag")
    assert "python/object/apply:os.system" in message


def test_python_tag_on_a_scalar(tmp_path: Path) -> None:
    folder = tmp_path / "pm"
    folder.mkdir()
    (folder / "x.md").write_text("---\nincident_id: !!python/name:os.system\n---\n")
    (message,) = texts(postmortems.read(folder).problems, Level.ROW)
    assert f"{folder / 'x.md'}: line 2:" in message
    assert "YAML tag" in message


def test_no_front_matter(tmp_path: Path) -> None:
    folder = folder_with(tmp_path, "no-front-matter.md")
    result = postmortems.read(folder)
    (message,) = texts(result.problems, Level.ROW)
    assert message.startswith(f"{folder / 'no-front-matter.md'}: line 1: no YAML front matter")


@pytest.mark.parametrize(
    ("front", "where", "what"),
    [
        (
            "incident_id: INC-9\nseverity: catastrophic\n",
            "line 3, front matter 'severity'",
            "not a known severity",
        ),
        (
            "incident_id: INC-9\ndate: yesterday-ish\n",
            "line 3, front matter 'date'",
            "not a date-time",
        ),
        (
            "incident_id: INC-9\nstatus: shelved\n",
            "line 3, front matter 'status'",
            "not a postmortem status",
        ),
        ("title: no id here\n", "line 2, front matter 'incident_id'", "missing value"),
        ("- just\n- a list\n", "line 2", "front matter is not a mapping"),
        ("incident_id: INC-9\nincident_id: INC-10\n", "line 3", "duplicate key"),
    ],
)
def test_bad_front_matter_fields(tmp_path: Path, front: str, where: str, what: str) -> None:
    folder = tmp_path / "pm"
    folder.mkdir()
    (folder / "x.md").write_text(f"---\n{front}---\n\n# T\n")
    result = postmortems.read(folder)
    assert result.records == []
    (message,) = texts(result.problems, Level.ROW)
    assert message.startswith(f"{folder / 'x.md'}: {where}")
    assert what in message


def test_unclosed_front_matter(tmp_path: Path) -> None:
    folder = tmp_path / "pm"
    folder.mkdir()
    (folder / "x.md").write_text("---\nincident_id: INC-1\n\n# Title\n")
    (message,) = texts(postmortems.read(folder).problems, Level.ROW)
    assert "front matter is not closed" in message


def test_action_table_without_action_column(tmp_path: Path) -> None:
    folder = tmp_path / "pm"
    folder.mkdir()
    (folder / "x.md").write_text(
        "---\nincident_id: INC-7\n---\n\n## Action items\n\n| Owner | Due |\n|---|---|\n| a | b |\n"
    )
    result = postmortems.read(folder)
    (pm,) = result.records
    assert pm.action_items == ()
    (message,) = texts(result.problems, Level.ROW)
    assert message.startswith(f"{folder / 'x.md'}: line 7: missing required column action")


def test_missing_action_items_section_is_a_warning(tmp_path: Path) -> None:
    folder = tmp_path / "pm"
    folder.mkdir()
    (folder / "x.md").write_text("---\nincident_id: INC-7\ndate: 2026-10-01\n---\n\n## Summary\n")
    result = postmortems.read(folder)
    (pm,) = result.records
    assert pm.incident_date == datetime(2026, 10, 1, tzinfo=UTC)
    assert pm.status == "draft"
    assert pm.title == "INC-7"
    (warning,) = texts(result.problems, Level.WARNING)
    assert "no 'Action items' table" in warning


def test_templates_readmes_and_other_files_are_skipped(tmp_path: Path) -> None:
    folder = folder_with(tmp_path, "good.md")
    (folder / "README.md").write_text("# How to write a postmortem\n")
    (folder / "_template.md").write_text("---\nincident_id: INC-XXXX\n---\n")
    (folder / "notes.txt").write_text("not markdown")
    result = postmortems.read(folder)
    assert [pm.incident_id for pm in result.records] == ["INC-1001"]


def test_not_a_folder(tmp_path: Path) -> None:
    path = tmp_path / "INCIDENT-POSTMORTEMS"
    path.write_text("oops")
    result = postmortems.read(path)
    assert result.fatal
    assert "not a folder" in str(result.problems[0])


def test_alias_bomb_in_front_matter_is_refused_quickly(tmp_path: Path) -> None:
    # Nine levels of nine-fold aliases would expand to 387 million strings.
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 10):
        refs = ", ".join([f"*a{i - 1}"] * 9)
        levels.append(f"a{i}: &a{i} [{refs}]")
    folder = tmp_path / "pm"
    folder.mkdir()
    (folder / "bomb.md").write_text("---\nincident_id: INC-1\n" + "\n".join(levels) + "\n---\n")
    result = postmortems.read(folder)
    assert result.records == []
    (message,) = texts(result.problems, Level.ROW)
    assert message.startswith(f"{folder / 'bomb.md'}: ")
    assert "too many values" in message


def test_ordinary_aliases_in_front_matter_are_fine(tmp_path: Path) -> None:
    folder = tmp_path / "pm"
    folder.mkdir()
    (folder / "x.md").write_text(
        "---\nincident_id: INC-5\nreviewers: &people [Ana, Ben]\nauthors: *people\n---\n"
        "\n## Action items\n\n| Action |\n|---|\n| Fix it |\n"
    )
    result = postmortems.read(folder)
    assert result.problems == []
    (pm,) = result.records
    assert pm.authors == ("Ana", "Ben")


def test_self_referencing_alias_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "pm"
    folder.mkdir()
    (folder / "x.md").write_text("---\nincident_id: INC-5\nloop: &loop [a, *loop]\n---\n")
    (message,) = texts(postmortems.read(folder).problems, Level.ROW)
    assert "too many values" in message
