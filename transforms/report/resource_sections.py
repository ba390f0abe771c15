"""The report's money sections: resource matching and the fiscal balance, for every programme.

Both measure against the run's first poverty line (coverage and incidence do not depend on
it). Tables put programmes across, ADePT style (groups or indicators down, one column per
programme); a chart shows one programme and its caption says which.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import polars as pl

from transforms.catalogue import FISCAL, MATCHING
from transforms.report import charts
from transforms.report import dimensions as dims
from transforms.report.blocks import Block, Cell, Figure, Section, Table, Unavailable
from transforms.report.cells import (
    CI,
    catalogue_order,
    cells,
    currency_code,
    described,
    group_label,
    group_sort_key,
    indicator_cell,
    section,
)
from transforms.report.data import ReportData
from transforms.report.dimensions import Key
from transforms.report.formats import MISSING, count, formatted
from transforms.report.names import (
    BENEFIT_STANDARD,
    COST_SHARE_GDP,
    CROSSED_YEAR,
    PROJECTION,
    QUINTILE_SERIES,
    STANDARD_GAP,
    STANDARDS,
    THRESHOLD,
    TIER_SHARE,
)
from transforms.report.words import NEED_TIERS, group_type_words, tier_words, unit_text


def programme_headers(programmes: Sequence[Key], unnamed: str) -> tuple[str, ...]:
    """Column headers of programmes across: their names, or ``unnamed`` for the one unnamed
    programme of an older run (or of a survey without programme data)."""
    if not dims.is_named(programmes):
        return (unnamed,)
    return tuple(dims.programme_label(p) for p in programmes)


def surveyed(rows: Sequence[dict[str, Any] | None]) -> set[int]:
    """The distinct households-surveyed counts behind one row's cells across programmes."""
    return {r["n_obs"] for r in rows if r is not None and r.get("n_obs") is not None}


def with_surveyed(
    headers: tuple[str, ...], rows: list[tuple[Cell, ...]], counts: list[set[int]]
) -> tuple[tuple[str, ...], tuple[tuple[Cell, ...], ...]]:
    """Headers and rows with a 'Households surveyed' column when every row's programmes share
    one count (beneficiary counts differ by programme: then the column is left out)."""
    if any(len(n) > 1 for n in counts) or not any(counts):
        return headers, tuple(rows)
    column = [Cell(count(next(iter(n), None))) for n in counts]
    body = tuple((*row, cell) for row, cell in zip(rows, column, strict=True))
    return (*headers, "Households surveyed"), body


def line_words(frame: pl.DataFrame) -> str:
    """', line <name>' for the line of a frame's rows ('' when unnamed or mixed)."""
    lines = dims.first_seen(dims.column_values(frame, "poverty_line"))
    return f", line {lines[0]}" if len(lines) == 1 and lines[0] is not None else ""


# ---------------------------------------------------------------- matching


def indicator_table(
    frame: pl.DataFrame, names: Sequence[str], *, caption: str, currency: str = ""
) -> Table:
    """Matching indicators side by side: one row per group, one column per indicator."""
    found = {(r["group_type"], r["group_value"], r["indicator"]): r for r in frame.to_dicts()}
    groups = sorted({(kind, value) for kind, value, _ in found}, key=lambda g: group_sort_key(*g))
    has_n = frame["n_obs"].drop_nulls().len() > 0  # region standards come from a table
    rows = []
    for kind, value in groups:
        row = [found.get((kind, value, name)) for name in names]
        n_obs = max((r["n_obs"] for r in row if r and r.get("n_obs") is not None), default=None)
        line = [Cell(group_label(kind, value))]
        line += [indicator_cell(MATCHING, r, currency) for r in row]
        rows.append((*line, Cell(count(n_obs))) if has_n else tuple(line))
    kinds = {kind for kind, _ in groups}
    first = group_type_words(next(iter(kinds))) if len(kinds) == 1 else "Group"
    headers: tuple[str, ...] = (first, *(described(MATCHING, name).label for name in names))
    headers += ("Households surveyed",) if has_n else ()
    return Table(headers, tuple(rows), caption=caption, css="compact")


BENEFIT_INCIDENCE_COUNT = (
    " A quintile's benefit incidence is suppressed when too few of its households are paid a "
    "benefit (the count is of paid households, not of the quintile; see Definitions)."
)


def crosstab(frame: pl.DataFrame, name: str, programmes: Sequence[Key], *, caption: str) -> Table:
    """One matching indicator by quintile: quintiles down, programmes across, with 95 % CIs."""
    rows = frame.filter(pl.col("indicator") == name).to_dicts()
    found = {(r.get("programme"), r["group_value"]): r for r in rows}
    quintiles = charts.quintile_order(list(dict.fromkeys(r["group_value"] for r in rows)))
    table_rows: list[tuple[Cell, ...]] = []
    counts: list[set[int]] = []
    for quintile in quintiles:
        by_programme = [found.get((p, quintile)) for p in programmes]
        counts.append(surveyed(by_programme))
        table_rows.append(
            (
                Cell(group_label("quintile", quintile)),
                *(indicator_cell(MATCHING, r, compact=True) for r in by_programme),
            )
        )
    headers = (
        group_type_words("quintile"),
        *programme_headers(programmes, f"{described(MATCHING, name).label}, {CI}"),
    )
    headers, body = with_surveyed(headers, table_rows, counts)
    return Table(headers, body, caption=caption, css="compact")


def quintile_blocks(frame: pl.DataFrame, data: ReportData) -> list[Block]:
    """Coverage and benefit incidence by quintile: a chart of one programme ('any' when there
    are several), and one cross-tab per indicator with every programme across."""
    quintiles = frame.filter(
        (pl.col("group_type") == "quintile") & pl.col("indicator").is_in(QUINTILE_SERIES)
    )
    if quintiles.height == 0:
        reason = "no coverage or benefit incidence by quintile"
        if not dims.records_programmes(data):
            reason = "the survey records no programme, so no coverage or benefit incidence"
        return [Unavailable(reason)]
    programmes = dims.programmes_in(quintiles, data)
    drawn = dims.ANY if dims.ANY in programmes else programmes[0]
    whose = "" if drawn is None else f"Programme {dims.programme_label(drawn)}: "
    caption = (
        f"{whose}coverage (share of each quintile reached) and benefit incidence (share of all "
        "benefit money going to the quintile) by quintile of pre-transfer welfare, with "
        "95 % CIs. A well-targeted programme has its tallest bars on the left."
    )
    svg = charts.coverage_by_quintile(dims.select(quintiles, programme=drawn))
    blocks: list[Block] = [Figure("coverage-by-quintile", svg, caption)]
    for name in QUINTILE_SERIES:
        label = described(MATCHING, name).label
        caption = (
            f"{label} by quintile of pre-transfer welfare (Q1 poorest), one column per "
            f"programme{line_words(quintiles)}, with 95 % CIs."
            + (BENEFIT_INCIDENCE_COUNT if name == QUINTILE_SERIES[1] else "")
        )
        blocks.append(crosstab(quintiles, name, programmes, caption=caption))
    return blocks


def standards_blocks(frame: pl.DataFrame, data: ReportData, currency: str) -> list[Block]:
    """Each region's benefit standard against its needs-based standard: chart and table."""
    standards = frame.filter(
        (pl.col("group_type") == "region") & pl.col("indicator").is_in(STANDARDS)
    )
    programmes = dims.programmes_in(standards, data)
    if programmes:
        standards = dims.select(standards, programme=programmes[0])
    if standards.filter(pl.col("indicator") != STANDARD_GAP).height == 0:
        return [Unavailable("no regional benefit standards")]
    caption = (
        "Each region's benefit standard against its needs-based standard (national floor × "
        "regional cost-of-living coefficient). Labels: standard gap = (benefit standard − "
        "needs-based) ÷ needs-based; a negative gap (red) means the standard falls short."
    )
    svg = charts.regional_standards(standards, currency=currency)
    figure = Figure("regional-standards", svg, caption)
    unit = unit_text(described(MATCHING, BENEFIT_STANDARD).unit, currency)
    caption = (
        f"Regional standards ({unit}), from the regions file."
        if unit
        else "Regional standards, from the regions file."
    )
    return [figure, indicator_table(standards, STANDARDS, caption=caption)]  # unit in caption


TIER = "tier"
"""The group_type of tier_share rows; group_value '<need tier>|band<k>'."""


def band_order(band: str) -> tuple[int, str]:
    """Benefit bands in numeric order: 'No benefit' (band 0), then band 1, 2, …"""
    number = band.rsplit(" ", 1)[-1]
    return (int(number), band) if number.isdigit() else (0, band)


def tier_table(tiers: pl.DataFrame, programme: Key, *, first: bool = True) -> Table:
    """One programme's need tier × benefit band matrix of population shares, in words; the
    first table's caption says what the cells are, the others' refer to it."""
    cells_by = {tier_words(r["group_value"]): r for r in tiers.to_dicts()}
    needs = [need for need in NEED_TIERS.values() if any(n == need for n, _ in cells_by)]
    bands = sorted({band for _, band in cells_by}, key=band_order)
    rows = tuple(
        (
            Cell(need),
            *(
                replace(indicator_cell(MATCHING, cells_by.get((need, band))), ci="")
                for band in bands
            ),
        )
        for need in needs
    )
    unit = dims.first_seen(dims.column_values(tiers, "population_unit"))
    share = f"share of {unit[0] if unit and unit[0] else 'the population'}"
    whose = "" if programme is None else f"Programme {dims.programme_label(programme)}: "
    caption = f"{whose}the same, {share} by need tier and benefit band."
    if first:
        caption = (
            f"{whose}{share} in each need tier (rows: pre-transfer welfare against the poverty "
            f"line{line_words(tiers).removeprefix(', line')}) and benefit band (columns: benefit "
            "per person, band 1 the lowest paid, as the programme's benefit tier bounds set them); "
            "the cells add up to 100 %, their 95 % CIs are in the workbook."
        )
    headers = ("Need tier", *bands)
    return Table(headers, rows, caption=caption, css="compact")


def tier_blocks(frame: pl.DataFrame, data: ReportData) -> list[Block]:
    """The need tier × benefit band matrix of each programme that has one."""
    tiers = frame.filter((pl.col("group_type") == TIER) & (pl.col("indicator") == TIER_SHARE))
    return [
        tier_table(dims.select(tiers, programme=programme), programme, first=index == 0)
        for index, programme in enumerate(dims.programmes_in(tiers, data))
    ]


def overall_table(frame: pl.DataFrame, programmes: Sequence[Key], currency: str = "") -> Table:
    """Whole-population matching indicators, one per row in catalogue order, programmes across."""
    found = {(r.get("programme"), r["indicator"]): r for r in frame.to_dicts()}
    names = sorted({name for _, name in found}, key=lambda n: catalogue_order(MATCHING, n))
    rows: list[tuple[Cell, ...]] = []
    counts: list[set[int]] = []
    for name in names:
        by_programme = [found.get((p, name)) for p in programmes]
        units = [r.get("unit") for r in by_programme if r]
        counts.append(surveyed(by_programme))
        rows.append(
            (
                Cell(described(MATCHING, name).label),
                Cell(
                    unit_text(described(MATCHING, name, units[0] if units else None).unit, currency)
                ),
                *(indicator_cell(MATCHING, r, compact=True) for r in by_programme),
            )
        )
    headers = ("Indicator", "Unit", *programme_headers(programmes, f"Value ({CI})"))
    headers, body = with_surveyed(headers, rows, counts)
    caption = f"Whole population{line_words(frame)}, with 95 % CIs."
    return Table(headers, body, numeric_from=2, caption=caption, css="compact")


def matching_section(data: ReportData) -> Section:
    """Coverage and benefit incidence by quintile for every programme; regional standards
    against needs; whole-population indicators, against the first line."""
    title = "Resource matching"
    if data.matching_indicators.height == 0:
        reason = "the run published no resource-matching indicators"
        return section("matching", "Resource matching", title, Unavailable(reason))
    frame = dims.first_line_of(data.matching_indicators, data)
    currency = currency_code(data.run, data.poverty_lines)
    blocks = [*quintile_blocks(frame, data), *standards_blocks(frame, data, currency)]
    blocks += tier_blocks(frame, data)
    overall = frame.filter(pl.col("group_type") == "all")
    if overall.height:
        blocks.append(overall_table(overall, dims.programmes_in(overall, data), currency))
    return section("matching", "Resource matching", title, *blocks)


# ---------------------------------------------------------------- fiscal


def published_threshold(fiscal: pl.DataFrame) -> float | None:
    """The sustainability threshold (share of GDP) the run published, if any."""
    values = fiscal.filter(pl.col("indicator") == THRESHOLD)["value"].drop_nulls()
    return float(values[0]) if values.len() else None


def crossing_years(fiscal: pl.DataFrame, threshold: float | None) -> dict[str, int | None]:
    """Per scenario, the first year cost_share_gdp exceeds the sustainability threshold.

    Uses the published ``threshold_crossed_year`` rows (null value: never crossed); without
    them, computes it from the published threshold; empty when neither is available.
    """
    published = fiscal.filter(pl.col("indicator") == CROSSED_YEAR)
    if published.height:
        return {
            r["scenario"]: None if r["value"] is None else round(r["value"])
            for r in published.to_dicts()
        }
    if threshold is None:
        return {}
    shares = fiscal.filter(pl.col("indicator") == COST_SHARE_GDP).drop_nulls("year")
    crossed = shares.filter(pl.col("value") > threshold).group_by("scenario").agg(pl.min("year"))
    years = dict(zip(crossed["scenario"], crossed["year"], strict=True))
    return {scenario: years.get(scenario) for scenario in shares["scenario"].unique()}


def projection_rows(
    shares: pl.DataFrame, crossings: dict[str, int | None]
) -> tuple[tuple[Cell, ...], ...]:
    """Per scenario: the first year above the threshold and the cost share at the end."""
    share_kind = described(FISCAL, COST_SHARE_GDP).display
    year_kind = described(FISCAL, CROSSED_YEAR).display
    rows = []
    for scenario in sorted(shares["scenario"].unique().to_list()):
        line = shares.filter(pl.col("scenario") == scenario).drop_nulls("year").sort("year")
        first = crossings.get(scenario)
        crossed = "not within the projection" if first is None else formatted(year_kind, first)
        last = line.row(-1, named=True)
        end = (
            f"{formatted(share_kind, last['value'], digits=2)} in {formatted('year', last['year'])}"
        )
        rows.append(cells(scenario, crossed if crossings else MISSING, end))
    return tuple(rows)


def current_fiscal_table(current: pl.DataFrame, programmes: Sequence[Key], currency: str) -> Table:
    """The survey-year fiscal indicators (spending, leakage, effectiveness, budgets): one row
    per indicator, one column per programme, the unit (with the currency) in the last."""
    found: dict[tuple[Key, str], dict[str, Any]] = {
        (r.get("programme"), r["indicator"]): r for r in current.to_dicts()
    }
    names = dims.first_seen(current["indicator"].to_list())
    rows = []
    for name in names:
        by_programme = [found.get((p, str(name))) for p in programmes]
        units = [r.get("unit") for r in by_programme if r]
        facts = described(FISCAL, str(name), units[0] if units else None)
        values = (
            formatted(facts.display, None if r is None else r.get("value")) for r in by_programme
        )
        rows.append(cells(facts.label, *values, unit_text(facts.unit, currency)))
    caption = (
        f"Survey year{line_words(current)}: spending, leakage, poverty and inequality effects, "
        "budget scenarios."
    )
    headers = ("Indicator", *programme_headers(programmes, "Value"), "Unit")
    return Table(
        headers, tuple(rows), numeric_to=1 + len(programmes), caption=caption, css="compact"
    )


def projected(fiscal: pl.DataFrame) -> pl.DataFrame:
    """The projection rows drawn by scenario and year (projected cost, its share of GDP)."""
    return fiscal.filter(pl.col("indicator").is_in(PROJECTION) & pl.col("year").is_not_null())


def projection_blocks(
    frame: pl.DataFrame, whose: str, currency: str = "", *, programmes: bool = True
) -> list[Block]:
    """The cost projection by scenario (chart) and the first year above the threshold (table);
    ``programmes`` False: the survey records no programme, so there is no cost to project."""
    projection = projected(frame)
    if projection.height == 0 and not programmes:
        return [Unavailable("the survey records no programme, so there is no cost to project")]
    if projection.height == 0:
        return [Unavailable("no projection (it needs a population projection and fiscal.gdp)")]
    threshold = published_threshold(frame)
    crossings = crossing_years(frame, threshold)
    limit = formatted(described(FISCAL, THRESHOLD).display, threshold, digits=2)
    caption = (
        f"{whose}cost by year under each scenario, and its share of GDP"
        + (f"; dashed: sustainability threshold ({limit})" if threshold is not None else "")
        + ("; red rings: first year above the threshold" if crossings else "")
        + "."
    )
    svg = charts.fiscal_projection(
        projection, threshold=threshold, crossings=crossings, currency=currency
    )
    blocks: list[Block] = [Figure("fiscal-projection", svg, caption)]
    shares = projection.filter(pl.col("indicator") == COST_SHARE_GDP)
    if shares.height:
        headers = (
            "Scenario",
            described(FISCAL, CROSSED_YEAR).label,
            f"{described(FISCAL, COST_SHARE_GDP).label}, at the end of the projection",
        )
        caption = (
            f"{described(FISCAL, THRESHOLD).label}: {limit}."
            if threshold is not None
            else "No sustainability threshold was published for this run."
        )
        blocks.append(Table(headers, projection_rows(shares, crossings), caption=caption))
    return blocks


def fiscal_section(data: ReportData) -> Section:
    """The first programme's cost projection by scenario against the sustainability threshold;
    survey-year values of every programme, against the first line."""
    title = "Fiscal balance and projection"
    frame = dims.first_line_of(data.fiscal_indicators, data)
    current = frame.filter(pl.col("scenario") == "current")
    if projected(frame).height == 0 and current.height == 0:
        reason = "the run published no fiscal indicators"
        return section("fiscal", "Fiscal", title, Unavailable(reason))
    programmes = dims.programmes_in(frame, data)
    first = programmes[0] if programmes else None
    whose = "Programme " if first is None else f"Programme {dims.programme_label(first)}: "
    currency = currency_code(data.run, data.poverty_lines)
    blocks = projection_blocks(
        dims.select(frame, programme=first),
        whose,
        currency,
        programmes=dims.records_programmes(data),
    )
    if current.height:
        programmes = dims.programmes_in(current, data)
        blocks.append(current_fiscal_table(current, programmes, currency))
    return section("fiscal", "Fiscal", title, *blocks)
