"""The workbook's cross-tab sheets, one per indicator family, ADePT SP style.

Coverage, incidence, adequacy (and regional standards), targeting accuracy, poverty and
inequality impact, budget scenarios, the ageing projection and programme overlap: groups,
methods, indicators or years down; programmes (or rates, or scenarios) across; every estimate
with its 95 % CI where the warehouse has one. Which indicators each sheet shows is named here,
through the catalogue (:func:`transforms.catalogue.require`), never as a literal label; the
pivots are :mod:`transforms.report.crosstabs`. A family the run did not publish gives a sheet
that says so. Tables that depend on the poverty line come once per line, in the run's order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import polars as pl

from transforms.catalogue import FISCAL, MATCHING, TARGETING, require
from transforms.contract import table
from transforms.report import dimensions as dims
from transforms.report.cells import GROUP_TYPES, described, rule_text
from transforms.report.crosstabs import (
    ESTIMATE_CI,
    Context,
    Crosstab,
    CrosstabSheet,
    Header,
    Text,
    Value,
    by_group,
    by_indicator,
    by_year,
    count_cell,
    estimate,
    estimate_cells,
    has_ci,
    indicator_format,
    indicator_unit,
    line_note,
    population_words,
    programme_headers,
    published_names,
    source_note,
    value_columns,
)
from transforms.report.data import ReportData
from transforms.report.dimensions import Key
from transforms.report.formats import pct
from transforms.report.number_formats import COUNT, PERCENT, unit_text

MATCHING_COVERAGE, BENEFICIARY_INCIDENCE, BENEFIT_INCIDENCE, ADEQUACY = require(
    MATCHING, "coverage", "beneficiary_incidence", "benefit_incidence", "adequacy"
)
REGIONAL_STANDARDS = require(
    MATCHING,
    "benefit_standard",
    "needs_based_standard",
    "real_standard",
    "standard_gap",
    "regional_coefficient",
)
TARGETING_RATES = require(TARGETING, "coverage", "exclusion_error", "inclusion_error")
POVERTY_RATE = require(TARGETING, "poverty_rate")[0]
POVERTY_IMPACT = require(
    FISCAL,
    "fgt0_pre",
    "fgt0_post",
    "fgt1_pre",
    "fgt1_post",
    "fgt2_pre",
    "fgt2_post",
    "gini_pre",
    "gini_post",
    "redistributive_effect",
    "reynolds_smolensky",
    "reranking",
    "concentration_benefits",
    "kakwani",
)
SPENDING = require(
    FISCAL,
    "spending",
    "leakage_spending",
    "leakage_share",
    "spending_share_gdp",
    "spending_share_revenue",
    "spending_effectiveness",
    "vee",
    "spillover",
    "pre",
    "pge",
)
GAP_BUDGETS = require(
    FISCAL,
    "poverty_gap_total",
    "poverty_gap_share_gdp",
    "poverty_gap_share_revenue",
    "mean_gap_per_poor_person",
    "budget_perfect_targeting",
    "budget_pmt:<model>",
    "budget_pmt_flat:<model>",
    "budget_universal",
)
BUDGET_ALLOCATIONS = require(FISCAL, "poverty_reduction_with_current_budget:<scenario>")
PROJECTED = require(FISCAL, "projected_cost", "cost_share_gdp", "projected_beneficiaries")
CROSSED_YEAR, THRESHOLD = require(FISCAL, "threshold_crossed_year", "sustainability_threshold")
NOT_CROSSED = Text("not within the projection")
CURRENT = "current"
OVERLAP = table("programme_overlap").name
"""The published table of programme combinations (its name checked against the contract)."""
"""The scenario of the survey-year fiscal rows."""
QUANTILE_WORDS = {
    "quintile": "quintile of pre-transfer welfare per person (Q1 poorest)",
    "quintile_post": "quintile of post-transfer welfare per person (Q1 poorest)",
    "region": "region",
    "urban": "urban or rural area",
}
STUBS = GROUP_TYPES | {"quintile_post": "Welfare quintile (post-transfer)"}
DESIGN_NOTE = (
    "95 % CI: design-based (Taylor linearisation on the survey design: strata, PSUs, weights)."
)


# ---------------------------------------------------------------- helpers


def lines_of(frame: pl.DataFrame, ctx: Context) -> list[Key]:
    """The lines a frame's rows name, in the run's order."""
    return dims.by_order(dims.column_values(frame, "poverty_line"), ctx.lines)


def programmes_of(frame: pl.DataFrame, ctx: Context) -> list[Key]:
    """The programmes a frame's rows name, in the run's order (``any`` last)."""
    return dims.by_order(dims.column_values(frame, "programme"), ctx.programmes)


def indicator_rows(frame: pl.DataFrame, names: Sequence[str]) -> pl.DataFrame:
    """The rows of a long table whose indicator is one of ``names`` (published names)."""
    return frame.filter(pl.col("indicator").is_in(list(names)))


def first_line(frame: pl.DataFrame, ctx: Context) -> tuple[Key, pl.DataFrame]:
    """The first line of a frame's rows (in the run's order) and its rows."""
    lines = lines_of(frame, ctx)
    line = lines[0] if lines else None
    return line, dims.select(frame, poverty_line=line) if lines else frame


# ---------------------------------------------------------------- matching (by group)


def group_crosstab(
    frame: pl.DataFrame, name: str, kind: str, ctx: Context, *, line_independent: bool
) -> Crosstab | None:
    """One matching indicator of one line: the groups of ``kind`` down (and the whole
    population), programmes across, each with its 95 % CI; None when no row has the groups."""
    rows = frame.filter(pl.col("group_type").is_in([kind, "all"]))
    if rows.filter(pl.col("group_type") == kind).height == 0:
        return None
    line = dims.first_seen(dims.column_values(rows, "poverty_line"))[0]
    programmes = programmes_of(rows, ctx)
    body, with_ci = by_group(rows, kind, programmes, indicator_format(MATCHING, name, ctx.currency))
    label = described(MATCHING, name).label
    unit = indicator_unit(MATCHING, name, ctx.currency) + population_words(rows)
    notes = (
        f"{unit}.",
        source_note(MATCHING, [name], ctx.run_id),
        line_note(line, independent=line_independent),
        *((DESIGN_NOTE,) if with_ci else ()),
        ctx.suppressed_note,
    )
    return Crosstab(
        title=f"{label}, by {QUANTILE_WORDS.get(kind, kind)}",
        unit=unit,
        stub=STUBS.get(kind, kind),
        headers=programme_headers(programmes, ESTIMATE_CI if with_ci else ()),
        rows=body,
        notes=notes,
        shows=((MATCHING, name),),
    )


def matching_tables(
    data: ReportData, ctx: Context, names: Sequence[str], kinds: Sequence[str]
) -> tuple[Crosstab, ...]:
    """Each of ``names`` by each group type of ``kinds``, against the first line published
    (their definitions do not involve the line)."""
    tables = []
    for name in names:
        _, rows = first_line(indicator_rows(data.matching_indicators, [name]), ctx)
        for kind in kinds:
            crosstab = group_crosstab(rows, name, kind, ctx, line_independent=True)
            if crosstab is not None:
                tables.append(crosstab)
    return tuple(tables)


def coverage_sheet(data: ReportData, ctx: Context) -> CrosstabSheet:
    """Coverage by pre- and post-transfer quintile, region and area, programmes across."""
    kinds = ("quintile", "quintile_post", "region", "urban")
    return CrosstabSheet(
        "Coverage",
        "Coverage",
        "Share of each quintile, region and area receiving each programme, with 95 % CIs.",
        matching_tables(data, ctx, [MATCHING_COVERAGE], kinds),
        "the run published no coverage by group (audit.matching_indicators)",
    )


def incidence_sheet(data: ReportData, ctx: Context) -> CrosstabSheet:
    """Beneficiary and benefit incidence by quintile, programmes across."""
    names = (BENEFICIARY_INCIDENCE, BENEFIT_INCIDENCE)
    return CrosstabSheet(
        "Incidence",
        "Beneficiary and benefit incidence",
        "Each quintile's share of all beneficiaries and of all benefit money, with 95 % CIs.",
        matching_tables(data, ctx, names, ("quintile", "quintile_post")),
        "the run published no incidence by quintile (audit.matching_indicators)",
    )


def unit_words(name: str, ctx: Context) -> str:
    """A matching indicator's unit in words, the currency named."""
    facts = described(MATCHING, name)
    return unit_text(facts.unit, facts.display, ctx.currency)


def standards_crosstab(data: ReportData, ctx: Context) -> Crosstab | None:
    """Each region's benefit standard against its needs-based standard: regions down, the
    standards across (from the regions file: one programme's rows, no CI)."""
    rows = indicator_rows(data.matching_indicators, REGIONAL_STANDARDS)
    rows = rows.filter(pl.col("group_type") == "region")
    if rows.height == 0:
        return None
    line, rows = first_line(rows, ctx)
    programme = programmes_of(rows, ctx)[0]
    rows = dims.select(rows, programme=programme)
    names = [n for n in REGIONAL_STANDARDS if rows.filter(pl.col("indicator") == n).height]
    found = {(r["group_value"], r["indicator"]): r for r in rows.to_dicts()}
    formats = {n: indicator_format(MATCHING, n, ctx.currency) for n in names}
    body = tuple(
        (Text(str(region)), *(estimate(found.get((region, n)), "value", formats[n]) for n in names))
        for region in sorted({str(r) for r in rows["group_value"].to_list()})
    )
    units = "; ".join(f"{described(MATCHING, n).label}: {unit_words(n, ctx)}" for n in names)
    return Crosstab(
        title="Regional benefit standards against needs-based standards",
        unit=f"Units: {units}",
        stub=STUBS["region"],
        headers=tuple(Header(described(MATCHING, n).label) for n in names),
        rows=body,
        notes=(
            f"Units: {units}.",
            source_note(MATCHING, names, ctx.run_id),
            "From the regions file, not the sample: no CI, never suppressed; the same for "
            f"every programme (shown: {dims.programme_label(programme)}).",
            line_note(line, independent=True),
        ),
        shows=tuple((MATCHING, n) for n in names),
    )


def adequacy_sheet(data: ReportData, ctx: Context) -> CrosstabSheet:
    """Adequacy by quintile and region, programmes across; regional standards."""
    tables = matching_tables(data, ctx, [ADEQUACY], ("quintile", "region"))
    standards = standards_crosstab(data, ctx)
    return CrosstabSheet(
        "Adequacy",
        "Adequacy and regional standards",
        "Benefits as a share of beneficiaries' pre-transfer welfare by quintile and region, "
        "and each region's benefit standard against its needs.",
        (*tables, *((standards,) if standards else ())),
        "the run published no adequacy or regional standards (audit.matching_indicators)",
    )


# ---------------------------------------------------------------- targeting (by method)


def method_label(row: dict[str, Any]) -> str:
    """'Programme dibao' (actual receipt), 'PMT ols, rate: coverage = dibao's'."""
    method, programme = str(row.get("method") or ""), row.get("programme")
    if method == dims.PROGRAM:
        return f"Programme {dims.programme_label(programme)}"
    rule = rule_text(row.get("decision_rule"), programme)
    return f"PMT {method.removeprefix(dims.PMT_PREFIX)}, {rule}"


def method_order(rows: pl.DataFrame, ctx: Context) -> list[dict[str, Any]]:
    """National rows: the programmes (actual receipt) in the run's order, then the models as
    published."""
    programmes = programmes_of(dims.actual_rows(rows), ctx)
    actual = [
        row
        for p in programmes
        for row in dims.select(dims.actual_rows(rows), programme=p).to_dicts()
    ]
    return actual + dims.model_rows(rows).to_dicts()


def targeting_crosstab(rows: pl.DataFrame, line: Key, ctx: Context) -> Crosstab:
    """Coverage, exclusion and inclusion error of every method against one line, nationally:
    methods down, rates across with 95 % CIs, then the households surveyed."""
    with_ci = has_ci(rows, f"{TARGETING_RATES[0]}_ci_low")
    body = []
    for row in method_order(rows, ctx):
        cells: list[Value] = [Text(method_label(row))]
        for rate in TARGETING_RATES:
            cells += estimate_cells(row, value_columns(with_ci, rate), PERCENT)
        cells.append(count_cell(row.get("n_obs")))
        body.append(tuple(cells))
    sub = ESTIMATE_CI if with_ci else ()
    unit = indicator_unit(TARGETING, TARGETING_RATES[0], ctx.currency) + population_words(
        rows, "unit"
    )
    poverty = rows.filter(pl.col("method") == dims.PROGRAM)[POVERTY_RATE].drop_nulls()
    poverty_words = (
        f" {described(TARGETING, POVERTY_RATE).label} against this line: {pct(poverty[0])}."
        if poverty.len()
        else ""
    )
    return Crosstab(
        title=f"Targeting accuracy by method, line {dims.line_label(line)}",
        unit=unit,
        stub="Method",
        headers=(
            *(Header(described(TARGETING, rate).label, sub) for rate in TARGETING_RATES),
            Header("Households surveyed"),
        ),
        rows=tuple(body),
        notes=(
            f"{unit}; households surveyed: unweighted count behind each row.",
            source_note(TARGETING, [*TARGETING_RATES, "n_obs"], ctx.run_id),
            line_note(line) + poverty_words,
            "Programme rows: actual receipt. PMT rows: the model's out-of-fold selection under "
            "the decision rule named (rate: coverage fixed; line: predicted poor).",
            *((DESIGN_NOTE,) if with_ci else ()),
            ctx.suppressed_note,
        ),
        shows=(*((TARGETING, rate) for rate in TARGETING_RATES), (TARGETING, "n_obs")),
    )


def targeting_sheet(data: ReportData, ctx: Context) -> CrosstabSheet:
    """Targeting accuracy of every programme and model, one table per poverty line."""
    national = data.targeting_errors.filter(pl.col("group_type") == "all")
    tables = tuple(
        targeting_crosstab(dims.select(national, poverty_line=line), line, ctx)
        for line in lines_of(national, ctx)
    )
    return CrosstabSheet(
        "Targeting",
        "Targeting accuracy",
        "Coverage, exclusion and inclusion error of each programme and PMT model, nationally, "
        "per poverty line, with 95 % CIs.",
        tables,
        "the run published no targeting errors (audit.targeting_errors)",
    )


# ---------------------------------------------------------------- fiscal (by indicator)


def fiscal_crosstab(
    current: pl.DataFrame, names: Sequence[str], line: Key, ctx: Context, *, title: str
) -> Crosstab | None:
    """Survey-year fiscal indicators of one line: indicators down, programmes across, the unit
    last (no CI: the warehouse publishes none for fiscal indicators)."""
    published = published_names(current, FISCAL, names)
    if not published:
        return None
    programmes = programmes_of(current, ctx)
    years = sorted({int(str(y)) for y in current["year"].drop_nulls().to_list()})
    year = f"; survey year {years[0]}" if len(years) == 1 else ""
    return Crosstab(
        title=f"{title}, line {dims.line_label(line)}",
        unit=f"Units: per row{year}{population_words(current)}",
        stub="Indicator",
        headers=(*programme_headers(programmes, ()), Header("Unit")),
        rows=by_indicator(current, FISCAL, published, programmes, ctx.currency),
        notes=(
            f"Units: per row (last column){year}{population_words(current)}.",
            source_note(FISCAL, [], ctx.run_id),
            line_note(line),
            "No CI: the warehouse publishes none for fiscal indicators. Not subject to "
            "disclosure control (totals, not cells of the sample).",
        ),
        shows=tuple((FISCAL, name) for name in published),
    )


def fiscal_tables(
    data: ReportData, ctx: Context, parts: Sequence[tuple[str, Sequence[str]]]
) -> tuple[Crosstab, ...]:
    """For every line, one table per (title, indicators) part, survey-year rows."""
    current = data.fiscal_indicators.filter(pl.col("scenario") == CURRENT)
    tables = []
    for line in lines_of(current, ctx):
        rows = dims.select(current, poverty_line=line)
        for title, names in parts:
            crosstab = fiscal_crosstab(rows, names, line, ctx, title=title)
            if crosstab is not None:
                tables.append(crosstab)
    return tuple(tables)


def impact_sheet(data: ReportData, ctx: Context) -> CrosstabSheet:
    """Poverty (FGT 0, 1, 2) and inequality (Gini, concentration) before and after the
    transfer, per line, programmes across."""
    parts = [("Poverty and inequality before and after the transfer", POVERTY_IMPACT)]
    return CrosstabSheet(
        "Poverty impact",
        "Poverty and inequality impact",
        "FGT poverty measures and the Gini before and after each programme's transfer, with "
        "the redistributive indices, per poverty line.",
        fiscal_tables(data, ctx, parts),
        "the run published no survey-year fiscal indicators (audit.fiscal_indicators)",
    )


def budgets_sheet(data: ReportData, ctx: Context) -> CrosstabSheet:
    """Spending and its effectiveness, the budget to close the gap under each targeting
    scenario, and the poverty reduction today's budget buys, per line."""
    parts = [
        ("Spending, leakage and effectiveness", SPENDING),
        ("Budget to close the poverty gap, by targeting scenario", GAP_BUDGETS),
        ("Poverty gap reduction today's spending buys, by allocation", BUDGET_ALLOCATIONS),
    ]
    return CrosstabSheet(
        "Budgets",
        "Spending and budget scenarios",
        "Spending, leakage and effectiveness; the budget that closes the poverty gap under "
        "perfect, PMT and universal targeting; the poverty reduction of today's budget.",
        fiscal_tables(data, ctx, parts),
        "the run published no survey-year fiscal indicators (audit.fiscal_indicators)",
    )


# ---------------------------------------------------------------- projection (by year)


def projection_crosstab(rows: pl.DataFrame, name: str, line: Key, ctx: Context) -> Crosstab:
    """One projected indicator: years down, each programme over its scenarios across."""
    programmes = programmes_of(rows, ctx)
    scenarios = tuple(str(s) for s in dims.first_seen(rows["scenario"].to_list()))
    unit = indicator_unit(FISCAL, name, ctx.currency) + population_words(rows)
    return Crosstab(
        title=f"{described(FISCAL, name).label} by year and scenario",
        unit=unit,
        stub="Year",
        headers=programme_headers(programmes, scenarios),
        rows=by_year(rows, programmes, scenarios, indicator_format(FISCAL, name, ctx.currency)),
        notes=(
            f"{unit}.",
            source_note(FISCAL, [name], ctx.run_id),
            line_note(line),
            "Scenarios as configured (fiscal.scenarios); no CI; not subject to disclosure control.",
        ),
        shows=((FISCAL, name),),
    )


def threshold_crosstab(rows: pl.DataFrame, line: Key, ctx: Context) -> Crosstab | None:
    """Per scenario (down) and programme (across): the sustainability threshold (cost share
    of GDP) and the first year the projected cost share exceeds it."""
    published = indicator_rows(rows, [CROSSED_YEAR, THRESHOLD])
    if published.filter(pl.col("indicator") == CROSSED_YEAR).height == 0:
        return None
    programmes = programmes_of(published, ctx)
    found = {(r.get("programme"), r["scenario"], r["indicator"]): r for r in published.to_dicts()}
    threshold_format = indicator_format(FISCAL, THRESHOLD, ctx.currency)
    year_format = indicator_format(FISCAL, CROSSED_YEAR, ctx.currency)

    def crossed(row: dict[str, Any] | None) -> Value:
        if row is not None and row.get("value") is None:
            return NOT_CROSSED
        return estimate(row, "value", year_format)

    body = tuple(
        (
            Text(str(scenario)),
            *(
                cell
                for p in programmes
                for cell in (
                    estimate(found.get((p, scenario, THRESHOLD)), "value", threshold_format),
                    crossed(found.get((p, scenario, CROSSED_YEAR))),
                )
            ),
        )
        for scenario in dims.first_seen(published["scenario"].to_list())
    )
    return Crosstab(
        title=described(FISCAL, CROSSED_YEAR).label,
        unit="Units: threshold as a share of GDP (%); first year as a calendar year",
        stub="Scenario",
        headers=programme_headers(programmes, ("Threshold", "First year above")),
        rows=body,
        notes=(
            "Units: threshold as a share of GDP (%); first year as a calendar year.",
            source_note(FISCAL, [THRESHOLD, CROSSED_YEAR], ctx.run_id),
            line_note(line),
            f"'{NOT_CROSSED.text}': the projected cost share stays at or below the threshold "
            "in every projected year.",
        ),
        shows=((FISCAL, THRESHOLD), (FISCAL, CROSSED_YEAR)),
    )


def projection_sheet(data: ReportData, ctx: Context) -> CrosstabSheet:
    """The ageing projection by year and scenario, against the first line published."""
    fiscal = data.fiscal_indicators.filter(pl.col("scenario") != CURRENT)
    line, rows = first_line(fiscal, ctx)
    tables: list[Crosstab] = []
    for name in PROJECTED:
        projected = indicator_rows(rows, [name]).drop_nulls("year")
        if projected.height:
            tables.append(projection_crosstab(projected, name, line, ctx))
    threshold = threshold_crosstab(rows, line, ctx)
    return CrosstabSheet(
        "Projection",
        "Ageing projection",
        "Projected cost, its share of GDP and beneficiaries by year under each demographic "
        "scenario; the first year above the sustainability threshold.",
        (*tables, *((threshold,) if threshold else ())),
        "no projection in this run (it needs a population projection and fiscal.gdp)",
    )


# ---------------------------------------------------------------- overlap


def combination_size(programmes: str) -> int:
    """How many programmes a combination names ('none' -> 0, 'a + b' -> 2)."""
    return 0 if programmes == "none" else len(programmes.split(" + "))


def overlap_crosstab(frame: pl.DataFrame, ctx: Context) -> Crosstab | None:
    """Each combination of programmes received (the fewest programmes first, then the most
    common): its share with 95 % CI, its weighted population and households surveyed."""
    ordered = sorted(
        frame.to_dicts(),
        key=lambda r: (combination_size(str(r["programmes"])), -(r.get("share") or 0.0)),
    )
    if not ordered:
        return None
    units = dims.first_seen(dims.column_values(frame, "population_unit"))
    unit = str(units[0]) if len(units) == 1 and units[0] else "population"
    columns = ("share", "ci_low", "ci_high") if has_ci(frame) else ("share",)
    body = tuple(
        (
            Text(str(row["programmes"])),
            *estimate_cells(row, columns, PERCENT),
            estimate(row, "population", COUNT),
            count_cell(row.get("n_obs")),
        )
        for row in ordered
    )
    return Crosstab(
        title="Programme overlap: who receives which combination of programmes",
        unit=f"Unit: share of {unit} (%); {unit}; households",
        stub="Programmes received",
        headers=(
            Header(f"Share of {unit}", ESTIMATE_CI if len(columns) > 1 else ()),
            Header(unit.capitalize()),
            Header("Households surveyed"),
        ),
        rows=body,
        notes=(
            f"Unit: share of {unit}, shown as %; weighted {unit}; unweighted households.",
            source_note(OVERLAP, ["share", "population", "n_obs"], ctx.run_id),
            "'none': receives none of the programmes. Combinations do not depend on the "
            "poverty line.",
            *((DESIGN_NOTE,) if len(columns) > 1 else ()),
            ctx.suppressed_note,
        ),
        shows=((OVERLAP, "share"), (OVERLAP, "population")),
    )


def overlap_sheet(data: ReportData, ctx: Context) -> CrosstabSheet:
    """Who receives which combination of programmes (ADePT SP overlap)."""
    overlap = overlap_crosstab(data.programme_overlap, ctx)
    return CrosstabSheet(
        "Overlap",
        "Programme overlap",
        "Share of the population receiving exactly each combination of programmes, with 95 % CIs.",
        (overlap,) if overlap else (),
        "the run published no programme overlap (audit.programme_overlap)",
    )


SHEET_BUILDERS: tuple[Callable[[ReportData, Context], CrosstabSheet], ...] = (
    coverage_sheet,
    incidence_sheet,
    adequacy_sheet,
    targeting_sheet,
    impact_sheet,
    budgets_sheet,
    projection_sheet,
    overlap_sheet,
)


def numbered(sheets: Sequence[CrosstabSheet]) -> tuple[CrosstabSheet, ...]:
    """Tables titled 'Table 2.1 …' (sheet 2, table 1), as ADePT numbers its outputs."""
    return tuple(
        replace(
            sheet,
            tables=tuple(
                replace(t, title=f"Table {s}.{i} {t.title}")
                for i, t in enumerate(sheet.tables, start=1)
            ),
        )
        for s, sheet in enumerate(sheets, start=1)
    )


def crosstab_sheets(data: ReportData, ctx: Context) -> tuple[CrosstabSheet, ...]:
    """Every cross-tab sheet of the run, its tables numbered."""
    return numbered([build(data, ctx) for build in SHEET_BUILDERS])
