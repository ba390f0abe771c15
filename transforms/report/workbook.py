"""The standard tables of one run as an Excel workbook (the ASPIRE/CEQ-style output workbook).

One sheet per published table, readable headers, every row's dimensions (programme, poverty
line, unit) in the columns after the run id, the header row frozen and filterable. Values
are written as numbers (never pre-formatted text), so analysts can recompute; suppressed cells
stay empty with ``Suppressed`` = TRUE. Number formats follow the indicator catalogue's display
kinds: fractions as %, money as ``#,##0``, years as ``0``; in the long tables
(matching_indicators, fiscal_indicators) per row, from the row's indicator, with its label
beside its name. Every string is written as text, never as a formula or a link, whatever the
data holds.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
from xlsxwriter import Workbook
from xlsxwriter.format import Format
from xlsxwriter.worksheet import Worksheet

from transforms.catalogue import TARGETING, Display, display_of, indicators_of, lookup
from transforms.contract import table
from transforms.report.data import ReportData

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
WORKBOOK_OPTIONS = {
    "strings_to_formulas": False,  # a region named '=HYPERLINK(…)' stays text
    "strings_to_urls": False,
    "strings_to_numbers": False,
    "nan_inf_to_errors": True,
}
PERCENT = "0.0%"
MONEY = "#,##0"
"""Amounts in the audit's currency; no table publishes its code yet (add it here when one does,
e.g. '#,##0 "XOF"')."""
DISPLAY_FORMATS: dict[Display, str | None] = {
    "percent": PERCENT,
    "points": PERCENT,  # a difference of fractions: -3.2% reads as 3.2 points down
    "money": MONEY,
    "year": "0",
    "number": None,  # the sheet's float precision
}
EXTRA_PERCENT = {"model_metrics": ("fold_spread",)}  # SD of a fraction, in the fraction's unit
NUMBER_FORMATS = {"population": "#,##0", "bytes": "#,##0", "auc": "0.000", "cgh": "0.00"}
LONG_TABLES = {  # tables with one indicator per row (column `indicator`) and these value columns
    "matching_indicators": ("value", "se", "ci_low", "ci_high"),
    "fiscal_indicators": ("value",),
}
RATE_TABLES = (TARGETING, "model_metrics")  # wide tables whose rate columns are catalogued
HEADERS = {
    "run_id": "Run ID",
    "n_obs": "Households surveyed (unweighted)",
    "n_train": "Training households per fold",
    "auc": "AUC",
    "se": "SE",
    "ci_low": "95% CI low",
    "ci_high": "95% CI high",
    "cv_scheme": "Cross-validation scheme",
    "programmes": "Programmes received",
    "psus": "PSUs",
    "started_at": "Started at (UTC)",
    "finished_at": "Finished at (UTC)",
}
SUFFIXES = (("_se", ", SE"), ("_ci_low", ", 95% CI low"), ("_ci_high", ", 95% CI high"))


def rate_labels() -> dict[str, str]:
    """Each targeting rate's catalogue label, by column name."""
    return {item.name: item.label for item in indicators_of(TARGETING)}


def readable_header(name: str) -> str:
    """A column name as a header: 'exclusion_error_ci_low' -> 'Exclusion error (share of the
    poor missed), 95% CI low'; targeting rates carry their catalogue label."""
    labels = rate_labels()
    if name in HEADERS or name in labels:
        return HEADERS.get(name) or labels[name]
    for suffix, words in SUFFIXES:
        if name.endswith(suffix) and name.removesuffix(suffix) in labels:
            return labels[name.removesuffix(suffix)] + words
    text = name.replace("_", " ").replace("sha256", "SHA-256").replace(" gdp", " GDP")
    return text[:1].upper() + text[1:]


def column_displays(name: str) -> dict[str, Display]:
    """Display kind of each numeric column of a wide table: targeting rates (with SE and CI
    bounds) from the catalogue, other columns from their contract unit."""
    kinds: dict[str, Display] = {
        c.name: display_of(c.unit) for c in table(name).columns if c.unit and c.sql_type == "DOUBLE"
    }
    if name in RATE_TABLES:
        for item in indicators_of(TARGETING):
            kinds |= {item.name + s: item.display for s in ("", "_se", "_ci_low", "_ci_high")}
    return kinds


def column_formats(name: str, columns: list[str]) -> dict[str, str]:
    """Excel number format of each column of a sheet that has one."""
    formats = {c: f for c, kind in column_displays(name).items() if (f := DISPLAY_FORMATS[kind])}
    formats |= {c: PERCENT for c in EXTRA_PERCENT.get(name, ())}
    formats |= NUMBER_FORMATS
    return {c: f for c, f in formats.items() if c in columns}


def row_display(table_name: str, indicator: str | None, unit: str | None) -> Display:
    """Display kind of a long-table row: its indicator's in the catalogue, else its unit's."""
    try:
        return lookup(table_name, indicator or "").display
    except KeyError:
        return display_of(unit or "")


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
    workbook: Workbook, sheet: Worksheet, frame: pl.DataFrame, name: str
) -> None:
    """In a long table, rewrite each row's value cells in the format of its indicator's display."""
    formats: dict[str, Format] = {
        kind: workbook.add_format({"num_format": f})
        for kind, f in DISPLAY_FORMATS.items()
        if f is not None
    }
    units = frame["unit"].to_list() if "unit" in frame.columns else [None] * frame.height
    kinds = [row_display(name, i, u) for i, u in zip(frame["indicator"], units, strict=True)]
    for column in LONG_TABLES[name]:
        index = frame.columns.index(column)
        for row, (value, kind) in enumerate(zip(frame[column], kinds, strict=True)):
            if kind in formats and value is not None:
                sheet.write_number(row + 1, index, value, formats[kind])


def write_standard_tables(data: ReportData, path: Path) -> None:
    """Write one sheet per standard table of the run to an .xlsx file at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with Workbook(str(path), WORKBOOK_OPTIONS) as workbook:
        for name in SHEETS:
            frame = sheet_frame(data, name)
            formats = column_formats(name, frame.columns)
            frame.rename(readable_header).write_excel(
                workbook=workbook,
                worksheet=name,
                table_name=name,
                table_style="Table Style Light 9",
                column_formats={readable_header(c): f for c, f in formats.items()},
                header_format={"bold": True, "text_wrap": True, "valign": "top"},
                float_precision=4,
                autofit=True,
                freeze_panes=(1, 0),
            )
            sheet = workbook.get_worksheet_by_name(name)
            if sheet is not None and name in LONG_TABLES:
                format_rows_by_display(workbook, sheet, frame, name)
