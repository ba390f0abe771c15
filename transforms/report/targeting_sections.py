"""The report's targeting sections: headline, poverty lines, programme overlap, models, groups
and targeting curves, for every programme and every poverty line of a run.

The headline and the groups measure against the run's first poverty line; the models and the
curves against the line the models learn (:func:`dimensions.models_line`). Every programme gets
a row or a column; where one chart can show one programme, it shows the first and its caption
says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl

from transforms.catalogue import TARGETING, targeting_rates
from transforms.report import charts
from transforms.report import dimensions as dims
from transforms.report.blocks import (
    Block,
    Cell,
    Figure,
    HeadlineSentence,
    ModelNote,
    Paragraph,
    Section,
    SuppressedNational,
    Table,
    Unavailable,
)
from transforms.report.cells import (
    CI,
    cells,
    described,
    group_label,
    group_sort_key,
    is_suppressed,
    point_cell,
    rate_cell,
    rate_label,
    rate_text,
    rule_text,
    section,
    suppressed_cell,
    unit_words,
)
from transforms.report.data import ReportData
from transforms.report.dimensions import Key
from transforms.report.formats import (
    MISSING,
    count,
    money,
    number,
    pct,
    pct_ci,
    points,
    rate_interval,
    standard_error,
    text,
)
from transforms.report.names import CGH, COVERAGE, EXCLUSION_ERROR, INCLUSION_ERROR, POVERTY_RATE
from transforms.report.words import (
    DECISION_RULES,
    group_type_words,
    line_method_words,
    method_text,
)

ERRORS = (EXCLUSION_ERROR, INCLUSION_ERROR)
SHORT_ERRORS = {EXCLUSION_ERROR: "exclusion error", INCLUSION_ERROR: "inclusion error"}
"""Column headers of the compact tables (one pair per programme or model)."""
Dimensions = tuple[Key, Key]
"""(programme, poverty_line) of a row."""


# ---------------------------------------------------------------- rows


def national_rows(frame: pl.DataFrame) -> dict[Dimensions, dict[str, Any]]:
    """The whole-population row of each (programme, poverty_line) of a targeting frame."""
    found: dict[Dimensions, dict[str, Any]] = {}
    for row in frame.filter(pl.col("group_type") == "all").to_dicts():
        found.setdefault((row.get("programme"), row.get("poverty_line")), row)
    return found


def national_row(frame: pl.DataFrame) -> dict[str, Any] | None:
    """The first whole-population row of a targeting frame, if any."""
    rows = frame.filter(pl.col("group_type") == "all").head(1).to_dicts()
    return rows[0] if rows else None


def capitalised(words: str) -> str:
    """Words with their first letter upper-cased (names inside kept as they are)."""
    return words[:1].upper() + words[1:]


def who(programme: Key, line: Key) -> str:
    """A programme against a line in words: 'programme dibao, line regional'."""
    named = "programme" if programme is None else f"programme {dims.programme_label(programme)}"
    return named + ("" if line is None else f", line {line}")


# ---------------------------------------------------------------- headline


def ci_text(row: dict[str, Any], rate: str) -> str:
    """A rate's 95 % CI in its display."""
    kind = described(TARGETING, rate).display
    return rate_interval(kind, row.get(f"{rate}_ci_low"), row.get(f"{rate}_ci_high"))


def headline_sentence(row: dict[str, Any], programme: Key, line: Key) -> HeadlineSentence:
    """The headline sentence of one programme's national row against one line."""
    poor, beneficiaries, population = unit_words(row.get("unit"))
    return HeadlineSentence(
        programme="" if programme is None else dims.programme_label(programme),
        line="" if line is None else line,
        exclusion=rate_text(EXCLUSION_ERROR, row.get(EXCLUSION_ERROR)),
        exclusion_ci=ci_text(row, EXCLUSION_ERROR),
        inclusion=rate_text(INCLUSION_ERROR, row.get(INCLUSION_ERROR)),
        inclusion_ci=ci_text(row, INCLUSION_ERROR),
        coverage=rate_text(COVERAGE, row.get(COVERAGE)),
        coverage_ci=ci_text(row, COVERAGE),
        poverty_rate=rate_text(POVERTY_RATE, row.get(POVERTY_RATE)),
        poor=poor,
        beneficiaries=beneficiaries,
        population=population,
    )


def programmes_table(
    national: dict[Dimensions, dict[str, Any]], programmes: Sequence[Key], line: Key
) -> Table:
    """Each programme's national coverage and errors with 95 % CIs against one line."""
    rates = (COVERAGE, *ERRORS)
    rows = []
    for programme in programmes:
        row = national.get((programme, line))
        n_obs = None if row is None else row.get("n_obs")
        rows.append(
            (
                Cell(dims.programme_label(programme), style="strong"),
                *(rate_cell(row, rate) for rate in rates),
                Cell(count(n_obs)),
            )
        )
    headers = ("Programme", *(rate_label(r, with_ci=True) for r in rates), "Households surveyed")
    caption = (
        f"Every programme against the line {dims.line_label(line)}, whole population; "
        "'any' is receiving at least one of them."
    )
    return Table(headers, tuple(rows), caption=caption)


def other_lines_table(
    national: dict[Dimensions, dict[str, Any]], programmes: Sequence[Key], lines: Sequence[Key]
) -> Table:
    """Each programme's national exclusion and inclusion errors against each other line."""
    rows = tuple(
        (
            Cell(dims.programme_label(programme), style="strong"),
            *(
                rate_cell(national.get((programme, line)), rate)
                for line in lines
                for rate in ERRORS
            ),
        )
        for programme in programmes
    )
    pairs = [(line, rate) for line in lines for rate in ERRORS]
    names = (f"{capitalised(SHORT_ERRORS[r])}, line {dims.line_label(line)}" for line, r in pairs)
    headers = ("Programme", *names)
    caption = "The same programmes against the other poverty lines: whole population, 95 % CIs."
    return Table(headers, rows, caption=caption, css="compact")


def rates_table(row: dict[str, Any], programme: Key, line: Key, *, method: str = "") -> Table:
    """Every targeting rate of one national row with its CI and SE (``method`` names a model
    row's method instead of the programme)."""
    rows = tuple(
        cells(
            rate_label(rate),
            rate_text(rate, row.get(rate)),
            ci_text(row, rate),
            standard_error(described(TARGETING, rate).display, row.get(f"{rate}_se")),
        )
        for rate in targeting_rates()
    )
    whose = who(programme, line) if not method else f"{method}{', line ' + line if line else ''}"
    caption = (
        f"{capitalised(whose)}: whole population, {count(row.get('n_obs'))} "
        f"households surveyed; rates are shares of {row.get('unit') or 'persons'}, "
        f"{CI}s design-based."
    )
    return Table(("Indicator", "Estimate", CI, "SE"), rows, caption=caption)


def headline_section(data: ReportData) -> Section:
    """Each programme's national targeting errors with 95 % CIs against the first line (and
    the others); the sentence and every rate for the first programme."""
    rows = dims.programme_rows(data)
    programmes, lines = dims.programmes_in(rows, data), dims.lines_in(rows, data)
    several = len(programmes) > 1
    reach = "the programmes reach" if several else "the programme reaches"
    title = f"Headline: how well {reach} the poor"
    if not programmes:
        return model_headline_section(data)
    national = national_rows(rows)
    first, line = programmes[0], lines[0]
    row = national.get((first, line))
    blocks: list[Block] = []
    if row is None:
        blocks.append(Unavailable(f"no national row for the {who(first, line)}"))
    elif is_suppressed(row):
        blocks.append(SuppressedNational())
    else:
        blocks.append(headline_sentence(row, first, line))
    if several:
        blocks.append(programmes_table(national, programmes, line))
    if len(lines) > 1:
        blocks.append(other_lines_table(national, programmes, lines[1:]))
    if row is not None and not is_suppressed(row):
        blocks.append(rates_table(row, first, line))
    return section("headline", "Headline", title, *blocks)


def model_rate_rows(data: ReportData) -> pl.DataFrame:
    """The models' rows under the poverty-rate rule against the line they learn, without a
    programme: what a survey without programme data has to say about targeting."""
    rows = dims.select(dims.model_rows(data.targeting_errors), poverty_line=dims.models_line(data))
    return dims.select(rows, programme=None).filter(
        pl.col("decision_rule") == dims.POVERTY_RATE_RULE
    )


def model_headline(row: dict[str, Any], line: Key) -> Paragraph:
    """Poverty and what the first model's selection would miss, in one paragraph."""
    poor, _, population = unit_words(row.get("unit"))
    against = "" if line is None else f"line {line}; "
    return Paragraph(
        f"{capitalised(rate_text(POVERTY_RATE, row.get(POVERTY_RATE)))} of {population} are "
        f"poor before any transfer ({against}95 % CI {ci_text(row, POVERTY_RATE)}). This survey "
        "records no programme, so the report shows how well a proxy-means test would target: "
        f"{method_text(row['method'])}, selecting as many as are poor, would miss "
        f"{rate_text(EXCLUSION_ERROR, row.get(EXCLUSION_ERROR))} of {poor} (95 % CI "
        f"{ci_text(row, EXCLUSION_ERROR)}), and "
        f"{rate_text(INCLUSION_ERROR, row.get(INCLUSION_ERROR))} of those it selects would "
        f"not be poor (95 % CI {ci_text(row, INCLUSION_ERROR)}). Rates are out of sample; by "
        "region and group below.",
        css="headline",
    )


def model_headline_section(data: ReportData) -> Section:
    """For a survey without programme data: its poverty rate and the first model's errors."""
    title = "Headline: poverty, and how well a proxy-means test would reach the poor"
    national = model_rate_rows(data).filter(pl.col("group_type") == "all").to_dicts()
    if not national:
        reason = "the run published no targeting errors for a programme or a model"
        return section("headline", "Headline", title, Unavailable(reason))
    row = national[0]
    if is_suppressed(row):
        return section("headline", "Headline", title, SuppressedNational())
    line = row.get("poverty_line")
    blocks: list[Block] = [model_headline(row, line)]
    blocks.append(rates_table(row, None, line, method=method_text(row["method"])))
    return section("headline", "Headline", title, *blocks)


# ---------------------------------------------------------------- poverty lines


def line_value(rows: Sequence[dict[str, Any]]) -> str:
    """A line's value: national, or its range across regions ('4,800–8,280 in 14 regions')."""
    values = [r["value"] for r in rows if r.get("value") is not None]
    if not values:
        return MISSING
    regions = [r for r in rows if r.get("region") is not None]
    if not regions:
        return money(values[0])
    low, high = min(values), max(values)
    spread = money(low) if low == high else f"{money(low)}–{money(high)}"
    return f"{spread} in {len(regions)} region{'s' if len(regions) > 1 else ''}"


def line_poverty_rate(data: ReportData, line: Key) -> Cell:
    """The national poverty rate against a line (programme rows first, else model rows)."""
    national = data.targeting_errors.filter(pl.col("group_type") == "all")
    against = dims.select(national, poverty_line=line)
    ordered = pl.concat([dims.actual_rows(against), dims.model_rows(against)])
    rows = ordered.head(1).to_dicts()
    return rate_cell(rows[0] if rows else None, POVERTY_RATE)


def line_row(data: ReportData, line: Key, rows: Sequence[dict[str, Any]]) -> tuple[Cell, ...]:
    """One poverty line: name, method, unit, source, value, currency, national poverty rate."""
    first = rows[0] if rows else {}
    return (
        Cell(dims.line_label(line), style="strong"),
        Cell(line_method_words(first.get("method"))),
        Cell(text(first.get("unit"))),
        Cell(text(first.get("source"))),
        Cell(line_value(rows)),
        Cell(text(first.get("currency"))),
        line_poverty_rate(data, line),
    )


def lines_paragraph(data: ReportData) -> Paragraph:
    """What 'poor' means, and which line each part of the report measures against."""
    order = dims.line_order(data)
    first = dims.line_label(order[0]) if order else dims.line_label(None)
    models = dims.models_line(data)
    learnt = ""
    if dims.model_rows(data.targeting_errors).height or data.model_metrics.height:
        learnt = (
            f" The PMT models learn the line {dims.line_label(models)} (the line of the model "
            "rows), and their errors are measured against it."
        )
    return Paragraph(
        "Poor means pre-transfer welfare strictly below the line: a household exactly on the "
        "line is not poor. Every programme is measured against every line; the headline, the "
        f"groups, resource matching and the fiscal balance use the first line, {first}." + learnt
    )


def lines_section(data: ReportData) -> Section:
    """Every poverty line: its method, unit, value (or range across regions), currency, source."""
    title = "Poverty lines"
    published = data.poverty_lines
    if published.height == 0:
        named = [dims.line_label(line) for line in dims.line_order(data) if line is not None]
        reason = "the run published no poverty-line values (audit.poverty_lines)" + (
            f"; rows are measured against {', '.join(named)}" if named else ""
        )
        return section("lines", "Poverty lines", title, Unavailable(reason))
    lines = dims.first_seen(published["poverty_line"].to_list())
    rows = tuple(
        line_row(data, line, dims.select(published, poverty_line=line).to_dicts()) for line in lines
    )
    headers = (
        "Line",
        "Method",
        "Unit (relative lines)",
        "Source",
        "Value per person per year",
        "Currency",
        rate_label(POVERTY_RATE, with_ci=True),
    )
    caption = (
        "Where a line varies by region, its range across regions is shown; the value in each "
        "region is in audit.poverty_lines and the poverty_lines sheet of standard_tables.xlsx."
    )
    table = Table(headers, rows, caption=caption, numeric_from=4)
    return section("lines", "Poverty lines", title, table, lines_paragraph(data))


# ---------------------------------------------------------------- poverty profile

QUANTILE_GROUPS = ("quintile", "decile", "quintile_post", "decile_post")
"""Groups cut on welfare itself: their poverty rates say nothing new, the profile leaves them
out."""


def poverty_rows(data: ReportData, line: Key) -> pl.DataFrame:
    """Targeting rows against a line that carry its poverty rate by group: one programme's
    (the rate does not depend on the programme), else one model's under one rule."""
    against = dims.select(data.targeting_errors, poverty_line=line)
    for rows in (dims.actual_rows(against), dims.model_rows(against)):
        if rows.height:
            first = rows.row(0, named=True)
            keys = {k: first.get(k) for k in ("method", "decision_rule", "programme")}
            return dims.select(rows, **keys)
    return against


def profile_row(
    kind: str, value: str, by_line: Sequence[dict[tuple[str, str], dict[str, Any]]]
) -> tuple[Cell, ...]:
    """One group: its type, its value, its poverty rate against each line, households."""
    found = [rows.get((kind, value)) for rows in by_line]
    n_obs = next((r.get("n_obs") for r in found if r is not None), None)
    return (
        Cell(group_type_words(kind) if kind != "all" else "Whole population"),
        Cell(group_label(kind, value) if kind != "all" else ""),
        *(rate_cell(row, POVERTY_RATE) for row in found),
        Cell(count(n_obs)),
    )


def profile_section(data: ReportData) -> Section | None:
    """The poverty rate (before any transfer) by region and group against each line, with
    95 % CIs; None when the run published no rates by group."""
    lines, by_line = [], []
    for line in dims.line_order(data):
        rows = poverty_rows(data, line).filter(~pl.col("group_type").is_in(QUANTILE_GROUPS))
        if rows.filter(pl.col("group_type") != "all").height:
            lines.append(line)
            by_line.append({(r["group_type"], r["group_value"]): r for r in rows.to_dicts()})
    if not lines:
        return None
    groups = sorted({g for rows in by_line for g in rows}, key=lambda g: group_sort_key(*g))
    table_rows = tuple(profile_row(kind, value, by_line) for kind, value in groups)
    headers = (
        "Group",
        "Value",
        *(f"Poverty rate, line {dims.line_label(line)}, {CI}" for line in lines),
        "Households surveyed",
    )
    units = {str(u) for u in poverty_rows(data, lines[0])["unit"].drop_nulls().to_list()}
    unit = units.pop() if len(units) == 1 else "persons"
    caption = (
        f"Share of {unit} poor before any transfer (pre-transfer welfare below the line), by "
        "region and group, with design-based 95 % CIs; every line with rates by group. Welfare "
        "quintiles are left out: they are cut on the welfare that defines poverty."
    )
    table = Table(headers, table_rows, numeric_from=2, caption=caption)
    return section("profile", "Poverty profile", "Poverty profile", table)


# ---------------------------------------------------------------- overlap


def combination_size(programmes: str) -> int:
    """How many programmes a combination names ('none' -> 0, 'a + b' -> 2)."""
    return 0 if programmes == "none" else len(programmes.split(" + "))


def overlap_row(row: dict[str, Any]) -> tuple[Cell, ...]:
    """One combination: its programmes, its share with CI, its population, households."""
    if is_suppressed(row):
        share = population = suppressed_cell(row)
    else:
        low, high = row.get("ci_low"), row.get("ci_high")
        share = Cell(pct(row.get("share")), ci="" if low is None else pct_ci(low, high))
        population = Cell(number(row.get("population")))
    return (Cell(text(row.get("programmes"))), share, population, Cell(count(row.get("n_obs"))))


def overlap_section(data: ReportData) -> Section | None:
    """Who receives which combination of programmes; None when the run published no overlap."""
    frame = data.programme_overlap
    if frame.height == 0:
        return None
    ordered = sorted(
        frame.to_dicts(),
        key=lambda r: (combination_size(str(r["programmes"])), -(r.get("share") or 0.0)),
    )
    units = {str(u) for u in frame["population_unit"].drop_nulls().to_list()}
    unit = units.pop() if len(units) == 1 else "population"
    headers = ("Programmes received", f"Share of {unit}, {CI}", unit.capitalize())
    caption = (
        f"Share of the {unit} receiving exactly each combination of programmes, with 95 % CIs; "
        "'none' receives none of them."
    )
    table = Table(
        (*headers, "Households surveyed"), tuple(map(overlap_row, ordered)), caption=caption
    )
    title = "Programme overlap"
    return section("overlap", "Overlap", title, table)


# ---------------------------------------------------------------- models


def method_cell(method: str) -> Cell:
    """A method as a reader sees it: 'PMT (OLS)'."""
    return Cell(method_text(method))


def model_metric_cells(metric: dict[str, Any], row: dict[str, Any] | None) -> tuple[Cell, ...]:
    """AUC, coverage, errors (with CIs where published), CGH and fold spread of a model row."""
    return (
        Cell(MISSING if metric.get("auc") is None else f"{metric['auc']:.3f}"),
        Cell(rate_text(COVERAGE, metric.get("coverage"))),
        rate_cell(row, EXCLUSION_ERROR, metric.get("exclusion_error")),
        rate_cell(row, INCLUSION_ERROR, metric.get("inclusion_error")),
        Cell(rate_text(CGH, metric.get("cgh"))),
        Cell(points(metric.get("fold_spread"), signed=False)),
    )


def programme_metric_cells(row: dict[str, Any]) -> tuple[Cell, ...]:
    """A programme's actual receipt in the columns of a model row (no AUC, no fold spread)."""
    hidden = is_suppressed(row)
    return (
        Cell(MISSING),
        suppressed_cell(row) if hidden else Cell(rate_text(COVERAGE, row.get(COVERAGE))),
        rate_cell(row, EXCLUSION_ERROR),
        rate_cell(row, INCLUSION_ERROR),
        Cell(MISSING if hidden else rate_text(CGH, row.get(CGH))),
        Cell(MISSING),
    )


ModelKey = tuple[str, str, Key]
"""(method, decision_rule, programme) of a model row against the models' line."""


def model_nationals(data: ReportData, line: Key) -> dict[ModelKey, dict[str, Any]]:
    """The whole-population targeting rows against a line, by method, rule and programme."""
    national = dims.select(
        data.targeting_errors.filter(pl.col("group_type") == "all"), poverty_line=line
    )
    found: dict[ModelKey, dict[str, Any]] = {}
    for r in national.to_dicts():
        found.setdefault((r["method"], r.get("decision_rule") or "", r.get("programme")), r)
    return found


def rule_rows(data: ReportData, line: Key) -> tuple[tuple[Cell, ...], ...]:
    """Each model under each rule not tied to a programme, model by model."""
    national = model_nationals(data, line)
    rule_order = {rule: i for i, rule in enumerate(DECISION_RULES)}
    metrics = dims.select(dims.out_of_fold(data.model_metrics), poverty_line=line).filter(
        pl.col("decision_rule").ne_missing(pl.lit(dims.PROGRAMME_COVERAGE_RULE))
    )
    models = dims.first_seen(metrics["model"].to_list())
    ordered = sorted(
        metrics.to_dicts(),
        key=lambda m: (models.index(m["model"]), rule_order.get(m.get("decision_rule") or "", 99)),
    )
    return tuple(
        (
            method_cell(f"pmt:{m['model']}"),
            Cell(rule_text(m.get("decision_rule"))),
            *model_metric_cells(
                m, national.get((f"pmt:{m['model']}", m.get("decision_rule") or "", None))
            ),
        )
        for m in ordered
    )


def like_for_like_rows(data: ReportData, line: Key) -> tuple[tuple[Cell, ...], ...]:
    """Each programme, then each model selecting as many as the programme reaches."""
    national = model_nationals(data, line)
    matched = dims.select(dims.out_of_fold(data.model_metrics), poverty_line=line).filter(
        pl.col("decision_rule") == dims.PROGRAMME_COVERAGE_RULE
    )
    against = dims.select(dims.programme_rows(data), poverty_line=line)
    programmes = dims.by_order(
        [*dims.column_values(against, "programme"), *matched["programme"].to_list()],
        dims.programme_order(data),
    )
    rows: list[tuple[Cell, ...]] = []
    for programme in programmes:
        name = dims.programme_label(programme)
        actual = national.get((dims.PROGRAM, dims.ACTUAL, programme))
        if actual is not None:
            rows.append(
                (
                    Cell(name, style="strong"),
                    Cell(DECISION_RULES[dims.ACTUAL]),
                    *programme_metric_cells(actual),
                )
            )
        for m in dims.select(matched, programme=programme).to_dicts():
            method = f"pmt:{m['model']}"
            row = national.get((method, dims.PROGRAMME_COVERAGE_RULE, programme))
            rows.append((Cell(name), method_cell(method), *model_metric_cells(m, row)))
    return tuple(rows)


def overfit_rows(data: ReportData, line: Key) -> tuple[tuple[Cell, ...], ...]:
    """Each model's AUC out of fold beside its AUC on the households it was fitted on."""
    metrics = dims.select(data.model_metrics, poverty_line=line)
    unseen = {m["model"]: m["auc"] for m in dims.out_of_fold(metrics).to_dicts()}
    seen = {m["model"]: m["auc"] for m in dims.in_sample(metrics).to_dicts()}
    return tuple(
        (
            method_cell(f"pmt:{model}"),
            Cell(f"{unseen[model]:.3f}"),
            Cell(f"{seen[model]:.3f}"),
            Cell(f"{seen[model] - unseen[model]:+.3f}"),
        )
        for model in unseen
        if unseen[model] is not None and seen.get(model) is not None
    )


def model_headers(first: str, second: str) -> tuple[str, ...]:
    """Headers of the models' tables after their two leading columns."""
    headers: tuple[str, ...] = (first, second, "AUC", rate_label(COVERAGE))
    headers += tuple(rate_label(r, with_ci=True) for r in ERRORS)
    return (*headers, rate_label(CGH), "Fold spread")


def models_section(data: ReportData) -> Section:
    """Each PMT model under each decision rule, and each programme beside the models at its
    coverage, against the line the models learn."""
    title = "The programmes and proxy-means-test models"
    line = dims.models_line(data)
    rules, like = rule_rows(data, line), like_for_like_rows(data, line)
    if not rules and not like:
        reason = "no model metrics and no programme rates were published"
        return section("models", "Models", title, Unavailable(reason))
    against = f"against the line {dims.line_label(line)} (the line the models learn)"
    blocks: list[Block] = []
    if rules:
        caption = f"Each model under the rules not tied to a programme, out of sample, {against}."
        blocks.append(
            Table(model_headers("Method", "Decision rule"), rules, numeric_from=2, caption=caption)
        )
    else:
        blocks.append(Unavailable("no proxy-means-test models were evaluated"))
    if like:
        caption = (
            "Like for like: each programme's actual receipt, and each model selecting the same "
            f"share of the population (rule: {DECISION_RULES[dims.PROGRAMME_COVERAGE_RULE]}), "
            f"{against}."
        )
        blocks.append(
            Table(model_headers("Programme", "Method"), like, numeric_from=2, caption=caption)
        )
    overfit = overfit_rows(data, line)
    if overfit:
        caption = (
            "Each model's AUC on households it did not see (out of fold, the rates above) and "
            "on the households it was fitted on (in sample): a large gap means the model "
            "memorises the survey and would do worse on new applicants."
        )
        headers = ("Method", "AUC out of fold", "AUC in sample", "Gap")
        blocks.append(Table(headers, overfit, numeric_from=1, caption=caption))
    schemes = sorted({str(s) for s in data.model_metrics["cv_scheme"].drop_nulls().to_list()})
    blocks.append(ModelNote("; ".join(schemes)))
    return section("models", "Models", title, *blocks)


# ---------------------------------------------------------------- groups


def group_rows(groups: pl.DataFrame) -> tuple[tuple[Cell, ...], ...]:
    """Coverage and errors per group, known group types first."""
    ordered = sorted(
        groups.to_dicts(), key=lambda r: group_sort_key(r["group_type"], r["group_value"])
    )
    return tuple(
        (
            Cell(group_type_words(row["group_type"])),
            Cell(group_label(row["group_type"], row["group_value"])),
            Cell(count(row.get("n_obs"))),
            suppressed_cell(row)
            if is_suppressed(row)
            else Cell(rate_text(COVERAGE, row.get(COVERAGE))),
            rate_cell(row, EXCLUSION_ERROR),
            rate_cell(row, INCLUSION_ERROR),
        )
        for row in ordered
    )


def group_table(groups: pl.DataFrame, caption: str) -> Table:
    """Coverage and errors with 95 % CIs per group of one programme or model."""
    headers: tuple[str, ...] = ("Group", "Value", "Households surveyed", rate_label(COVERAGE))
    headers += tuple(rate_label(r, with_ci=True) for r in ERRORS)
    return Table(headers, group_rows(groups), numeric_from=2, caption=caption)


def pairs_table(series: Sequence[tuple[str, pl.DataFrame]], caption: str) -> Table:
    """Exclusion and inclusion error (no CIs) per group: one column pair per programme or model."""
    found = {
        (name, r["group_type"], r["group_value"]): r
        for name, frame in series
        for r in frame.to_dicts()
    }
    groups = sorted({(kind, value) for _, kind, value in found}, key=lambda g: group_sort_key(*g))
    kinds = {kind for kind, _ in groups}
    single = group_type_words(next(iter(kinds))) if len(kinds) == 1 else ""
    rows = tuple(
        (
            *(() if single else (Cell(group_type_words(kind) if kind != "all" else ""),)),
            Cell(group_label(kind, value)),
            *(point_cell(found.get((name, kind, value)), r) for name, _ in series for r in ERRORS),
        )
        for kind, value in groups
    )
    leading = (single,) if single else ("Group", "Value")
    headers = leading + tuple(
        f"{capitalised(SHORT_ERRORS[r])}, {name}" for name, _ in series for r in ERRORS
    )
    return Table(headers, rows, numeric_from=len(leading), caption=caption, css="compact")


def region_figure(regions: pl.DataFrame, national: dict[str, Any] | None, caption: str) -> Block:
    """The errors-by-region chart of one programme or model, or why it is missing."""
    if regions.height == 0:
        return Unavailable("no regional breakdown was published")
    return Figure("errors-by-region", charts.errors_by_region(regions, national=national), caption)


def programme_group_blocks(data: ReportData, rows: pl.DataFrame) -> list[Block]:
    """The first programme's errors by region (chart) and group (table) against the first
    line, and every programme's errors by region (compact table)."""
    rows = dims.first_line_of(rows, data)
    programmes, lines = dims.programmes_in(rows, data), dims.lines_in(rows, data)
    first, line = programmes[0], lines[0]
    own = dims.select(rows, programme=first)
    groups = own.filter(pl.col("group_type") != "all")
    caption = (
        f"{capitalised(who(first, line))} (actual receipt): exclusion and inclusion errors by "
        "region, with 95 % confidence intervals; dashed lines are its national rates."
    )
    blocks = [
        region_figure(groups.filter(pl.col("group_type") == "region"), national_row(own), caption)
    ]
    if len(programmes) > 1:
        series = [
            (
                dims.programme_label(p),
                dims.select(rows, programme=p).filter(pl.col("group_type") == "region"),
            )
            for p in programmes
        ]
        caption = (
            f"Every programme by region, line {dims.line_label(line)}: point estimates; their "
            "95 % CIs are in the workbook's targeting_errors sheet."
        )
        blocks.append(pairs_table(series, caption))
    caption = (
        f"{capitalised(who(first, line))} (actual receipt) by group. A dash means the rate is "
        "undefined (no poor, or no one reached, in the group)."
    )
    blocks.append(group_table(groups, caption))
    return blocks


def model_group_blocks(data: ReportData) -> list[Block]:
    """Without programme data: the first model's errors by region (chart) and by every group
    (table, with CIs), and every model's by group, under the poverty-rate rule, against the
    models' line."""
    line = dims.models_line(data)
    rows = model_rate_rows(data)
    methods = [str(m) for m in dims.first_seen(rows["method"].to_list())]
    if rows.filter(pl.col("group_type") != "all").height == 0:
        return []
    own = rows.filter(pl.col("method") == methods[0])
    rule = DECISION_RULES[dims.POVERTY_RATE_RULE]
    first = f"{method_text(methods[0])} (rule: {rule}; line {dims.line_label(line)})"
    blocks: list[Block] = [
        Paragraph(
            "This survey records no programme: the errors below are those a proxy-means test "
            "would make, out of sample, selecting the households most likely to be poor until "
            "it reaches as many as are poor."
        )
    ]
    caption = (
        f"{first}: exclusion and inclusion errors by region, with 95 % confidence intervals; "
        "dashed lines are its national rates."
    )
    regions = own.filter(pl.col("group_type") == "region")
    blocks.append(region_figure(regions, national_row(own), caption))
    caption = (
        f"{first} by region and group. A dash means the rate is undefined (no poor, or no one "
        "selected, in the group)."
    )
    blocks.append(group_table(own.filter(pl.col("group_type") != "all"), caption))
    if len(methods) > 1:
        series = [(method_text(m), rows.filter(pl.col("method") == m)) for m in methods]
        caption = (
            f"Every PMT model by group (rule: {rule}; line {dims.line_label(line)}), out of "
            "sample: point estimates; their 95 % CIs are in the workbook's targeting_errors sheet."
        )
        blocks.append(pairs_table(series, caption))
    return blocks


def groups_section(data: ReportData) -> Section:
    """Errors by region (chart) and by every published group (tables): the programmes', or
    the models' for a survey without programme data."""
    title = "Targeting errors by region and group"
    programme = dims.programme_rows(data)
    if programme.filter(pl.col("group_type") != "all").height:
        blocks = programme_group_blocks(data, programme)
    else:
        blocks = [] if programme.height else model_group_blocks(data)
        title = title if programme.height else "Proxy-means-test errors by region and group"
    if not blocks:
        reason = "the run published no programme targeting errors by group"
        return section("groups", "By group", title, Unavailable(reason))
    return section("groups", "By group", title, *blocks)


# ---------------------------------------------------------------- curves


def curves_section(data: ReportData) -> Section:
    """Targeting curves and ROC per model, each programme a point, against the models' line."""
    title = "Targeting curves"
    curves = data.targeting_curves
    if curves.height == 0:
        reason = "the run published no targeting curves"
        return section("curves", "Targeting curves", title, Unavailable(reason))
    lines = dims.lines_in(curves, data)
    line = dims.models_line(data)
    line = line if line in lines else lines[0]
    caption = (
        "Left: the exclusion error each PMT model would have at every coverage (out of "
        f"sample), against the line {dims.line_label(line)}; each diamond is a programme's "
        "actual receipt. A point below a model's curve does better than that model at the same "
        "coverage. Right: ROC curves — share of the poor selected against share of the non-poor "
        "selected; the dotted diagonal is a lottery."
    )
    chart = charts.targeting_curves(dims.select(curves, poverty_line=line))
    return section("curves", "Targeting curves", title, Figure("targeting-curves", chart, caption))
