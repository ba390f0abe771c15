"""The standard tables of one run as an Excel workbook (the ASPIRE/CEQ-style output workbook).

One sheet per published table, readable headers, every row's dimensions (programme, poverty
line, unit) in the columns after the run id, the header row frozen and filterable. Values
are written as numbers (never pre-formatted text), so analysts can recompute; suppressed cells
stay empty with ``Suppressed`` = TRUE. Number formats follow the catalogue's display kinds and
units (:mod:`transforms.report.number_formats`): fractions as %, money with thousands
separators, no decimals and the run's currency, years as integers, counts as integers,
indices to three decimals; in the long tables (matching_indicators, fiscal_indicators) per
row, from the row's indicator, with its label beside its name. Every string is written as
text, never as a formula or a link, whatever the data holds.
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
from transforms.report.data import ReportData
from transforms.report.number_formats import (
    NUMBER,
    PERCENT,
    YEAR,
    currency_of,
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
"""One sheet per published table, in this order."""
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
STYLES: dict[str, dict[str, Any]] = {}


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
        labels = [row_label(name, i) for i in frame["indicator"].to_list()]
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
    formats = [
        styles.get("", number_format=number_format(*row_display(name, i, u), currency))
        for i, u in zip(frame["indicator"], units, strict=True)
    ]
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


def write_standard_tables(data: ReportData, path: Path) -> None:
    """Write one sheet per standard table of the run to an .xlsx file at ``path``."""
    currency = currency_of(data)
    path.parent.mkdir(parents=True, exist_ok=True)
    with Workbook(str(path), WORKBOOK_OPTIONS) as workbook:
        styles = Styles(workbook)
        for name in SHEETS:
            write_data_sheet(workbook, styles, data, name, currency)
