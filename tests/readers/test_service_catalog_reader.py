"""SERVICE-CATALOG.xlsx: sheets, columns, formulas, and workbooks that must be refused."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pytest

from opsledger.core.problems import Level, ReadResult
from opsledger.formats import workbook
from opsledger.formats.workbook import ArchiveLimits, inspect_workbook_archive
from opsledger.model.handover import CatalogService
from opsledger.readers import service_catalog

HEADER = [
    "Service",
    "Owner",
    "Team",
    "Tier",
    "Lifecycle",
    "Deployment",
    "Dependencies",
    "Dashboard",
    "Runbook",
    "On-call",
]
SHEET_XML = "xl/worksheets/sheet1.xml"


def save(wb: openpyxl.Workbook, path: Path) -> Path:
    wb.save(path)
    return path


def catalog_workbook(rows: list[list[object]], title: str = "Services") -> openpyxl.Workbook:
    wb = openpyxl.Workbook()
    notes = wb.active
    notes.title = "Notes"
    notes.append(["Exported from the CMDB on 2026-10-01"])
    sheet = wb.create_sheet(title)
    sheet.append(HEADER)
    for row in rows:
        sheet.append(row)
    return wb


def rewrite_zip(
    path: Path, change: Callable[[str, bytes], bytes | None], extra: dict[str, bytes] | None = None
) -> Path:
    """Rewrite the archive at ``path``, passing each entry through ``change``."""
    source = zipfile.ZipFile(io.BytesIO(path.read_bytes()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = change(info.filename, source.read(info.filename))
            if data is not None:
                target.writestr(info.filename, data)
        for name, data in (extra or {}).items():
            target.writestr(name, data)
    path.write_bytes(out.getvalue())
    return path


def fatal(result: ReadResult[CatalogService]):
    problems = [p for p in result.problems if p.level is Level.FATAL]
    assert len(problems) == 1, [str(p) for p in result.problems]
    assert result.records == []
    return problems[0]


def simple_workbook(tmp_path: Path) -> Path:
    wb = openpyxl.Workbook()
    wb.active.title = "Services"
    wb.active.append(["service", "owner"])
    wb.active.append(["checkout", "Ana"])
    return save(wb, tmp_path / "SERVICE-CATALOG.xlsx")


def test_services_sheet_rows_become_catalog_services(tmp_path):
    wb = catalog_workbook(
        [
            [
                "checkout",
                "Ana Silva",
                "payments",
                0,
                "Production",
                "kubernetes",
                "auth, payments-api;ledger-db",
                "https://g/checkout",
                "https://w/checkout",
                "pay-primary",
            ],
            ["auth", None, "identity", "Tier 1", "production", "helm", None, None, None, None],
            [None, None, None, None, None, None, None, None, None, None],
            ["search", "Ben Park", "storefront", "T2", None, None, "-", None, None, None],
        ]
    )
    result = service_catalog.read(save(wb, tmp_path / "SERVICE-CATALOG.xlsx"))
    assert result.problems == []
    assert result.detected_format == "xlsx"
    assert result.records == [
        CatalogService(
            "checkout",
            "Ana Silva",
            "payments",
            0,
            "production",
            "kubernetes",
            ("auth", "payments-api", "ledger-db"),
            "https://g/checkout",
            "https://w/checkout",
            "pay-primary",
        ),
        # An empty owner is kept: unclear ownership is for later checks to report.
        CatalogService("auth", None, "identity", 1, "production", "helm", (), None, None, None),
        CatalogService("search", "Ben Park", "storefront", 2, None, None, (), None, None, None),
    ]


def test_first_sheet_with_a_service_column_is_used_and_title_rows_are_skipped(tmp_path):
    wb = openpyxl.Workbook()
    sheet = wb.active
    sheet.title = "Inventory 2026"
    sheet.append(["Service inventory"])
    sheet.append([])
    sheet.append(["Name", "Service Owner", "Criticality"])
    sheet.append(["checkout", "Ana", "tier-9"])
    sheet.append(["auth", "Ben", 1])
    result = service_catalog.read(save(wb, tmp_path / "catalog.xlsx"))
    assert [r.name for r in result.records] == ["auth"]
    [problem] = result.problems
    assert problem.level is Level.ROW
    assert problem.location == "sheet 'Inventory 2026' cell C4"
    assert "tier" in problem.message and problem.found == "'tier-9'"


def test_workbook_without_a_services_sheet_is_refused_naming_the_sheets(tmp_path):
    wb = openpyxl.Workbook()
    wb.active.title = "Budget"
    wb.active.append(["cost centre", "amount"])
    wb.create_sheet("Notes").append(["hello"])
    path = save(wb, tmp_path / "SERVICE-CATALOG.xlsx")
    problem = fatal(service_catalog.read(path))
    assert problem.path == str(path)
    assert "wrong sheet" in problem.message
    assert problem.found == "sheets 'Budget', 'Notes'"
    assert str(path) in str(problem)


def test_missing_owner_column_is_fatal_with_the_header_row(tmp_path):
    wb = openpyxl.Workbook()
    wb.active.title = "Services"
    wb.active.append(["service", "tier"])
    wb.active.append(["checkout", 0])
    path = save(wb, tmp_path / "SERVICE-CATALOG.xlsx")
    problem = fatal(service_catalog.read(path))
    assert problem.location == "sheet 'Services' row 1"
    assert problem.message == "missing required column owner"
    assert f"{path}: sheet 'Services' row 1" in str(problem)


def test_formula_cell_quarantines_its_row_rather_than_trusting_the_cached_value(tmp_path):
    wb = catalog_workbook(
        [
            ["checkout", "Ana", "payments", 0, None, None, None, None, None, None],
            [
                "auth",
                "=VLOOKUP(A3,People!A:B,2)",
                "identity",
                1,
                None,
                None,
                None,
                None,
                None,
                None,
            ],
            ["search", "Ben", "storefront", 2, None, None, None, None, None, None],
        ]
    )
    sheet = wb["Services"]
    sheet["J4"] = "pager"
    # Text typed with a leading '=' (stored as a string, not a formula) is refused too.
    sheet["G4"] = "=cmd|' /C calc'!A0"
    sheet["G4"].data_type = "s"
    path = save(wb, tmp_path / "SERVICE-CATALOG.xlsx")
    result = service_catalog.read(path)
    assert [r.name for r in result.records] == ["checkout"]
    locations = [(p.level, p.location) for p in result.problems]
    assert locations == [
        (Level.ROW, "sheet 'Services' cell B3"),
        (Level.ROW, "sheet 'Services' cell G4"),
    ]
    assert "formula" in result.problems[0].message
    assert result.problems[0].found == "'=VLOOKUP(A3,People!A:B,2)'"
    assert str(result.problems[1]).startswith(f"{path}: sheet 'Services' cell G4:")


def test_formula_cell_with_a_cached_value_is_still_refused(tmp_path):
    path = simple_workbook(tmp_path)

    def cached_formula(name: str, data: bytes) -> bytes:
        if name != SHEET_XML:
            return data
        # What Excel writes after calculating: the formula and its cached result.
        return data.replace(
            b'<c r="B2" t="inlineStr"><is><t>Ana</t></is></c>',
            b'<c r="B2" t="str"><f>CONCAT("A","na")</f><v>Ana</v></c>',
        )

    rewrite_zip(path, cached_formula)
    assert b"<f>" in zipfile.ZipFile(path).read(SHEET_XML)
    result = service_catalog.read(path)
    assert result.records == []
    [problem] = result.problems
    assert problem.location == "sheet 'Services' cell B2"
    assert problem.found == '\'=CONCAT("A","na")\''


def test_a_workbook_without_formulas_is_parsed_once(tmp_path, monkeypatch):
    loads: list[bool] = []
    real = service_catalog.load_workbook_safely

    def counting(path: Path, result: ReadResult[CatalogService], data_only: bool) -> object:
        loads.append(data_only)
        return real(path, result, data_only)

    monkeypatch.setattr(service_catalog, "load_workbook_safely", counting)
    row = ["checkout", "Ana", "payments", "T1", "Live", "k8s", "auth; db", None, None, "pay"]
    wb = catalog_workbook([row])
    plain = service_catalog.read(save(wb, tmp_path / "plain.xlsx"))
    assert loads == [False]
    # A formula anywhere, here on the notes sheet, brings back the pass over cached values.
    wb["Notes"]["B1"] = "=1+1"
    loads.clear()
    with_formula = service_catalog.read(save(wb, tmp_path / "formula.xlsx"))
    assert loads == [False, True]
    for result in (plain, with_formula):
        assert result.problems == []
        [service] = result.records
        assert (service.name, service.tier, service.lifecycle) == ("checkout", 1, "live")
        assert service.dependencies == ("auth", "db")


def test_duplicate_service_rows_keep_the_first(tmp_path):
    wb = catalog_workbook(
        [
            ["checkout", "Ana", None, None, None, None, None, None, None, None],
            ["checkout", "Ben", None, None, None, None, None, None, None, None],
        ]
    )
    result = service_catalog.read(save(wb, tmp_path / "c.xlsx"))
    assert [(r.name, r.owner) for r in result.records] == [("checkout", "Ana")]
    [problem] = result.problems
    assert problem.location == "sheet 'Services' cell A3"
    assert problem.found == "also on row 2"


def test_zip_bomb_entry_is_refused_before_parsing(tmp_path):
    path = simple_workbook(tmp_path)
    # Whitespace after the root element is legal XML and inflates ~1000-fold.
    rewrite_zip(
        path, lambda name, data: data + b" " * (8 * 1024 * 1024) if name == SHEET_XML else data
    )
    problem = fatal(service_catalog.read(path))
    assert problem.location == f"entry '{SHEET_XML}'"
    assert "zip bomb" in problem.message
    assert str(path) in str(problem)


def test_archive_total_size_and_entry_count_are_bounded(tmp_path):
    path = simple_workbook(tmp_path)
    total = sum(i.file_size for i in zipfile.ZipFile(path).infolist())
    entries = len(zipfile.ZipFile(path).infolist())
    result: ReadResult[object] = ReadResult(path)
    assert inspect_workbook_archive(path, result)
    assert not inspect_workbook_archive(path, result, ArchiveLimits(total_uncompressed=total - 1))
    assert "size limit" in result.problems[-1].message
    assert not inspect_workbook_archive(path, result, ArchiveLimits(entries=entries - 1))
    assert result.problems[-1].found == f"{entries} entries"


@pytest.mark.parametrize(
    "name", ["../evil.xml", "/etc/evil.xml", "xl\\..\\evil.xml", "C:/evil.xml"]
)
def test_entry_escaping_the_archive_is_refused(tmp_path, name):
    path = rewrite_zip(simple_workbook(tmp_path), lambda n, d: d, {name: b"<x/>"})
    problem = fatal(service_catalog.read(path))
    assert "escapes the archive" in problem.message
    assert problem.location == f"entry {name!r}"


BILLION_LAUGHS = b"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE worksheet [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>
<row r="1"><c r="A1" t="inlineStr"><is><t>service</t></is></c>
<c r="B1" t="inlineStr"><is><t>owner</t></is></c></row>
<row r="2"><c r="A2" t="inlineStr"><is><t>&lol9;</t></is></c>
<c r="B2" t="inlineStr"><is><t>Ana</t></is></c></row>
</sheetData></worksheet>"""


def laughing_workbook(tmp_path: Path) -> Path:
    return rewrite_zip(
        simple_workbook(tmp_path), lambda name, data: BILLION_LAUGHS if name == SHEET_XML else data
    )


def test_workbook_xml_with_a_doctype_is_refused(tmp_path):
    path = laughing_workbook(tmp_path)
    problem = fatal(service_catalog.read(path))
    assert problem.location == f"entry '{SHEET_XML}'"
    assert "document type or entities" in problem.message
    assert problem.found == "<!DOCTYPE"


def test_openpyxl_parses_with_defusedxml():
    import openpyxl.xml
    import openpyxl.xml.functions

    assert openpyxl.xml.DEFUSEDXML is True
    assert openpyxl.xml.functions.iterparse.__module__.startswith("defusedxml")
    assert workbook.xml_defence_problem() is None


def test_entity_expansion_is_refused_by_the_parser_even_past_the_scan(tmp_path, monkeypatch):
    # Second line of defence: were the archive scan to miss a DOCTYPE, defusedxml inside
    # openpyxl refuses the entity declarations instead of expanding them.
    path = laughing_workbook(tmp_path)
    monkeypatch.setattr(service_catalog, "inspect_workbook_archive", lambda p, r: True)
    problem = fatal(service_catalog.read(path))
    assert "entities" in problem.message
    assert "EntitiesForbidden" in problem.found


def test_reading_is_refused_when_openpyxl_would_parse_unprotected(tmp_path, monkeypatch):
    import openpyxl.xml

    monkeypatch.setattr(openpyxl.xml, "DEFUSEDXML", False)
    problem = fatal(service_catalog.read(simple_workbook(tmp_path)))
    assert "without protection" in problem.message


def test_files_that_are_not_xlsx_workbooks_get_one_clear_problem(tmp_path):
    legacy = tmp_path / "old.xlsx"
    legacy.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 512)
    assert "legacy .xls" in fatal(service_catalog.read(legacy)).message
    text = tmp_path / "text.xlsx"
    text.write_text("service,owner\ncheckout,Ana\n")
    assert "not a readable zip" in fatal(service_catalog.read(text)).message
    other_zip = tmp_path / "other.xlsx"
    with zipfile.ZipFile(other_zip, "w") as archive:
        archive.writestr("readme.txt", "hello")
    problem = fatal(service_catalog.read(other_zip))
    assert problem.location == "entry '[Content_Types].xml'"
    broken = simple_workbook(tmp_path)
    rewrite_zip(broken, lambda n, d: b"<worksheet><sheetData><row>" if n == SHEET_XML else d)
    assert fatal(service_catalog.read(broken)).message == "workbook cannot be read"


def test_tier_spellings():
    assert [service_catalog.parse_tier(v) for v in (0, 1.0, "2", "T3", "tier-1", "Tier 0")] == [
        0,
        1,
        2,
        3,
        1,
        0,
    ]
    assert [service_catalog.parse_tier(v) for v in (True, 1.5, 9, "gold", "", None)] == [None] * 6


def test_text_in_a_number_cell_quarantines_only_its_row_naming_the_cell(tmp_path):
    # Attack: a cell typed as a number that stores text made openpyxl raise while parsing
    # the sheet, and the whole catalog was lost with no cell named.
    wb = catalog_workbook(
        [
            ["checkout", "Ana", "payments", 1],
            ["search", "Bo", "discovery", 2],
            ["billing", "Cy", "payments", 3],
        ]
    )
    path = save(wb, tmp_path / "SERVICE-CATALOG.xlsx")
    sheet_xml = "xl/worksheets/sheet2.xml"

    def text_in_number(name: str, data: bytes) -> bytes:
        if name != sheet_xml:
            return data
        assert b'<c r="D3" t="n"><v>2</v></c>' in data
        return data.replace(b'<c r="D3" t="n"><v>2</v></c>', b'<c r="D3" t="n"><v>two</v></c>')

    rewrite_zip(path, text_in_number)
    result = service_catalog.read(path)
    assert [r.name for r in result.records] == ["checkout", "billing"]
    [problem] = result.problems
    assert problem.level is Level.ROW
    assert problem.location == "sheet 'Services' cell D3"
    assert problem.found == "'two'"
    assert problem.expected.startswith("a number")
