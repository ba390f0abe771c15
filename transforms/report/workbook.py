"""The standard tables of one run as an Excel workbook, ADePT SP style (issue #18).

Sheets, in order:

- **Contents**: the run, every sheet with its title and what it holds, the definitions of
  the indicators the cross-tabs show (from the catalogue and the contract), the poverty lines
  and programmes of the run, the disclosure rule (:mod:`transforms.report.contents`);
- **cross-tabs**, one sheet per indicator family (coverage, incidence, adequacy, targeting,
  poverty impact, budgets, projection, overlap): numbered tables with a title, a unit line,
  groups or methods or years down and programmes across, 95 % CIs where the warehouse has
  them, notes under each (:mod:`transforms.report.crosstab_sheets`);
- **data sheets**, one per published table: every row of the run, readable headers, the
  header row frozen and filterable.

Values are written as numbers (never pre-formatted text), so analysts can recompute; number
formats follow the catalogue's display kinds (:mod:`transforms.report.number_formats`):
fractions as %, money with thousands separators, no decimals and the run's currency, years
as integers, counts as integers; in the long data tables (matching_indicators,
fiscal_indicators) per row, from the row's indicator. Suppressed cells are empty in the data
sheets (``Suppressed`` TRUE) and read 'suppressed' in the cross-tabs. Every string is written
as text, never as a formula or a link, whatever the data holds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
from xlsxwriter import Workbook
from xlsxwriter.format import Format
from xlsxwriter.worksheet import Worksheet

from transforms.catalogue import TARGETING, Display, display_of, indicators_of, lookup
from transforms.contract import table
from transforms.report import dimensions as dims
from transforms.report.cells import currency_code
from transforms.report.contents import CONTENTS, contents_sheet
from transforms.report.crosstab_sheets import crosstab_sheets
from transforms.report.crosstabs import TOTAL, Context, Crosstab, CrosstabSheet, Number, Text, Value
from transforms.report.data import ReportData
from transforms.report.disclosure import disclosure_rule
from transforms.report.number_formats import (
    NUMBER,
    PERCENT,
    YEAR,
    number_format,
)
from transforms.report.sheet_headers import readable_header

SHEETS = (
    "targeting_errors",
    "poverty_lines",
    "programme_overlap",
    "model_metrics",
    "pmt_folds",
    "matching_indicators",
    "fiscal_indicators",
    "validation_results",
    "input_files",
    "runs",
)
"""The data sheets, after Contents and the cross-tabs: one per published table."""
WORKBOOK_OPTIONS = {
    "strings_to_formulas": False,  # a region named '=HYPERLINK(…)' stays text
    "strings_to_urls": False,
    "strings_to_numbers": False,
    "nan_inf_to_errors": True,
}
COLUMN_FORMATS = {
    "auc": NUMBER,
    "year": YEAR,
    "seed": YEAR,
    "fold": YEAR,
    **{f"cgh{suffix}": "0.00" for suffix in ("", "_se", "_ci_low", "_ci_high")},
    "fold_spread": PERCENT,  # SD of a fraction, in the fraction's unit
}
"""Data-sheet columns whose format is not their contract unit's: identifiers and years as
integers, the CGH ratio to two decimals."""
LONG_TABLES = {  # tables with one indicator per row (column `indicator`) and these value columns
    "matching_indicators": ("value", "se", "ci_low", "ci_high"),
    "fiscal_indicators": ("value",),
}
RATE_TABLES = (TARGETING, "model_metrics")  # wide tables whose rate columns are catalogued
NUMERIC_TYPES = ("DOUBLE", "BIGINT", "INTEGER")
CONTENTS_WIDTHS = (30, 44, 90, 18, 24, 24)
STYLES: dict[str, dict[str, Any]] = {
    "title": {"bold": True, "font_size": 12},
    "unit": {"italic": True},
    "header": {"bold": True, "text_wrap": True, "valign": "top", "bottom": 1},
    "group": {"bold": True, "text_wrap": True, "align": "center", "bottom": 1},
    "label": {"valign": "top"},
    "mark": {"align": "right", "italic": True, "font_color": "#7F7F7F"},
    "note": {"italic": True, "font_size": 9, "font_color": "#595959"},
    "link": {"font_color": "#0563C1", "underline": 1, "valign": "top"},
}


class Styles:
    """The workbook's cell formats, each added once: a named style, optionally bold (a total
    row), wrapped (the Contents sheet) or with a number format."""

    def __init__(self, workbook: Workbook) -> None:
        self.workbook = workbook
        self.added: dict[tuple[tuple[str, Any], ...], Format] = {}

    def get(
        self, name: str, *, number_format: str = "", bold: bool = False, wrap: bool = False
    ) -> Format:
        """The format of a named style with the options given."""
        properties = dict(STYLES.get(name, {}))
        properties |= {"num_format": number_format} if number_format else {}
        properties |= {"bold": True} if bold else {}
        properties |= {"text_wrap": True, "valign": "top"} if wrap else {}
        key = tuple(sorted(properties.items()))
        if key not in self.added:
            self.added[key] = self.workbook.add_format(properties)
        return self.added[key]


# ---------------------------------------------------------------- cross-tabs


def write_value(
    sheet: Worksheet, styles: Styles, at: tuple[int, int], value: Value, *, bold: bool, wrap: bool
) -> None:
    """One cell of a cross-tab: a number in its format, a label, a mark, or a sheet link."""
    row, column = at
    if isinstance(value, Number):
        style = styles.get("label", number_format=value.number_format, bold=bold)
        sheet.write_number(row, column, value.value, style)
    elif value.role == "sheet":
        link = f"internal:'{value.text}'!A1"
        sheet.write_url(row, column, link, styles.get("link"), string=value.text)
    elif value.role in ("suppressed", "missing"):
        sheet.write_string(row, column, value.text, styles.get("mark", bold=bold))
    else:
        sheet.write_string(row, column, value.text, styles.get("label", bold=bold, wrap=wrap))


def write_heading(
    sheet: Worksheet, at: tuple[int, int], span: tuple[int, int], text: str, style: Format
) -> None:
    """A heading over ``span`` (rows, columns), merged when it covers more than one cell."""
    row, column = at
    rows, columns = span
    if rows == 1 and columns == 1:
        sheet.write_string(row, column, text, style)
    else:
        sheet.merge_range(row, column, row + rows - 1, column + columns - 1, text, style)


def write_headings(sheet: Worksheet, styles: Styles, crosstab: Crosstab, row: int) -> int:
    """The stub and column headings (two rows when a heading has sub-headings); the next row."""
    if not crosstab.headers:
        return row
    depth = 2 if crosstab.has_subheadings else 1
    header = styles.get("header")
    write_heading(sheet, (row, 0), (depth, 1), crosstab.stub, header)
    column = 1
    for heading in crosstab.headers:
        if heading.columns:
            span = (1, heading.width)
            write_heading(sheet, (row, column), span, heading.label, styles.get("group"))
            for offset, sub in enumerate(heading.columns):
                sheet.write_string(row + 1, column + offset, sub, header)
        else:
            write_heading(sheet, (row, column), (depth, 1), heading.label, header)
        column += heading.width
    return row + depth


def write_crosstab(
    sheet: Worksheet, styles: Styles, crosstab: Crosstab, row: int, *, wrap: bool = False
) -> int:
    """One table from ``row``: title, unit line, headings, rows, notes; the next free row."""
    sheet.write_string(row, 0, crosstab.title, styles.get("title"))
    row += 1
    if crosstab.unit:
        sheet.write_string(row, 0, crosstab.unit, styles.get("unit"))
        row += 1
    row = write_headings(sheet, styles, crosstab, row)
    for values in crosstab.rows:
        total = isinstance(values[0], Text) and values[0].text == TOTAL
        for column, value in enumerate(values):
            write_value(sheet, styles, (row, column), value, bold=total, wrap=wrap)
        row += 1
    for note in crosstab.notes:
        sheet.write_string(row, 0, note, styles.get("note"))
        row += 1
    return row + 1


def column_widths(crosstabs: tuple[Crosstab, ...]) -> list[int]:
    """Widths of a cross-tab sheet's columns: the labels' column as wide as its longest label
    (within limits), the others as their sub-headings or values need."""
    widths: dict[int, int] = {}
    for crosstab in crosstabs:
        for values in crosstab.rows:
            for column, value in enumerate(values):
                size = len(value.text) if isinstance(value, Text) else 12
                widths[column] = max(widths.get(column, 0), size)
        column = 1
        for heading in crosstab.headers:
            for offset, sub in enumerate(heading.columns):
                widths[column + offset] = max(widths.get(column + offset, 0), len(sub))
            column += heading.width
    if not widths:
        return []
    first = min(max(widths.get(0, 0) + 2, 24), 60)
    return [first, *(min(max(widths.get(c, 0) + 2, 12), 30) for c in range(1, max(widths) + 1))]


def write_crosstab_sheet(
    workbook: Workbook, styles: Styles, crosstab_sheet: CrosstabSheet, *, contents: bool = False
) -> None:
    """A sheet of cross-tabs (or the Contents), one table under the other; a sheet whose family
    the run did not publish says so."""
    sheet = workbook.add_worksheet(crosstab_sheet.name)
    sheet.hide_gridlines(2)
    sheet.set_landscape()
    sheet.fit_to_pages(1, 0)
    widths = list(CONTENTS_WIDTHS) if contents else column_widths(crosstab_sheet.tables)
    for column, width in enumerate(widths):
        sheet.set_column(column, column, width)
    sheet.write_string(0, 0, crosstab_sheet.title, styles.get("title"))
    sheet.write_string(1, 0, crosstab_sheet.description, styles.get("unit"))
    row = 3
    if not crosstab_sheet.tables:
        reason = f"Not available in this run: {crosstab_sheet.unavailable}."
        sheet.write_string(row, 0, reason, styles.get("note"))
    for crosstab in crosstab_sheet.tables:
        row = write_crosstab(sheet, styles, crosstab, row, wrap=contents)


# ---------------------------------------------------------------- data sheets


def column_displays(name: str) -> dict[str, tuple[Display, str]]:
    """Display kind and unit of each numeric column of a wide table: targeting rates (with SE
    and CI bounds) from the catalogue, other columns from their contract unit."""
    kinds: dict[str, tuple[Display, str]] = {
        c.name: (display_of(c.unit), c.unit)
        for c in table(name).columns
        if c.unit and c.sql_type in NUMERIC_TYPES
    }
    if name in RATE_TABLES:
        for item in indicators_of(TARGETING):
            for suffix in ("", "_se", "_ci_low", "_ci_high"):
                kinds[item.name + suffix] = (item.display, item.unit)
    return kinds


def column_formats(name: str, columns: list[str], currency: str = "") -> dict[str, str]:
    """Excel number format of each column of a data sheet that has one."""
    formats = {
        column: number_format(kind, unit, currency)
        for column, (kind, unit) in column_displays(name).items()
    }
    formats |= COLUMN_FORMATS
    return {c: f for c, f in formats.items() if c in columns}


def row_display(table_name: str, indicator: str | None, unit: str | None) -> tuple[Display, str]:
    """Display kind and unit of a long-table row: its indicator's in the catalogue, else its
    unit's."""
    try:
        item = lookup(table_name, indicator or "")
    except KeyError:
        return display_of(unit or ""), unit or ""
    return item.display, item.unit


def row_label(table_name: str, indicator: str | None) -> str | None:
    """The catalogue label of a long-table row's indicator (None when not catalogued)."""
    try:
        return lookup(table_name, indicator or "").label_for(indicator or "")
    except KeyError:
        return None


def sheet_frame(data: ReportData, name: str) -> pl.DataFrame:
    """The frame for one sheet: contract columns first (long tables: each indicator's label
    after its name), timestamps as naive UTC."""
    frame = pl.DataFrame([data.run]) if name == "runs" else getattr(data, name)
    order = [c for c in table(name).column_names() if c in frame.columns]
    if name in LONG_TABLES:
        indicators = frame["indicator"].to_list()
        label_of = {i: row_label(name, i) for i in set(indicators)}  # one lookup per indicator
        labels = [label_of[i] for i in indicators]
        frame = frame.with_columns(pl.Series("label", labels, dtype=pl.String))
        order.insert(order.index("indicator") + 1, "label")
    frame = frame.select(order + [c for c in frame.columns if c not in order])
    zoned = [c for c, t in frame.schema.items() if isinstance(t, pl.Datetime) and t.time_zone]
    return frame.with_columns(
        pl.col(c).dt.convert_time_zone("UTC").dt.replace_time_zone(None) for c in zoned
    )


def format_rows_by_display(
    styles: Styles, sheet: Worksheet, frame: pl.DataFrame, name: str, currency: str
) -> None:
    """In a long table, rewrite each row's value cells in the format of its indicator."""
    units = frame["unit"].to_list() if "unit" in frame.columns else [None] * frame.height
    keys = list(zip(frame["indicator"], units, strict=True))
    style_of = {  # one catalogue lookup per indicator and unit, not per row
        (i, u): styles.get("", number_format=number_format(*row_display(name, i, u), currency))
        for i, u in dict.fromkeys(keys)
    }
    formats = [style_of[key] for key in keys]
    for column in LONG_TABLES[name]:
        index = frame.columns.index(column)
        for row, (value, style) in enumerate(zip(frame[column], formats, strict=True)):
            if value is not None:
                sheet.write_number(row + 1, index, value, style)


def write_data_sheet(
    workbook: Workbook, styles: Styles, data: ReportData, name: str, currency: str
) -> None:
    """One published table of the run as an Excel table: header frozen, filterable."""
    frame = sheet_frame(data, name)
    formats = column_formats(name, frame.columns, currency)
    frame.rename(readable_header).write_excel(
        workbook=workbook,
        worksheet=name,
        table_name=name,
        table_style="Table Style Light 9",
        column_formats={readable_header(c): f for c, f in formats.items()},
        header_format={"bold": True, "text_wrap": True, "valign": "top"},
        float_precision=3,
        autofit=True,
        freeze_panes=(1, 0),
    )
    sheet = workbook.get_worksheet_by_name(name)
    if sheet is not None and name in LONG_TABLES:
        format_rows_by_display(styles, sheet, frame, name, currency)


# ---------------------------------------------------------------- the workbook


def crosstab_context(data: ReportData, currency: str, suppressed_note: str) -> Context:
    """What every cross-tab of the run needs."""
    return Context(
        run_id=str(data.run.get("run_id") or "unknown run"),
        currency=currency,
        suppressed_note=suppressed_note,
        lines=tuple(dims.line_order(data)),
        programmes=tuple(dims.programme_order(data)),
    )


def write_standard_tables(data: ReportData, path: Path, *, min_cell_n: int | None = None) -> None:
    """Write the run's workbook to an .xlsx file at ``path``: Contents, the cross-tabs, then
    one data sheet per published table.

    ``min_cell_n`` is the run's disclosure threshold when the caller knows it; otherwise it is
    read back from the run's configuration file (:mod:`transforms.report.disclosure`).
    """
    currency = currency_code(data.run, data.poverty_lines)
    rule = disclosure_rule(data, min_cell_n)
    crosstabs = crosstab_sheets(data, crosstab_context(data, currency, rule.cell_note()))
    contents = contents_sheet(data, crosstabs, SHEETS, currency=currency, rule=rule)
    path.parent.mkdir(parents=True, exist_ok=True)
    with Workbook(str(path), WORKBOOK_OPTIONS) as workbook:
        styles = Styles(workbook)
        write_crosstab_sheet(workbook, styles, contents, contents=True)
        for crosstab_sheet in crosstabs:
            write_crosstab_sheet(workbook, styles, crosstab_sheet)
        for name in SHEETS:
            write_data_sheet(workbook, styles, data, name, currency)
        workbook.get_worksheet_by_name(CONTENTS).activate()
