"""Indicators declared in one place: a ratio of two weighted per-household totals.

To add an indicator, append a :class:`RatioIndicator` to ``DECLARED_INDICATORS`` below, with
its name, unit, display label, definition, source and two polars expressions over the analysis
frame (one row per household): the numerator and denominator *per household*, before weighting.
Nothing else changes. The resource-matching stage then estimates ``Σ d·numerator / Σ
d·denominator`` (d the targeting unit's design weight) nationally and within every matching
group (quintile, region, urban) with Taylor-linearised standard errors and 95 % CIs, publishes
it to ``audit.matching_indicators`` (suppressed under ``disclosure.min_cell_n`` like every
other cell), and the catalogue in ``transforms.catalogue`` lists it, so the data dictionary
(``make docs``) documents it. ``docs/extending.md`` walks through an example.

This module imports nothing of the project, so the contract can read it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import polars as pl

TABLE = "matching_indicators"


@dataclass(frozen=True)
class RatioIndicator:
    """One declared indicator: R = Σ d·numerator / Σ d·denominator over households."""

    name: str
    unit: str
    label: str
    """Display label in the report and the workbook."""
    definition: str
    source: str
    numerator: pl.Expr
    """Per-household numerator (before weighting), e.g. receipt × has_elderly."""
    denominator: pl.Expr
    """Per-household denominator (before weighting), e.g. has_elderly."""
    requires: tuple[str, ...]
    """Analysis columns the expressions read; without them the indicator is skipped, noted."""
    display: Literal["percent", "points", "number", "money", "year"] | None = None
    """How values are shown; None: from the unit (fractions as %)."""


def _flag(column: str) -> pl.Expr:
    """A boolean analysis column as 0/1 (null as 0)."""
    return pl.col(column).fill_null(False).cast(pl.Float64)


DECLARED_INDICATORS: tuple[RatioIndicator, ...] = (
    RatioIndicator(
        name="coverage_elderly_households",
        unit="fraction",
        label="Coverage of people in households with a member aged 65+",
        definition="Share of the population living in households with a member aged 65 or "
        "over that receives the programme: Σ d·B·E / Σ d·E, B receipt, E has_elderly.",
        source="ASPIRE (coverage of a population group)",
        numerator=_flag("receives_benefit") * _flag("has_elderly"),
        denominator=_flag("has_elderly"),
        requires=("receives_benefit", "has_elderly"),
    ),
    RatioIndicator(
        name="coverage_disabled_households",
        unit="fraction",
        label="Coverage of people in households with a member with a disability",
        definition="Share of the population living in households with a member with a "
        "disability that receives the programme: Σ d·B·D / Σ d·D, D has_disabled.",
        source="ASPIRE (coverage of a population group)",
        numerator=_flag("receives_benefit") * _flag("has_disabled"),
        denominator=_flag("has_disabled"),
        requires=("receives_benefit", "has_disabled"),
    ),
)


def available(
    frame: pl.DataFrame, indicators: Sequence[RatioIndicator]
) -> tuple[list[RatioIndicator], list[str]]:
    """The indicators whose columns the frame has (not all null), and a note for each skipped."""
    present = {name for name in frame.columns if frame[name].null_count() < frame.height}
    kept, notes = [], []
    for indicator in indicators:
        missing = [c for c in indicator.requires if c not in present]
        if missing:
            absent = ", ".join(missing)
            notes.append(f"{indicator.name} skipped: the survey does not record {absent}")
        else:
            kept.append(indicator)
    return kept, notes
