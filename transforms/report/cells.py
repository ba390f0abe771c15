"""Published values as formatted cells: the helpers every section of the report's view uses.

Labels, units and display kinds come from :mod:`transforms.catalogue`, number formats from
:mod:`transforms.report.formats`; cells withheld by disclosure control read
"suppressed (n < threshold)", or "suppressed (complementary)" for a cell withheld to protect
another. Pure and markup-free, like the rest of the view layer.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import polars as pl

from transforms.catalogue import TARGETING, Display, display_of, indicators_of, lookup
from transforms.report.blocks import COMPLEMENTARY_CELL, SUPPRESSED_CELL, Block, Cell, Section
from transforms.report.formats import MISSING, formatted, interval, rate_interval
from transforms.report.words import (
    GROUP_TYPES,
    group_type_words,
    key_words,
    quantile_words,
    rule_words,
)

CI = "95 % CI"


@dataclass(frozen=True)
class Described:
    """What the catalogue says about a published indicator name, for display."""

    label: str
    unit: str
    display: Display


def described(table_name: str, name: str, unit: str | None = None) -> Described:
    """The catalogue's label, unit and display of a published name; a name it lacks (an older
    warehouse) shows as itself, displayed from the row's unit."""
    try:
        item = lookup(table_name, name)
    except KeyError:
        return Described(key_words(name), unit or "", display_of(unit or ""))
    return Described(item.label_for(name), item.unit, item.display)


def rate_label(rate: str, *, with_ci: bool = False) -> str:
    """A targeting rate's catalogue label, optionally naming its CI: '…, 95 % CI'."""
    return described(TARGETING, rate).label + (f", {CI}" if with_ci else "")


def rate_text(rate: str, value: float | None) -> str:
    """A targeting rate's value in its catalogue display."""
    return formatted(described(TARGETING, rate).display, value)


def currency_code(run: dict[str, Any], lines: pl.DataFrame | None = None) -> str:
    """The currency money values are written in: the run's ``currency`` when a warehouse
    records it there, else the one audit.poverty_lines names (welfare.currency); '' when
    neither does (an older warehouse)."""
    if run.get("currency"):
        return str(run["currency"])
    if lines is not None and "currency" in lines.columns:
        named = lines["currency"].drop_nulls()
        return str(named[0]) if named.len() else ""
    return ""


def catalogue_order(table_name: str, name: str) -> int:
    """Position of a published name in the catalogue (uncatalogued names last)."""
    try:
        entry = lookup(table_name, name)
    except KeyError:
        return len(indicators_of(table_name))
    return indicators_of(table_name).index(entry)


def rule_text(rule: str | None, programme: str | None = None) -> str:
    """A decision rule in words; the programme-coverage rule names its programme when known:
    'coverage equal to dibao's'."""
    return rule_words(rule, programme)


def is_suppressed(row: dict[str, Any]) -> bool:
    """True for a cell withheld by disclosure control."""
    return bool(row.get("suppressed"))


def suppressed_cell(row: dict[str, Any]) -> Cell:
    """The mark of a withheld cell: complementary, or too few households (primary, and every
    suppressed cell of a run before complementary suppression)."""
    return COMPLEMENTARY_CELL if row.get("suppression") == "complementary" else SUPPRESSED_CELL


def unit_words(unit: str | None) -> tuple[str, str, str]:
    """(the poor, its beneficiaries, the population) in the run's unit."""
    if unit == "households":
        return "poor households", "beneficiary households", "households"
    return "the poor", "its beneficiaries", "the population"


def group_label(kind: str, value: object) -> str:
    """A group value as a reader sees it: quintile '1' -> 'Q1 (poorest)', 'true' -> 'yes'."""
    label = str(value)
    if kind == "all":
        return "whole population"
    quantile = quantile_words(kind, label)
    if quantile is not None:
        return quantile
    return {"true": "yes", "false": "no"}.get(label, label)


def group_text(kind: str, value: object) -> str:
    """Group type and value in words: 'Region R01', 'whole population'."""
    if kind == "all":
        return group_label(kind, value)
    return f"{group_type_words(kind)} {group_label(kind, value)}"


def group_sort_key(kind: str, value: object) -> tuple[int, str, str]:
    """The whole population first, then known group types in a fixed order; quantiles
    numerically."""
    order = ["all", *GROUP_TYPES]
    label = str(value)
    if label.isdigit():
        label = label.zfill(4)
    return (order.index(kind) if kind in order else len(order), kind, label)


def rate_cell(row: dict[str, Any] | None, rate: str, fallback: float | None = None) -> Cell:
    """A targeting rate with its CI ('56.2 %' and '54.3–58.1 %'), suppressed, or the fallback."""
    if row is not None and is_suppressed(row):
        return suppressed_cell(row)
    if row is None or row.get(rate) is None:
        return Cell(rate_text(rate, fallback))
    kind = described(TARGETING, rate).display
    low, high = row.get(f"{rate}_ci_low"), row.get(f"{rate}_ci_high")
    ci = rate_interval(kind, low, high) if low is not None else ""
    return Cell(formatted(kind, row[rate]), ci=ci)


def point_cell(row: dict[str, Any] | None, rate: str) -> Cell:
    """A targeting rate without its CI (compact tables), suppressed, or a dash."""
    return replace(rate_cell(row, rate), ci="")


def indicator_cell(
    table_name: str, row: dict[str, Any] | None, currency: str = "", *, compact: bool = False
) -> Cell:
    """One long-table indicator value with its CI, in its catalogue display; suppressed marked.

    ``compact`` writes a percentage's CI as '41.8–45.6 %' instead of '41.8 % to 45.6 %'.
    """
    if row is None:
        return Cell(MISSING)
    if is_suppressed(row):
        return suppressed_cell(row)
    kind = described(table_name, row["indicator"], row.get("unit")).display
    value = formatted(kind, row.get("value"), currency=currency)
    low, high = row.get("ci_low"), row.get("ci_high")
    if low is None or high is None:
        return Cell(value)
    if compact and kind in ("percent", "number"):
        return Cell(value, ci=rate_interval(kind, low, high))
    return Cell(value, ci=interval(kind, low, high, currency=currency))


def section(section_id: str, nav: str, title: str, *blocks: Block) -> Section:
    """One report section."""
    return Section(section_id, nav, title, blocks)


def cells(*texts: str) -> tuple[Cell, ...]:
    """Plain cells of already formatted texts."""
    return tuple(Cell(t) for t in texts)
