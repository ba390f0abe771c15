"""Reading an .xlsx back in tests, with the standard library only (zipfile + ElementTree).

The project's environment has no spreadsheet reader (openpyxl, fastexcel): xlsxwriter writes,
nothing reads. An .xlsx is a zip of XML parts, and the few facts the workbook tests check (sheet
order, cell values, number format codes, merged ranges, autofilter, frozen panes) are each one
attribute away, so a reader here is smaller than a new dependency.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RELATIONSHIPS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
NS = {"x": MAIN}
BUILT_IN_FORMATS = {
    0: "General",
    1: "0",
    2: "0.00",
    3: "#,##0",
    4: "#,##0.00",
    9: "0%",
    10: "0.00%",
}


@dataclass(frozen=True)
class CellValue:
    """One cell: its value (str for text, float for a number, bool) and number format code."""

    value: str | float | bool | None
    number_format: str
    is_formula: bool = False


@dataclass
class Sheet:
    """One worksheet: cells by reference ('B3'), merged ranges, autofilter and frozen panes."""

    name: str
    cells: dict[str, CellValue] = field(default_factory=dict)
    merged: list[str] = field(default_factory=list)
    autofilter: str | None = None
    frozen: str | None = None
    """The top-left cell of the unfrozen pane ('A2': the first row frozen), None if none."""

    def value(self, ref: str) -> str | float | bool | None:
        """The value of one cell (None when empty)."""
        cell = self.cells.get(ref)
        return None if cell is None else cell.value

    def rows(self) -> dict[int, dict[str, CellValue]]:
        """Cells grouped by row number, each row by column letters."""
        grouped: dict[int, dict[str, CellValue]] = {}
        for ref, cell in self.cells.items():
            column, row = split_ref(ref)
            grouped.setdefault(row, {})[column] = cell
        return dict(sorted(grouped.items()))

    def texts(self) -> list[str]:
        """Every text value of the sheet, row by row."""
        return [
            str(cell.value)
            for row in self.rows().values()
            for cell in row.values()
            if isinstance(cell.value, str)
        ]

    def find(self, text: str) -> str:
        """The reference of the first cell (row by row) whose text equals ``text``."""
        for number, row in self.rows().items():
            for column in sorted(row, key=column_index):
                if row[column].value == text:
                    return f"{column}{number}"
        raise KeyError(f"{self.name}: no cell reads {text!r}")


def split_ref(ref: str) -> tuple[str, int]:
    """'AB12' -> ('AB', 12)."""
    match = re.fullmatch(r"([A-Z]+)(\d+)", ref)
    assert match, ref
    return match.group(1), int(match.group(2))


def column_index(letters: str) -> int:
    """'A' -> 0, 'Z' -> 25, 'AA' -> 26."""
    index = 0
    for letter in letters:
        index = index * 26 + ord(letter) - 64
    return index - 1


def column_letters(index: int) -> str:
    """0 -> 'A', 26 -> 'AA'."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def shared_strings(archive: zipfile.ZipFile) -> list[str]:
    """The workbook's shared strings, in index order."""
    if "xl/sharedStrings.xml" not in archive.namelist():
        return []
    root = ElementTree.fromstring(archive.read("xl/sharedStrings.xml"))
    return ["".join(t.text or "" for t in si.iter(f"{{{MAIN}}}t")) for si in root]


def number_formats(archive: zipfile.ZipFile) -> list[str]:
    """The number format code of each cell style index (the ``s`` attribute of a cell)."""
    styles = ElementTree.fromstring(archive.read("xl/styles.xml"))
    codes = dict(BUILT_IN_FORMATS)
    codes |= {
        int(f.get("numFmtId", 0)): str(f.get("formatCode"))
        for f in styles.iter(f"{{{MAIN}}}numFmt")
    }
    xfs = styles.iterfind("x:cellXfs/x:xf", NS)
    return [codes.get(int(xf.get("numFmtId", 0)), "General") for xf in xfs]


def cell_value(cell: ElementTree.Element, strings: list[str]) -> str | float | bool | None:
    """A cell's value by its type: shared or inline string, boolean, number."""
    kind = cell.get("t")
    raw = cell.findtext("x:v", None, NS)
    if kind == "s" and raw is not None:
        return strings[int(raw)]
    if kind == "inlineStr":
        return "".join(t.text or "" for t in cell.iter(f"{{{MAIN}}}t"))
    if kind == "str":
        return raw
    if kind == "b":
        return raw == "1"
    return None if raw is None else float(raw)


def read_sheet(
    root: ElementTree.Element, name: str, strings: list[str], formats: list[str]
) -> Sheet:
    """One worksheet's XML as a :class:`Sheet`."""
    sheet = Sheet(name)
    for cell in root.iterfind(".//x:sheetData/x:row/x:c", NS):
        sheet.cells[str(cell.get("r"))] = CellValue(
            cell_value(cell, strings),
            formats[int(cell.get("s", 0))],
            cell.find("x:f", NS) is not None,
        )
    sheet.merged = [str(m.get("ref")) for m in root.iterfind("x:mergeCells/x:mergeCell", NS)]
    autofilter = root.find("x:autoFilter", NS)
    sheet.autofilter = None if autofilter is None else autofilter.get("ref")
    pane = root.find("x:sheetViews/x:sheetView/x:pane", NS)
    if pane is not None and pane.get("state") == "frozen":
        sheet.frozen = pane.get("topLeftCell")
    return sheet


def read_workbook(path: Path) -> dict[str, Sheet]:
    """Every worksheet of an .xlsx, by name, in the workbook's order."""
    with zipfile.ZipFile(path) as archive:
        workbook = ElementTree.fromstring(archive.read("xl/workbook.xml"))
        relations = archive.read("xl/_rels/workbook.xml.rels").decode()
        targets = dict(re.findall(r'Id="(rId\d+)"[^>]*Target="([^"]+)"', relations))
        strings, formats = shared_strings(archive), number_formats(archive)
        sheets = {}
        for entry in workbook.iterfind("x:sheets/x:sheet", NS):
            name = str(entry.get("name"))
            part = targets[str(entry.get(f"{{{RELATIONSHIPS}}}id"))]
            root = ElementTree.fromstring(archive.read(f"xl/{part}"))
            sheets[name] = read_sheet(root, name, strings, formats)
        return sheets


def excel_tables(path: Path) -> dict[str, tuple[str, bool]]:
    """Excel tables (ListObjects) by name: their range and whether they carry an autofilter."""
    with zipfile.ZipFile(path) as archive:
        parts = [n for n in archive.namelist() if re.fullmatch(r"xl/tables/table\d+\.xml", n)]
        found = {}
        for part in parts:
            root = ElementTree.fromstring(archive.read(part))
            has_filter = root.find("x:autoFilter", NS) is not None
            found[str(root.get("name"))] = (str(root.get("ref")), has_filter)
        return found
