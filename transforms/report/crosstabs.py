"""ADePT-style cross-tabs as view models: the workbook's formatted tables before any Excel.

A :class:`Crosstab` is a title, a unit line, a header of column groups (a programme over its
estimate and 95 % CI bounds), rows whose first cell labels them, and notes under the table.
Cells are numbers with their Excel number format (:mod:`transforms.report.number_formats`),
or short texts: ``suppressed`` for a cell withheld by disclosure control for resting on too
few households, ``suppressed (complementary)`` for one withheld to protect such a cell, a dash
for a cell the run did not publish. The pivots here are generic (groups down, indicators down, years
down); :mod:`transforms.report.crosstab_sheets` says which indicator goes where, and
:mod:`transforms.report.workbook` lays the tables out. Pure: no I/O, no xlsxwriter.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import polars as pl

from transforms.catalogue import lookup
from transforms.report import dimensions as dims
from transforms.report.cells import described, group_label, group_sort_key
from transforms.report.dimensions import Key
from transforms.report.formats import MISSING
from transforms.report.number_formats import COUNT, YEAR, number_format, unit_text


@dataclass(frozen=True)
class Number:
    """A numeric cell and its Excel number format code."""

    value: float
    number_format: str


@dataclass(frozen=True)
class Text:
    """A text cell: a row label, or a mark standing for a value (suppressed, not published)."""

    text: str
    role: Literal["label", "suppressed", "missing", "sheet"] = "label"
    """label: a row label or text value; suppressed, missing: marks standing for a value;
    sheet: the name of a sheet of the workbook (a link to it)."""


Value = Number | Text
SUPPRESSED_MARK = Text("suppressed", "suppressed")
COMPLEMENTARY_MARK = Text("suppressed (complementary)", "suppressed")
NOT_PUBLISHED = Text(MISSING, "missing")
ESTIMATE_CI = ("Estimate", "95% CI low", "95% CI high")
LONG_VALUE = ("value", "ci_low", "ci_high")
TOTAL = "Total (whole population)"


@dataclass(frozen=True)
class Header:
    """A column heading; with ``columns``, it spans one sub-heading each (a programme over its
    estimate and CI bounds)."""

    label: str
    columns: tuple[str, ...] = ()

    @property
    def width(self) -> int:
        """How many columns the heading spans."""
        return max(len(self.columns), 1)


@dataclass(frozen=True)
class Crosstab:
    """One formatted table: title, unit line, headings, labelled rows, notes under it."""

    title: str
    unit: str
    stub: str
    """The heading of the row labels (Quintile, Region, Indicator, Year)."""
    headers: tuple[Header, ...]
    rows: tuple[tuple[Value, ...], ...]
    notes: tuple[str, ...]
    shows: tuple[tuple[str, str], ...] = ()
    """(published table, indicator or column) of every quantity shown, for the definitions."""

    @property
    def has_subheadings(self) -> bool:
        """Whether the headings take two rows."""
        return any(header.columns for header in self.headers)


@dataclass(frozen=True)
class CrosstabSheet:
    """One sheet of cross-tabs: an indicator family."""

    name: str
    title: str
    description: str
    tables: tuple[Crosstab, ...]
    unavailable: str = ""
    """Why the sheet has no table ('' when it has)."""


@dataclass(frozen=True)
class Context:
    """What every cross-tab of a run needs: its id, currency, cell note, lines and programmes."""

    run_id: str
    currency: str
    suppressed_note: str
    lines: tuple[Key, ...]
    programmes: tuple[Key, ...]


def estimate(row: dict[str, Any] | None, column: str, number_format: str) -> Value:
    """One value of a published row: a number, or the mark of a suppressed or missing value."""
    if row is None:
        return NOT_PUBLISHED
    if row.get("suppressed"):
        return COMPLEMENTARY_MARK if row.get("suppression") == "complementary" else SUPPRESSED_MARK
    value = row.get(column)
    if value is None or math.isnan(float(value)):
        return NOT_PUBLISHED
    return Number(float(value), number_format)


def count_cell(value: object) -> Value:
    """An unweighted count (never suppressed: it is what suppression is decided on)."""
    return NOT_PUBLISHED if value is None else Number(float(str(value)), COUNT)


def estimate_cells(
    row: dict[str, Any] | None, columns: Sequence[str], number_format: str
) -> tuple[Value, ...]:
    """Several values of one published row in one format: its estimate and CI bounds."""
    return tuple(estimate(row, column, number_format) for column in columns)


def value_columns(with_ci: bool, rate: str = "") -> tuple[str, ...]:
    """The columns of an estimate and its 95 % CI: value/ci_low/ci_high of a long table, or
    <rate>/<rate>_ci_low/<rate>_ci_high of a targeting rate."""
    columns = (rate, f"{rate}_ci_low", f"{rate}_ci_high") if rate else LONG_VALUE
    return columns if with_ci else columns[:1]


def has_ci(frame: pl.DataFrame, column: str = "ci_low") -> bool:
    """Whether any row of a frame has a CI bound."""
    return column in frame.columns and frame[column].drop_nulls().len() > 0


def programme_headers(programmes: Sequence[Key], columns: tuple[str, ...]) -> tuple[Header, ...]:
    """One heading per programme over the given sub-headings."""
    return tuple(Header(dims.programme_label(p), columns) for p in programmes)


def indicator_format(table_name: str, name: str, currency: str, unit: str | None = None) -> str:
    """The Excel format of a published indicator, from its catalogue display and unit."""
    facts = described(table_name, name, unit)
    return number_format(facts.display, facts.unit, currency)


def indicator_unit(table_name: str, name: str, currency: str) -> str:
    """'Unit: fraction, shown as %' for a published indicator, from the catalogue."""
    facts = described(table_name, name)
    return f"Unit: {unit_text(facts.unit, facts.display, currency)}"


def population_words(frame: pl.DataFrame, column: str = "population_unit") -> str:
    """'; population counted in persons' when a frame's rows name one population unit."""
    units = dims.first_seen(dims.column_values(frame, column))
    return f"; population counted in {units[0]}" if len(units) == 1 and units[0] else ""


def source_note(table_name: str, names: Sequence[str], run_id: str) -> str:
    """'Source: audit.matching_indicators (coverage), run <id>; definitions on the Contents
    sheet.'"""
    listed = f" ({', '.join(names)})" if names else ""
    return f"Source: audit.{table_name}{listed}, run {run_id}; definitions on the Contents sheet."


def line_note(line: Key, *, independent: bool = False) -> str:
    """Which poverty line the table is measured against."""
    if independent:
        return (
            f"Poverty line: the definition does not involve it; values as published with line "
            f"{dims.line_label(line)}."
        )
    return f"Poverty line: {dims.line_label(line)}."


def row_label(kind: str, value: str) -> str:
    """A group as a row label: 'Q1 (poorest)' for pre- and post-transfer quintiles, 'yes'."""
    return group_label("quintile" if kind.startswith("quintile") else kind, value)


def group_values(frame: pl.DataFrame, kind: str) -> list[str]:
    """The values of one group type in a frame, in reading order (quintiles numerically)."""
    values = frame.filter(pl.col("group_type") == kind)["group_value"].unique().to_list()
    return sorted((str(v) for v in values), key=lambda v: group_sort_key(kind, v))


def by_group(
    frame: pl.DataFrame, kind: str, programmes: Sequence[Key], number_format: str
) -> tuple[tuple[tuple[Value, ...], ...], bool]:
    """One long-table indicator by group (rows of one line): the groups of ``kind`` down, then
    the whole population as a total row when published; per programme its estimate (and 95 %
    CI when any row has one). Returns the rows and whether they carry CIs."""
    columns = value_columns(has_ci(frame))
    found = {
        (r.get("programme"), r["group_type"], str(r["group_value"])): r for r in frame.to_dicts()
    }
    groups = [(kind, value, row_label(kind, value)) for value in group_values(frame, kind)]
    if frame.filter(pl.col("group_type") == "all").height:
        groups.append(("all", "all", TOTAL))
    rows = tuple(
        (
            Text(label),
            *(
                cell
                for p in programmes
                for cell in estimate_cells(found.get((p, g, v)), columns, number_format)
            ),
        )
        for g, v, label in groups
    )
    return rows, len(columns) > 1


def published_names(frame: pl.DataFrame, table_name: str, names: Sequence[str]) -> list[str]:
    """The published indicator names of a frame catalogued as one of ``names`` (the catalogue's
    ``budget_pmt:<model>`` finds ``budget_pmt:ols``), in the order of ``names``, then as
    published."""
    prefixes = [lookup(table_name, name).prefix for name in names]
    published = dims.column_values(frame, "indicator")
    ranked = []
    for name in (str(n) for n in dims.first_seen(published)):
        try:
            prefix = lookup(table_name, name).prefix
        except KeyError:
            continue
        if prefix in prefixes:
            ranked.append((prefixes.index(prefix), name))
    return [name for _, name in sorted(ranked, key=lambda item: item[0])]


def by_indicator(
    frame: pl.DataFrame,
    table_name: str,
    names: Sequence[str],
    programmes: Sequence[Key],
    currency: str,
) -> tuple[tuple[Value, ...], ...]:
    """Indicators down (catalogue label), one column per programme, the unit last; each row in
    its indicator's format (rows of one line and scenario, no CI)."""
    found = {(r.get("programme"), r["indicator"]): r for r in frame.to_dicts()}
    rows = []
    for name in names:
        facts = described(table_name, name)
        number_format = indicator_format(table_name, name, currency)
        values = (estimate(found.get((p, name)), "value", number_format) for p in programmes)
        unit = unit_text(facts.unit, facts.display, currency)
        rows.append((Text(facts.label), *values, Text(unit)))
    return tuple(rows)


def by_year(
    frame: pl.DataFrame, programmes: Sequence[Key], scenarios: Sequence[str], number_format: str
) -> tuple[tuple[Value, ...], ...]:
    """One projected indicator: years down, each programme over its scenarios across."""
    found = {(r.get("programme"), r["scenario"], r["year"]): r for r in frame.to_dicts()}
    years = sorted(frame["year"].drop_nulls().unique().to_list())
    return tuple(
        (
            Number(float(year), YEAR),
            *(
                estimate(found.get((p, s, year)), "value", number_format)
                for p in programmes
                for s in scenarios
            ),
        )
        for year in years
    )
