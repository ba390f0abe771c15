"""The report's view layer: one run's published rows as formatted text in small view models.

Pure and markup-free: :func:`report_view` turns a :class:`ReportData` into a ``ReportView``
of sections, each a sequence of blocks (tables of already formatted cells, charts, one-line
notices; :mod:`transforms.report.blocks`); ``templates/report.html.j2`` lays them out and
escapes every string. Indicator labels, units and display kinds come from
:mod:`transforms.catalogue`, the names read from :mod:`transforms.report.names`, number
formats from :mod:`transforms.report.formats`.

Every section shows a one-line "Not available in this run: <reason>." instead of failing
when its data is missing; cells withheld by disclosure control read
"suppressed (n < threshold)".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from transforms.catalogue import (
    FISCAL,
    MATCHING,
    TARGETING,
    Display,
    display_of,
    indicators_of,
    lookup,
    targeting_rates,
)
from transforms.contract import SCHEMA
from transforms.report import charts
from transforms.report.blocks import (
    SUPPRESSED_CELL,
    Block,
    Bullets,
    Cell,
    Facts,
    Figure,
    HeadlineSentence,
    ModelNote,
    Paragraph,
    ReportView,
    Section,
    SuppressedNational,
    Table,
    Unavailable,
)
from transforms.report.data import ReportData
from transforms.report.formats import (
    MISSING,
    count,
    formatted,
    interval,
    points,
    rate_interval,
    standard_error,
    text,
    timestamp,
)
from transforms.report.formats import change as change_text
from transforms.report.names import (
    BENEFIT_STANDARD,
    CGH,
    COST_SHARE_GDP,
    COVERAGE,
    CROSSED_YEAR,
    EXCLUSION_ERROR,
    INCLUSION_ERROR,
    POVERTY_RATE,
    PROJECTION,
    QUINTILE_SERIES,
    STANDARD_GAP,
    STANDARDS,
    THRESHOLD,
)

DECISION_RULES = {
    "actual": "actual receipt",
    "rate:poverty_rate": "rate: coverage = poverty rate",
    "rate:programme_coverage": "rate: coverage = programme's",
    "line": "line: predicted poor",
}
GROUP_TYPES = {
    "region": "Region",
    "urban": "Urban",
    "quintile": "Welfare quintile",
    "head_sex": "Sex of household head",
    "has_elderly": "Has a member aged 65+",
    "has_disabled": "Has a member with disability",
}
CI = "95 % CI"


@dataclass(frozen=True)
class Described:
    """What the catalogue says about a published indicator name, for display."""

    label: str
    unit: str
    display: Display


# ---------------------------------------------------------------- catalogue facts


def described(table_name: str, name: str, unit: str | None = None) -> Described:
    """The catalogue's label, unit and display of a published name; a name it lacks (an older
    warehouse) shows as itself, displayed from the row's unit."""
    try:
        item = lookup(table_name, name)
    except KeyError:
        return Described(name.replace("_", " "), unit or "", display_of(unit or ""))
    return Described(item.label_for(name), item.unit, item.display)


def rate_label(rate: str, *, with_ci: bool = False) -> str:
    """A targeting rate's catalogue label, optionally naming its CI: '…, 95 % CI'."""
    return described(TARGETING, rate).label + (f", {CI}" if with_ci else "")


def rate_text(rate: str, value: float | None) -> str:
    """A targeting rate's value in its catalogue display."""
    return formatted(described(TARGETING, rate).display, value)


def currency_code(run: dict[str, Any]) -> str:
    """The currency code money values are written with; '' while no table publishes it.

    Money indicators are in the audit's currency (unit ``currency/…``). When ``audit.runs``
    gains a ``currency`` column, every amount reads '4,200,000,000 XOF' with no other change.
    """
    return str(run.get("currency") or "")


def catalogue_order(table_name: str, name: str) -> int:
    """Position of a published name in the catalogue (uncatalogued names last)."""
    try:
        entry = lookup(table_name, name)
    except KeyError:
        return len(indicators_of(table_name))
    return indicators_of(table_name).index(entry)


# ---------------------------------------------------------------- rows and groups


def programme_rows(data: ReportData) -> pl.DataFrame:
    """The actual programme's targeting rows (all groups)."""
    return data.targeting_errors.filter(pl.col("method") == "program")


def national_row(frame: pl.DataFrame) -> dict[str, Any] | None:
    """The whole-population row of a targeting frame, if any."""
    rows = frame.filter(pl.col("group_type") == "all").to_dicts()
    return rows[0] if rows else None


def is_suppressed(row: dict[str, Any]) -> bool:
    """True for a cell withheld by disclosure control."""
    return bool(row.get("suppressed"))


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
    if kind == "quintile" and label.isdigit():
        return f"Q{label}" + ("\u00a0(poorest)" if label == "1" else "")
    return {"true": "yes", "false": "no"}.get(label, label)


def group_text(kind: str, value: object) -> str:
    """Group type and value in words: 'Region R01', 'whole population'."""
    if kind == "all":
        return group_label(kind, value)
    return f"{GROUP_TYPES.get(kind, kind)} {group_label(kind, value)}"


def group_sort_key(kind: str, value: object) -> tuple[int, str, str]:
    """Known group types in a fixed order; quintiles numerically."""
    order = list(GROUP_TYPES)
    label = str(value)
    if kind == "quintile" and label.isdigit():
        label = label.zfill(4)
    return (order.index(kind) if kind in order else len(order), kind, label)


def rate_cell(row: dict[str, Any] | None, rate: str, fallback: float | None = None) -> Cell:
    """A targeting rate with its CI ('56.2 %' and '54.3–58.1 %'), suppressed, or the fallback."""
    if row is not None and is_suppressed(row):
        return SUPPRESSED_CELL
    if row is None or row.get(rate) is None:
        return Cell(rate_text(rate, fallback))
    kind = described(TARGETING, rate).display
    low, high = row.get(f"{rate}_ci_low"), row.get(f"{rate}_ci_high")
    ci = rate_interval(kind, low, high) if low is not None else ""
    return Cell(formatted(kind, row[rate]), ci=ci)


def indicator_cell(table_name: str, row: dict[str, Any] | None, currency: str = "") -> Cell:
    """One long-table indicator value with its CI, in its catalogue display; suppressed marked."""
    if row is None:
        return Cell(MISSING)
    if is_suppressed(row):
        return SUPPRESSED_CELL
    kind = described(table_name, row["indicator"], row.get("unit")).display
    value = formatted(kind, row.get("value"), currency=currency)
    low, high = row.get("ci_low"), row.get("ci_high")
    if low is None or high is None:
        return Cell(value)
    return Cell(value, ci=interval(kind, low, high, currency=currency))


def section(section_id: str, nav: str, title: str, *blocks: Block) -> Section:
    """One report section."""
    return Section(section_id, nav, title, blocks)


def cells(*texts: str) -> tuple[Cell, ...]:
    """Plain cells of already formatted texts."""
    return tuple(Cell(t) for t in texts)


# ---------------------------------------------------------------- sections


def headline_section(data: ReportData) -> Section:
    """The programme's national targeting errors with 95 % CIs: a sentence and a table."""
    title = "Headline: how well the programme reaches the poor"
    row = national_row(programme_rows(data))
    if row is None:
        reason = "the run published no targeting errors for the actual programme"
        return section("headline", "Headline", title, Unavailable(reason))
    if is_suppressed(row):
        return section("headline", "Headline", title, SuppressedNational())
    poor, beneficiaries, population = unit_words(row.get("unit"))

    def ci(rate: str) -> str:
        kind = described(TARGETING, rate).display
        return rate_interval(kind, row.get(f"{rate}_ci_low"), row.get(f"{rate}_ci_high"))

    sentence = HeadlineSentence(
        exclusion=rate_text(EXCLUSION_ERROR, row.get(EXCLUSION_ERROR)),
        exclusion_ci=ci(EXCLUSION_ERROR),
        inclusion=rate_text(INCLUSION_ERROR, row.get(INCLUSION_ERROR)),
        inclusion_ci=ci(INCLUSION_ERROR),
        coverage=rate_text(COVERAGE, row.get(COVERAGE)),
        coverage_ci=ci(COVERAGE),
        poverty_rate=rate_text(POVERTY_RATE, row.get(POVERTY_RATE)),
        poor=poor,
        beneficiaries=beneficiaries,
        population=population,
    )
    rows = tuple(
        cells(
            rate_label(rate),
            rate_text(rate, row.get(rate)),
            ci(rate),
            standard_error(described(TARGETING, rate).display, row.get(f"{rate}_se")),
        )
        for rate in targeting_rates()
    )
    caption = (
        f"Whole population, {count(row.get('n_obs'))} households surveyed; rates are shares "
        f"of {row.get('unit') or 'persons'}, {CI}s design-based."
    )
    table = Table(("Indicator", "Estimate", CI, "SE"), rows, caption=caption)
    return section("headline", "Headline", title, sentence, table)


def model_rows(data: ReportData) -> list[tuple[Cell, ...]]:
    """One row per PMT model and decision rule, national rates with CIs where published."""
    national = {
        (r["method"], r.get("decision_rule") or ""): r
        for r in data.targeting_errors.filter(pl.col("group_type") == "all").to_dicts()
    }
    rule_order = {rule: i for i, rule in enumerate(DECISION_RULES)}
    ordered = sorted(
        data.model_metrics.to_dicts(),
        key=lambda m: (str(m["model"]), rule_order.get(m.get("decision_rule") or "", 99)),
    )
    rows: list[tuple[Cell, ...]] = []
    for m in ordered:
        rule = m.get("decision_rule") or ""
        row = national.get((f"pmt:{m['model']}", rule))
        rows.append(
            (
                Cell(charts.method_label(f"pmt:{m['model']}")),
                Cell(text(DECISION_RULES.get(rule, m.get("decision_rule")))),
                Cell(MISSING if m.get("auc") is None else f"{m['auc']:.3f}"),
                Cell(rate_text(COVERAGE, m.get("coverage"))),
                rate_cell(row, EXCLUSION_ERROR, m.get("exclusion_error")),
                rate_cell(row, INCLUSION_ERROR, m.get("inclusion_error")),
                Cell(rate_text(CGH, m.get("cgh"))),
                Cell(points(m.get("fold_spread"), signed=False)),
            )
        )
    return rows


def programme_model_row(programme: dict[str, Any]) -> tuple[Cell, ...]:
    """The actual programme as a row of the models table."""
    hidden = is_suppressed(programme)
    return (
        Cell("programme", style="strong"),
        Cell(DECISION_RULES["actual"]),
        Cell(MISSING),
        SUPPRESSED_CELL if hidden else Cell(rate_text(COVERAGE, programme.get(COVERAGE))),
        rate_cell(programme, EXCLUSION_ERROR),
        rate_cell(programme, INCLUSION_ERROR),
        Cell(MISSING if hidden else rate_text(CGH, programme.get(CGH))),
        Cell(MISSING),
    )


def models_section(data: ReportData) -> Section:
    """The programme beside each PMT model under each decision rule."""
    title = "The programme and proxy-means-test models"
    metrics = data.model_metrics
    programme = national_row(programme_rows(data))
    if metrics.height == 0 and programme is None:
        reason = "no model metrics and no programme rates were published"
        return section("models", "Models", title, Unavailable(reason))
    rows = [programme_model_row(programme)] if programme is not None else []
    headers: tuple[str, ...] = ("Method", "Decision rule", "AUC", rate_label(COVERAGE))
    headers += tuple(rate_label(r, with_ci=True) for r in (EXCLUSION_ERROR, INCLUSION_ERROR))
    headers += (rate_label(CGH), "Fold spread")
    blocks: list[Block] = [Table(headers, (*rows, *model_rows(data)), numeric_from=2)]
    if metrics.height == 0:
        blocks.append(Unavailable("no proxy-means-test models were evaluated"))
    schemes = sorted({str(s) for s in metrics["cv_scheme"].drop_nulls().to_list()})
    blocks.append(ModelNote("; ".join(schemes)))
    return section("models", "Models", title, *blocks)


def group_rows(groups: pl.DataFrame) -> tuple[tuple[Cell, ...], ...]:
    """Programme coverage and errors per group, known group types first."""
    ordered = sorted(
        groups.to_dicts(), key=lambda r: group_sort_key(r["group_type"], r["group_value"])
    )
    return tuple(
        (
            Cell(GROUP_TYPES.get(row["group_type"], row["group_type"])),
            Cell(group_label(row["group_type"], row["group_value"])),
            Cell(count(row.get("n_obs"))),
            SUPPRESSED_CELL if is_suppressed(row) else Cell(rate_text(COVERAGE, row.get(COVERAGE))),
            rate_cell(row, EXCLUSION_ERROR),
            rate_cell(row, INCLUSION_ERROR),
        )
        for row in ordered
    )


def groups_section(data: ReportData) -> Section:
    """Programme errors by region (chart) and by every published group (table)."""
    title = "Targeting errors by region and group"
    programme = programme_rows(data)
    groups = programme.filter(pl.col("group_type") != "all")
    if groups.height == 0:
        reason = "the run published no programme targeting errors by group"
        return section("groups", "By group", title, Unavailable(reason))
    blocks: list[Block] = []
    regions = groups.filter(pl.col("group_type") == "region")
    if regions.height:
        svg = charts.errors_by_region(regions, national=national_row(programme))
        caption = (
            "Programme exclusion and inclusion errors by region, with 95 % confidence "
            "intervals; dashed lines are the national rates."
        )
        blocks.append(Figure("errors-by-region", svg, caption))
    else:
        blocks.append(Unavailable("no regional breakdown of the programme was published"))
    headers: tuple[str, ...] = ("Group", "Value", "Households surveyed", rate_label(COVERAGE))
    headers += tuple(rate_label(r, with_ci=True) for r in (EXCLUSION_ERROR, INCLUSION_ERROR))
    caption = (
        "Programme (actual receipt) by group. A dash means the rate is undefined "
        "(no poor, or no one reached, in the group)."
    )
    blocks.append(Table(headers, group_rows(groups), numeric_from=2, caption=caption))
    return section("groups", "By group", title, *blocks)


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
    first = GROUP_TYPES.get(next(iter(kinds)), "Group") if len(kinds) == 1 else "Group"
    headers: tuple[str, ...] = (first, *(described(MATCHING, name).label for name in names))
    headers += ("Households surveyed",) if has_n else ()
    return Table(headers, tuple(rows), caption=caption, css="compact")


def overall_table(frame: pl.DataFrame, currency: str = "") -> Table:
    """Whole-population matching indicators, one per row, in catalogue order."""
    ordered = sorted(frame.to_dicts(), key=lambda r: catalogue_order(MATCHING, r["indicator"]))
    rows = tuple(
        (
            Cell(described(MATCHING, r["indicator"]).label),
            Cell(described(MATCHING, r["indicator"], r.get("unit")).unit),
            indicator_cell(MATCHING, r, currency),
            Cell(count(r.get("n_obs"))),
        )
        for r in ordered
    )
    headers = ("Indicator", "Unit", f"Value ({CI})", "Households surveyed")
    return Table(headers, rows, numeric_from=2, caption="Whole population.", css="compact")


def quintile_blocks(frame: pl.DataFrame) -> list[Block]:
    """Coverage and benefit incidence by quintile: chart and table."""
    quintiles = frame.filter(
        (pl.col("group_type") == "quintile") & pl.col("indicator").is_in(QUINTILE_SERIES)
    )
    if quintiles.height == 0:
        return [Unavailable("no coverage or benefit incidence by quintile")]
    caption = (
        "Coverage (share of each quintile reached) and benefit incidence (share of all "
        "benefit money going to the quintile) by quintile of pre-transfer welfare, with "
        "95 % CIs. A well-targeted programme has its tallest bars on the left."
    )
    figure = Figure("coverage-by-quintile", charts.coverage_by_quintile(quintiles), caption)
    caption = "By quintile of pre-transfer welfare (Q1 poorest), with 95 % CIs."
    return [figure, indicator_table(quintiles, QUINTILE_SERIES, caption=caption)]


def standards_blocks(frame: pl.DataFrame, currency: str) -> list[Block]:
    """Each region's benefit standard against its needs-based standard: chart and table."""
    standards = frame.filter(
        (pl.col("group_type") == "region") & pl.col("indicator").is_in(STANDARDS)
    )
    if standards.filter(pl.col("indicator") != STANDARD_GAP).height == 0:
        return [Unavailable("no regional benefit standards")]
    caption = (
        "Each region's benefit standard against its needs-based standard (national floor × "
        "regional cost-of-living coefficient). Labels: standard gap = (benefit standard − "
        "needs-based) ÷ needs-based; a negative gap (red) means the standard falls short."
    )
    figure = Figure("regional-standards", charts.regional_standards(standards), caption)
    unit = described(MATCHING, BENEFIT_STANDARD).unit
    caption = f"Regional standards ({unit})." if unit else "Regional standards."
    return [figure, indicator_table(standards, STANDARDS, caption=caption, currency=currency)]


def matching_section(data: ReportData) -> Section:
    """Coverage and benefit incidence by quintile; regional standards against needs."""
    title = "Resource matching"
    frame = data.matching_indicators
    if frame.height == 0:
        reason = "the run published no resource-matching indicators"
        return section("matching", "Resource matching", title, Unavailable(reason))
    currency = currency_code(data.run)
    blocks = [*quintile_blocks(frame), *standards_blocks(frame, currency)]
    overall = frame.filter(pl.col("group_type") == "all")
    if overall.height:
        blocks.append(overall_table(overall, currency))
    return section("matching", "Resource matching", title, *blocks)


def curves_section(data: ReportData) -> Section:
    """Targeting curves and ROC per model, with the programme as a point."""
    title = "Targeting curves"
    curves = data.targeting_curves
    if curves.height == 0:
        reason = "the run published no targeting curves"
        return section("curves", "Targeting curves", title, Unavailable(reason))
    caption = (
        "Left: the exclusion error each PMT model would have at every coverage (out of "
        "sample); the diamond is the actual programme. A point below a model's curve does "
        "better than that model at the same coverage. Right: ROC curves — share of the poor "
        "selected against share of the non-poor selected; the dotted diagonal is a lottery."
    )
    figure = Figure("targeting-curves", charts.targeting_curves(curves), caption)
    return section("curves", "Targeting curves", title, figure)


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


def current_fiscal_table(current: pl.DataFrame, currency: str) -> Table:
    """The survey-year fiscal indicators (spending, leakage, effectiveness, budgets)."""
    rows = []
    for r in current.to_dicts():
        facts = described(FISCAL, r["indicator"], r.get("unit"))
        value = formatted(facts.display, r.get("value"), currency=currency)
        rows.append(cells(facts.label, value, facts.unit))
    caption = "Survey year: spending, leakage, poverty and inequality effects, budget scenarios."
    return Table(("Indicator", "Value", "Unit"), tuple(rows), numeric_to=2, caption=caption)


def projected(fiscal: pl.DataFrame) -> pl.DataFrame:
    """The projection rows drawn by scenario and year (projected cost, its share of GDP)."""
    return fiscal.filter(pl.col("indicator").is_in(PROJECTION) & pl.col("year").is_not_null())


def projection_blocks(frame: pl.DataFrame) -> list[Block]:
    """The cost projection by scenario (chart) and the first year above the threshold (table)."""
    projection = projected(frame)
    if projection.height == 0:
        return [Unavailable("no projection (it needs a population projection and fiscal.gdp)")]
    threshold = published_threshold(frame)
    crossings = crossing_years(frame, threshold)
    limit = formatted(described(FISCAL, THRESHOLD).display, threshold, digits=2)
    caption = (
        "Programme cost by year under each scenario, and its share of GDP"
        + (f"; dashed: sustainability threshold ({limit})" if threshold is not None else "")
        + ("; red rings: first year above the threshold" if crossings else "")
        + "."
    )
    svg = charts.fiscal_projection(projection, threshold=threshold, crossings=crossings)
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
    """The cost projection by scenario against the sustainability threshold; survey-year values."""
    title = "Fiscal balance and projection"
    frame = data.fiscal_indicators
    current = frame.filter(pl.col("scenario") == "current")
    if projected(frame).height == 0 and current.height == 0:
        reason = "the run published no fiscal indicators"
        return section("fiscal", "Fiscal", title, Unavailable(reason))
    blocks = projection_blocks(frame)
    if current.height:
        blocks.append(current_fiscal_table(current, currency_code(data.run)))
    return section("fiscal", "Fiscal", title, *blocks)


def validation_section(data: ReportData) -> Section:
    """Expectation counts by severity and outcome; failed expectations with what was seen."""
    title = "Data validation"
    frame = data.validation_results
    if frame.height == 0:
        reason = "no validation results were recorded"
        return section("validation", "Validation", title, Unavailable(reason))
    rows = []
    for severity in sorted(frame["severity"].unique().to_list(), key=lambda s: (s != "error", s)):
        part = frame.filter(pl.col("severity") == severity)
        held = int(part["success"].sum())
        rows.append(
            cells(text(severity), count(held), count(part.height - held), count(part.height))
        )
    caption = "Great Expectations checks on the staging tables."
    blocks: list[Block] = [
        Table(("Severity", "Held", "Failed", "Checked"), tuple(rows), caption=caption)
    ]
    failed = frame.filter(~pl.col("success"))
    if failed.height:
        listed = tuple(
            cells(
                text(r["severity"]),
                text(r["table_name"]),
                r.get("column_name") or "",
                text(r["expectation"]),
                text(r.get("observed")),
            )
            for r in failed.sort(["severity", "table_name"]).to_dicts()
        )
        headers = ("Severity", "Table", "Column", "Expectation", "Observed")
        caption = f"{count(failed.height)} expectation{'s' if failed.height > 1 else ''} failed."
        blocks.append(Table(headers, listed, numeric_from=9, caption=caption, css="compact"))
    else:
        blocks.append(Paragraph(f"All {count(frame.height)} expectations held."))
    return section("validation", "Validation", title, *blocks)


def alert_row(row: dict[str, Any], currency: str) -> tuple[Cell, ...]:
    """One alert: the indicator, where it moved, its values before and now, and the rule."""
    facts = described(TARGETING, row.get("indicator") or "")
    method = row.get("method") or ""
    rule = None if method == "program" else row.get("decision_rule")
    method = "programme" if method == "program" else charts.method_label(method)
    threshold = row.get("threshold")
    return cells(
        facts.label,
        method + (f" ({DECISION_RULES.get(rule, rule)})" if rule else ""),
        group_text(row.get("group_type") or "", row.get("group_value")),
        formatted(facts.display, row.get("previous"), currency=currency),
        formatted(facts.display, row.get("current"), currency=currency),
        change_text(facts.display, row.get("change"), currency=currency),
        formatted("number", threshold) if isinstance(threshold, float) else text(threshold),
    )


def alerts_section(data: ReportData) -> Section:
    """Headline indicators that moved beyond their thresholds since the previous run."""
    title = "Alerts"
    if data.alerts.height == 0:
        return section("alerts", "Alerts", title, Paragraph("No alerts were raised for this run."))
    currency = currency_code(data.run)
    rows = tuple(alert_row(r, currency) for r in data.alerts.to_dicts())
    headers = ("Indicator", "Method", "Group", "Previous", "Current", "Change", "Rule")
    previous: list[str] = []
    if "previous_run_id" in data.alerts.columns:
        previous = sorted({str(p) for p in data.alerts["previous_run_id"].drop_nulls()})
    caption = "Changes beyond the configured thresholds since the previous successful run" + (
        f" ({', '.join(previous)})." if previous else "."
    )
    table = Table(headers, rows, numeric_from=3, numeric_to=6, caption=caption, css="compact")
    return section("alerts", "Alerts", title, table)


RUN_COUNTS = ("rows_read", "rows_loaded", "rows_quarantined")


def provenance_facts(run: dict[str, Any]) -> Facts:
    """The run's identity: id, status, configuration and its hash, code version, row counts."""
    items = [
        ("Run id", Cell(text(run.get("run_id")), style="code")),
        ("Status", Cell(text(run.get("status")))),
        ("Audit", Cell(text(run.get("config_name")))),
        ("Started", Cell(timestamp(run.get("started_at")))),
        ("Finished", Cell(timestamp(run.get("finished_at")))),
        ("Configuration", Cell(text(run.get("config_path")), style="code")),
        ("Configuration SHA-256", Cell(text(run.get("config_sha256")), style="hash")),
        ("Code version", Cell(text(run.get("code_version")), style="code")),
        ("Seed", Cell(text(run.get("seed")))),
        (
            "Rows read / loaded / quarantined",
            Cell(" / ".join(count(run.get(c)) for c in RUN_COUNTS)),
        ),
    ]
    if run.get("error"):
        items.append(("Error", Cell(str(run["error"]))))
    return Facts(tuple(items))


def provenance_section(data: ReportData) -> Section:
    """The run's identity and every input file with its hash."""
    files = data.input_files
    if files.height == 0:
        listed: Block = Unavailable("no input files were recorded")
    else:
        rows = tuple(
            (
                Cell(text(f["role"])),
                Cell(text(f.get("path")), style="code"),
                Cell(text(f.get("sha256")), style="hash"),
                Cell(count(f.get("bytes"))),
                *(Cell(count(f.get(c))) for c in RUN_COUNTS),
            )
            for f in files.sort("role").to_dicts()
        )
        headers = ("Role", "Path", "SHA-256", "Bytes", "Rows read", "Loaded", "Quarantined")
        caption = "Input files as read by this run."
        listed = Table(headers, rows, numeric_from=3, caption=caption, css="compact files")
    return section("provenance", "Provenance", "Provenance", provenance_facts(data.run), listed)


def notes_section(data: ReportData) -> Section | None:
    """Free-text notes attached to the report (absent tables, caveats); None without notes."""
    if not data.notes:
        return None
    return section("notes", "Notes", "Notes", Bullets(tuple(data.notes)))


SECTIONS: tuple[Callable[[ReportData], Section | None], ...] = (
    headline_section,
    models_section,
    groups_section,
    matching_section,
    curves_section,
    fiscal_section,
    validation_section,
    alerts_section,
    provenance_section,
    notes_section,
)


def present(sections: Iterable[Section | None]) -> tuple[Section, ...]:
    """The sections that have something to show."""
    return tuple(s for s in sections if s is not None)


def report_view(data: ReportData) -> ReportView:
    """The whole report of one run as formatted text, section by section."""
    run = data.run
    return ReportView(
        name=str(run.get("config_name") or "welfare audit"),
        run_id=str(run.get("run_id") or "unknown run"),
        status=text(run.get("status")),
        succeeded=run.get("status") == "succeeded",
        error=str(run.get("error") or ""),
        finished=timestamp(run.get("finished_at")),
        code_version=text(run.get("code_version")),
        schema=SCHEMA,
        sections=present(build(data) for build in SECTIONS),
    )


def national_summary(data: ReportData) -> list[tuple[str, str, str, str, str]]:
    """Per method and rule, the national coverage and errors (for the run summary)."""
    national = data.targeting_errors.filter(pl.col("group_type") == "all")
    return [
        (
            text(row["method"]),
            text(row["decision_rule"]),
            rate_text(COVERAGE, row[COVERAGE]),
            rate_text(EXCLUSION_ERROR, row[EXCLUSION_ERROR]),
            rate_text(INCLUSION_ERROR, row[INCLUSION_ERROR]),
        )
        for row in national.iter_rows(named=True)
    ]
