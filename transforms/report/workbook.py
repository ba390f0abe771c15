"""The standard tables of one run as an Excel workbook (the ASPIRE/CEQ-style output workbook).

One sheet per published table, readable headers, rates formatted as percentages, the header
row frozen and filterable. Values are written as numbers (never pre-formatted text), so
analysts can recompute; suppressed cells stay empty with ``Suppressed`` = TRUE.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
from xlsxwriter import Workbook
from xlsxwriter.worksheet import Worksheet

from transforms.contract import FRACTION, table
from transforms.report.html import ReportData

SHEETS = (
    "targeting_errors",
    "model_metrics",
    "matching_indicators",
    "fiscal_indicators",
    "validation_results",
    "input_files",
    "runs",
)
PERCENT = "0.0%"
EXTRA_PERCENT = {"model_metrics": ("fold_spread",)}  # SD of a fraction, in the fraction's unit
NUMBER_FORMATS = {"population": "#,##0", "bytes": "#,##0", "auc": "0.000", "cgh": "0.00"}
MIXED_UNITS = {  # tables whose value columns hold a unit per row (column `unit`)
    "matching_indicators": ("value", "se", "ci_low", "ci_high"),
    "fiscal_indicators": ("value",),
}
HEADERS = {
    "run_id": "Run ID",
    "n_obs": "Households surveyed (unweighted)",
    "n_train": "Training households per fold",
    "auc": "AUC",
    "cgh": "CGH",
    "se": "SE",
    "ci_low": "95% CI low",
    "ci_high": "95% CI high",
    "cv_scheme": "Cross-validation scheme",
    "inclusion_rate_nonpoor": "Share of non-poor selected",
    "started_at": "Started at (UTC)",
    "finished_at": "Finished at (UTC)",
}
SUFFIXES = (("_se", " (SE)"), ("_ci_low", " (95% CI low)"), ("_ci_high", " (95% CI high)"))


def readable_header(name: str) -> str:
    """A column name as a header: 'exclusion_error_ci_low' -> 'Exclusion error (95% CI low)'."""
    if name in HEADERS:
        return HEADERS[name]
    for suffix, label in SUFFIXES:
        if name.endswith(suffix):
            return readable_header(name.removesuffix(suffix)) + label
    text = name.replace("_", " ").replace("sha256", "SHA-256").replace(" gdp", " GDP")
    return text[:1].upper() + text[1:]


def percent_columns(name: str) -> list[str]:
    """Columns of a contract table that hold fractions (shown as %)."""
    rates = [
        c.name
        for c in table(name).columns
        if c.unit in (FRACTION, "difference of fractions") and c.sql_type == "DOUBLE"
    ]
    return rates + list(EXTRA_PERCENT.get(name, ()))


def sheet_frame(data: ReportData, name: str) -> pl.DataFrame:
    """The frame for one sheet: contract columns first, timestamps as naive UTC."""
    frame = pl.DataFrame([data.run]) if name == "runs" else getattr(data, name)
    order = [c for c in table(name).column_names() if c in frame.columns]
    frame = frame.select(order + [c for c in frame.columns if c not in order])
    zoned = [c for c, t in frame.schema.items() if isinstance(t, pl.Datetime) and t.time_zone]
    return frame.with_columns(
        pl.col(c).dt.convert_time_zone("UTC").dt.replace_time_zone(None) for c in zoned
    )


def mark_fraction_rows(
    workbook: Workbook, sheet: Worksheet, frame: pl.DataFrame, columns: tuple[str, ...]
) -> None:
    """In mixed-unit tables, rewrite the value cells of rows whose unit is a fraction as %."""
    if "unit" not in frame.columns:
        return
    percent = workbook.add_format({"num_format": PERCENT})
    is_fraction = frame["unit"].fill_null("").str.starts_with("fraction").to_list()
    for column in columns:
        if column not in frame.columns:
            continue
        index = frame.columns.index(column)
        for row, (value, fraction) in enumerate(zip(frame[column], is_fraction, strict=True)):
            if fraction and value is not None:
                sheet.write_number(row + 1, index, value, percent)


def write_standard_tables(data: ReportData, path: Path) -> None:
    """Write one sheet per standard table of the run to an .xlsx file at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with Workbook(str(path)) as workbook:
        for name in SHEETS:
            frame = sheet_frame(data, name)
            formats = {c: PERCENT for c in percent_columns(name) if c in frame.columns}
            formats |= {c: f for c, f in NUMBER_FORMATS.items() if c in frame.columns}
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
            if sheet is not None and name in MIXED_UNITS:
                mark_fraction_rows(workbook, sheet, frame, MIXED_UNITS[name])
