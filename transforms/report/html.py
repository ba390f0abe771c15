"""The per-run audit report: one self-contained HTML page for a programme manager.

:func:`load_report_data` reads one run's published tables from the warehouse (the only
function here that touches DuckDB); :func:`render_report` turns them into HTML with inline
SVG charts (``transforms/charts.py``) in ``report_template.html`` — no external CSS, scripts,
fonts or URLs, so the file opens offline and can be mailed or archived as it is.

Every section shows a one-line "Not available in this run: <reason>." instead of failing
when its data is missing. Cells withheld by disclosure control read
"suppressed (n < threshold)". All text that comes from data is HTML-escaped.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from string import Template
from typing import Any

import duckdb
import polars as pl

from transforms.contract import SCHEMA, table
from transforms.report import charts

TEMPLATE = Path(__file__).parent / "templates" / "report_template.html"
FRAME_TABLES = (
    "input_files",
    "validation_results",
    "targeting_errors",
    "model_metrics",
    "targeting_curves",
    "matching_indicators",
    "fiscal_indicators",
    "alerts",
)
SQL_TYPES: dict[str, pl.DataType] = {
    "VARCHAR": pl.String(),
    "DOUBLE": pl.Float64(),
    "BIGINT": pl.Int64(),
    "INTEGER": pl.Int32(),
    "BOOLEAN": pl.Boolean(),
    "TIMESTAMPTZ": pl.Datetime("us", "UTC"),
}
SUPPRESSED = "suppressed (n < threshold)"
MISSING = "—"
FRACTION_INDICATORS = frozenset(
    {
        "poverty_rate",
        "coverage",
        "exclusion_error",
        "inclusion_error",
        "inclusion_rate_nonpoor",
        "beneficiary_incidence",
        "benefit_incidence",
        "adequacy",
        "gap_closure",
        "standard_gap",
        "real_standard_cv",
        "tier_mismatch_rate",
        "leakage_share",
        "cost_share_gdp",
        "cost_share_revenue",
        "spending_effectiveness",
    }
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
HEADLINE_RATES = {
    "poverty_rate": "Poverty rate (before the transfer)",
    "coverage": "Coverage (share reached)",
    "exclusion_error": "Exclusion error (share of the poor missed)",
    "inclusion_error": "Inclusion error (share of those reached who are not poor)",
    "inclusion_rate_nonpoor": "Share of the non-poor reached",
}
INDICATOR_LABELS = {
    "adequacy": "Adequacy (benefits ÷ beneficiaries' pre-transfer welfare)",
    "gap_closure": "Poverty gap closed among poor beneficiaries",
    "real_standard_cv": "Variation of real benefit standards across regions (CV)",
    "tier_mismatch_rate": "Persons whose benefit tier does not match their need",
    "coverage": "Coverage",
    "fgt0_pre": "Poverty headcount before the transfer (FGT0)",
    "fgt1_pre": "Poverty gap index before the transfer (FGT1)",
    "fgt2_pre": "Poverty severity before the transfer (FGT2)",
    "fgt0_post": "Poverty headcount after the transfer (FGT0)",
    "fgt1_post": "Poverty gap index after the transfer (FGT1)",
    "fgt2_post": "Poverty severity after the transfer (FGT2)",
    "poverty_gap_total": "Aggregate poverty gap before the transfer",
    "spending": "Programme spending",
    "leakage_spending": "Spending on the non-poor",
    "leakage_share": "Share of spending on the non-poor",
    "spending_effectiveness": "Spending effectiveness (poverty-gap reduction ÷ spending)",
    "vee": "Vertical expenditure efficiency (share reaching the pre-poor)",
    "spillover": "Spillover (share lifting the poor beyond the line)",
    "pre": "Poverty reduction efficiency",
    "pge": "Poverty gap efficiency",
    "gini_pre": "Gini before the transfer",
    "gini_post": "Gini after the transfer",
    "concentration_benefits": "Concentration coefficient of benefits",
    "concentration_post_by_pre": "Concentration of post-transfer welfare (ranked before)",
    "kakwani": "Kakwani index of benefits",
    "reynolds_smolensky": "Reynolds–Smolensky index",
    "redistributive_effect": "Redistributive effect (Gini before − after)",
    "reranking": "Reranking",
    "budget_perfect_targeting": "Budget to close the gap with perfect targeting",
    "budget_universal": "Budget to close the gap with a universal transfer",
    "mean_gap_per_poor_person": "Mean poverty gap per poor person",
    "spending_share_gdp": "Spending, share of GDP",
    "spending_share_revenue": "Spending, share of revenue",
    "poverty_gap_share_gdp": "Poverty gap, share of GDP",
    "poverty_gap_share_revenue": "Poverty gap, share of revenue",
}
GLOSSARY = (
    ("Exclusion error", "share of the poor the programme does not reach (undercoverage)."),
    ("Inclusion error", "share of those reached who are not poor (leakage)."),
    ("Coverage", "share of the population reached."),
    ("95 % CI", "range holding the true value with 95 % confidence, given the survey design."),
    ("PMT", "proxy means test: a model predicting poverty from easily observed traits."),
)


def empty_frame(name: str) -> pl.DataFrame:
    """An empty frame with the published columns and types of ``audit.<name>``."""
    columns = table(name).columns
    return pl.DataFrame(schema={c.name: SQL_TYPES.get(c.sql_type, pl.String()) for c in columns})


def conform(frame: pl.DataFrame, name: str) -> pl.DataFrame:
    """Add the contract's columns a frame lacks (a warehouse older than the contract), as NULL."""
    missing = [(c, t) for c, t in empty_frame(name).schema.items() if c not in frame.columns]
    return frame.with_columns(pl.lit(None, dtype=t).alias(c) for c, t in missing)


def _empty(name: str) -> Callable[[], pl.DataFrame]:
    return lambda: empty_frame(name)


@dataclass(frozen=True)
class ReportData:
    """What the report shows for ONE run: its ``audit.runs`` row and its published rows.

    Frames default to empty frames with the contract's columns, so a caller (or a test)
    passes only what it has.
    """

    run: dict[str, Any]
    input_files: pl.DataFrame = field(default_factory=_empty("input_files"))
    validation_results: pl.DataFrame = field(default_factory=_empty("validation_results"))
    targeting_errors: pl.DataFrame = field(default_factory=_empty("targeting_errors"))
    model_metrics: pl.DataFrame = field(default_factory=_empty("model_metrics"))
    targeting_curves: pl.DataFrame = field(default_factory=_empty("targeting_curves"))
    matching_indicators: pl.DataFrame = field(default_factory=_empty("matching_indicators"))
    fiscal_indicators: pl.DataFrame = field(default_factory=_empty("fiscal_indicators"))
    alerts: pl.DataFrame = field(default_factory=_empty("alerts"))
    notes: list[str] = field(default_factory=list)


def query(con: duckdb.DuckDBPyConnection, sql: str, params: list[object]) -> pl.DataFrame:
    """A parameterised SELECT as a polars frame (typed, even when empty)."""
    relation = con.sql(sql, params=params)
    if relation is None:
        raise ValueError(f"not a query: {sql}")
    return relation.pl()


def load_report_data(con: duckdb.DuckDBPyConnection, run_id: str) -> ReportData:
    """Read one run's rows from schema ``audit``; tables not there become empty frames.

    Open the warehouse with :func:`transforms.io.warehouse.connect` (read-only is enough).
    Raises LookupError when the run is not in ``audit.runs``.
    """
    catalog = query(
        con,
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_schema = ? AND table_catalog = current_database()",
        [SCHEMA],
    )
    existing = set(catalog["table_name"].to_list())
    if "runs" not in existing:
        raise LookupError(f"no table {SCHEMA}.runs: this is not an audit warehouse")
    runs = query(con, f"SELECT * FROM {SCHEMA}.runs WHERE run_id = ?", [run_id])
    if runs.height == 0:
        raise LookupError(f"run {run_id!r} is not in {SCHEMA}.runs")
    frames: dict[str, pl.DataFrame] = {}
    notes: list[str] = []
    for name in FRAME_TABLES:
        if name in existing:
            sql = f"SELECT * FROM {SCHEMA}.{name} WHERE run_id = ?"
            frames[name] = conform(query(con, sql, [run_id]), name)
        else:
            frames[name] = empty_frame(name)
            notes.append(f"Table {SCHEMA}.{name} does not exist in this warehouse.")
    if "run_notes" in existing:  # what the run itself skipped or assumed, and why
        sql = f"SELECT * FROM {SCHEMA}.run_notes WHERE run_id = ?"
        recorded = query(con, sql, [run_id]).to_dicts()
        notes = [f"{r.get('stage') or 'run'}: {r.get('note')}" for r in recorded] + notes
    return ReportData(run=runs.row(0, named=True), notes=notes, **frames)


# ---------------------------------------------------------------- formatting


def esc(value: object) -> str:
    """Any value as escaped HTML text (None as a dash)."""
    return MISSING if value is None else html.escape(str(value), quote=True)


def pct(value: float | None, digits: int = 1) -> str:
    """A fraction as a percentage, one decimal by default: 0.562 -> '56.2 %'."""
    return MISSING if value is None else f"{value * 100:.{digits}f} %"


def pct_ci(low: float | None, high: float | None) -> str:
    """A 95 % CI of fractions: '54.3–58.1 %'."""
    if low is None or high is None:
        return MISSING
    return f"{low * 100:.1f}–{high * 100:.1f} %"


def points(value: float | None) -> str:
    """A difference of fractions in percentage points: 0.123 -> '+12.3 pp'."""
    return MISSING if value is None else f"{value * 100:+.1f} pp"


def number(value: float | None, digits: int = 2) -> str:
    """A plain number with thousands separators."""
    return MISSING if value is None else f"{value:,.{digits}f}"


def count(value: int | None) -> str:
    """An integer count with thousands separators."""
    return MISSING if value is None else f"{value:,}"


def timestamp(value: object) -> str:
    """A timestamp to the second, with its zone."""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S %Z").strip()
    return MISSING if value is None else str(value)


def indicator_value(indicator: str, value: float | None, unit: str | None = None) -> str:
    """An indicator value in its unit: fractions as percentages, other numbers plainly."""
    if value is None:
        return MISSING
    if indicator in FRACTION_INDICATORS or (unit or "").startswith("fraction"):
        return pct(value)
    return number(value, 0 if abs(value) >= 100 else 3)


def is_suppressed(row: dict[str, Any]) -> bool:
    """True for a cell withheld by disclosure control."""
    return bool(row.get("suppressed"))


def suppressed_cell() -> str:
    return f'<span class="suppressed">{esc(SUPPRESSED)}</span>'


def rate_with_ci(row: dict[str, Any] | None, rate: str, fallback: float | None = None) -> str:
    """'56.2 % (54.3–58.1 %)', the suppression notice, or the fallback point estimate."""
    if row is not None and is_suppressed(row):
        return suppressed_cell()
    if row is None or row.get(rate) is None:
        return pct(fallback)
    low, high = row.get(f"{rate}_ci_low"), row.get(f"{rate}_ci_high")
    ci = f' <span class="ci">({pct_ci(low, high)})</span>' if low is not None else ""
    return pct(row[rate]) + ci


def unavailable(reason: str) -> str:
    """The one line a section shows when its data is missing."""
    return f'<p class="unavailable">Not available in this run: {esc(reason)}.</p>'


def html_table(
    headers: Sequence[str],
    rows: Iterable[Sequence[str]],
    *,
    numeric_from: int = 1,
    numeric_to: int | None = None,
    caption: str = "",
    css: str = "",
) -> str:
    """A table of already-escaped cells; columns numeric_from..numeric_to are right-aligned."""

    def cell(tag: str, index: int, content: str) -> str:
        numeric = numeric_from <= index and (numeric_to is None or index < numeric_to)
        klass = ' class="num"' if numeric else ""
        scope = ' scope="col"' if tag == "th" else ""
        return f"<{tag}{scope}{klass}>{content}</{tag}>"

    head = "".join(cell("th", i, h) for i, h in enumerate(headers))
    body = "".join(
        "<tr>" + "".join(cell("td", i, c) for i, c in enumerate(row)) + "</tr>" for row in rows
    )
    cap = f"<caption>{caption}</caption>" if caption else ""
    klass = f' class="{css}"' if css else ""
    return f"<table{klass}>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>\n"


def figure(chart_id: str, svg: str, caption: str) -> str:
    """A chart with its caption, findable by ``id`` and ``data-chart``."""
    return (
        f'<figure id="chart-{chart_id}" data-chart="{chart_id}">\n{svg}\n'
        f"<figcaption>{caption}</figcaption></figure>\n"
    )


def section(section_id: str, title: str, body: str) -> str:
    """One report section."""
    return f'<section id="{section_id}">\n<h2>{esc(title)}</h2>\n{body}</section>\n'


# ---------------------------------------------------------------- data helpers


def programme_rows(data: ReportData) -> pl.DataFrame:
    """The actual programme's targeting rows (all groups)."""
    return data.targeting_errors.filter(pl.col("method") == "program")


def national_row(frame: pl.DataFrame) -> dict[str, Any] | None:
    """The whole-population row of a targeting frame, if any."""
    rows = frame.filter(pl.col("group_type") == "all").to_dicts()
    return rows[0] if rows else None


def unit_words(unit: str | None) -> tuple[str, str, str]:
    """(the poor, its beneficiaries, the population) in the run's unit."""
    if unit == "households":
        return "poor households", "beneficiary households", "households"
    return "the poor", "its beneficiaries", "the population"


def group_label(kind: str, value: object) -> str:
    """A group value as a reader sees it: quintile '1' -> 'Q1 (poorest)', 'true' -> 'yes'."""
    text = str(value)
    if kind == "all":
        return "whole population"
    if kind == "quintile" and text.isdigit():
        return f"Q{text}" + ("\u00a0(poorest)" if text == "1" else "")
    return {"true": "yes", "false": "no"}.get(text, text)


def group_text(kind: str, value: object) -> str:
    """Group type and value in words: 'Region R01', 'whole population'."""
    if kind == "all":
        return group_label(kind, value)
    return f"{GROUP_TYPES.get(kind, kind)} {group_label(kind, value)}"


def group_sort_key(row: dict[str, Any]) -> tuple[int, str, str]:
    """Known group types in a fixed order; quintiles numerically."""
    order = list(GROUP_TYPES)
    kind = row["group_type"]
    value = str(row["group_value"])
    if kind == "quintile" and value.isdigit():
        value = value.zfill(4)
    return (order.index(kind) if kind in order else len(order), kind, value)


# ---------------------------------------------------------------- sections


def headline_section(data: ReportData) -> str:
    """The programme's national targeting errors with 95 % CIs: a sentence and a table."""
    title = "Headline: how well the programme reaches the poor"
    row = national_row(programme_rows(data))
    if row is None:
        reason = "the run published no targeting errors for the actual programme"
        return section("headline", title, unavailable(reason))
    if is_suppressed(row):
        return section("headline", title, f"<p>National estimates: {suppressed_cell()}.</p>")
    poor, beneficiaries, population = unit_words(row.get("unit"))

    def ci(rate: str) -> str:
        return pct_ci(row.get(f"{rate}_ci_low"), row.get(f"{rate}_ci_high"))

    sentence = (
        f'<p class="headline">The programme misses <strong>{pct(row.get("exclusion_error"))}'
        f"</strong> of {poor} (95 % CI {ci('exclusion_error')}), and "
        f"<strong>{pct(row.get('inclusion_error'))}</strong> of {beneficiaries} are not poor "
        f"(95 % CI {ci('inclusion_error')}). It reaches {pct(row.get('coverage'))} of {population} "
        f"(95 % CI {ci('coverage')}); {pct(row.get('poverty_rate'))} are poor before the "
        "transfer.</p>\n"
    )
    rows = [
        [esc(label), pct(row.get(rate)), ci(rate), pct(row.get(f"{rate}_se"))]
        for rate, label in HEADLINE_RATES.items()
    ]
    if row.get("targeting_differential") is not None:
        low, high = (row.get(f"targeting_differential_ci_{b}") for b in ("low", "high"))
        se = row.get("targeting_differential_se")
        rows.append(
            [
                "Targeting differential (coverage of the poor − of the non-poor)",
                points(row["targeting_differential"]),
                f"{points(low)} to {points(high)}",
                MISSING if se is None else f"{se * 100:.1f} pp",
            ]
        )
    if row.get("cgh") is not None:
        rows.append(
            [
                "CGH: benefit share of the poorest 40 % ÷ 0.40 (above 1 is progressive)",
                number(row["cgh"]),
                f"{number(row.get('cgh_ci_low'))}–{number(row.get('cgh_ci_high'))}",
                number(row.get("cgh_se")),
            ]
        )
    caption = (
        f"Whole population, {count(row.get('n_obs'))} households surveyed; rates are shares "
        f"of {esc(row.get('unit') or 'persons')}, 95 % CIs design-based."
    )
    table_html = html_table(["Indicator", "Estimate", "95 % CI", "SE"], rows, caption=caption)
    return section("headline", title, sentence + table_html)


def models_section(data: ReportData) -> str:
    """The programme beside each PMT model under each decision rule."""
    title = "The programme and proxy-means-test models"
    metrics = data.model_metrics
    programme = national_row(programme_rows(data))
    if metrics.height == 0 and programme is None:
        reason = "no model metrics and no programme rates were published"
        return section("models", title, unavailable(reason))
    national = {
        (r["method"], r.get("decision_rule") or ""): r
        for r in data.targeting_errors.filter(pl.col("group_type") == "all").to_dicts()
    }
    rows: list[list[str]] = []
    if programme is not None:
        rows.append(
            [
                "<strong>programme</strong>",
                esc(DECISION_RULES["actual"]),
                MISSING,
                suppressed_cell() if is_suppressed(programme) else pct(programme.get("coverage")),
                rate_with_ci(programme, "exclusion_error"),
                rate_with_ci(programme, "inclusion_error"),
                MISSING if is_suppressed(programme) else number(programme.get("cgh")),
                MISSING,
            ]
        )
    rule_order = {rule: i for i, rule in enumerate(DECISION_RULES)}
    ordered = sorted(
        metrics.to_dicts(),
        key=lambda m: (str(m["model"]), rule_order.get(m.get("decision_rule") or "", 99)),
    )
    for m in ordered:
        row = national.get((f"pmt:{m['model']}", m.get("decision_rule") or ""))
        spread = m.get("fold_spread")
        rows.append(
            [
                f"PMT {esc(m['model'])}",
                esc(DECISION_RULES.get(m.get("decision_rule") or "", m.get("decision_rule"))),
                MISSING if m.get("auc") is None else f"{m['auc']:.3f}",
                pct(m.get("coverage")),
                rate_with_ci(row, "exclusion_error", m.get("exclusion_error")),
                rate_with_ci(row, "inclusion_error", m.get("inclusion_error")),
                number(m.get("cgh")),
                MISSING if spread is None else f"{spread * 100:.1f} pp",
            ]
        )
    headers = ["Method", "Decision rule", "AUC", "Coverage", "Exclusion error (95 % CI)"]
    headers += ["Inclusion error (95 % CI)", "CGH", "Fold spread"]
    table_html = html_table(headers, rows, numeric_from=2)
    if metrics.height == 0:
        table_html += unavailable("no proxy-means-test models were evaluated")
    schemes = sorted({str(s) for s in metrics["cv_scheme"].drop_nulls().to_list()})
    note = (
        '<p class="note">Model rates are out of sample (cross-validated'
        + (f": {esc('; '.join(schemes))}" if schemes else "")
        + "). The <em>rate</em> rules select the households most likely to be poor until "
        "coverage equals the poverty rate, or the programme's own coverage for a like-for-like "
        "comparison; the <em>line</em> rule selects those predicted poor. Fold spread is the "
        "standard deviation of the exclusion error across folds, in percentage points.</p>\n"
    )
    return section("models", title, table_html + note)


def groups_section(data: ReportData) -> str:
    """Programme errors by region (chart) and by every published group (table)."""
    title = "Targeting errors by region and group"
    programme = programme_rows(data)
    groups = programme.filter(pl.col("group_type") != "all")
    if groups.height == 0:
        reason = "the run published no programme targeting errors by group"
        return section("groups", title, unavailable(reason))
    parts: list[str] = []
    regions = groups.filter(pl.col("group_type") == "region")
    if regions.height:
        svg = charts.errors_by_region(regions, national=national_row(programme))
        caption = (
            "Programme exclusion and inclusion errors by region, with 95 % confidence "
            "intervals; dashed lines are the national rates."
        )
        parts.append(figure("errors-by-region", svg, caption))
    else:
        parts.append(unavailable("no regional breakdown of the programme was published"))
    rows = []
    for row in sorted(groups.to_dicts(), key=group_sort_key):
        hidden = is_suppressed(row)
        rows.append(
            [
                esc(GROUP_TYPES.get(row["group_type"], row["group_type"])),
                esc(group_label(row["group_type"], row["group_value"])),
                count(row.get("n_obs")),
                suppressed_cell() if hidden else pct(row.get("coverage")),
                rate_with_ci(row, "exclusion_error"),
                rate_with_ci(row, "inclusion_error"),
            ]
        )
    headers = ["Group", "Value", "Households surveyed", "Coverage"]
    headers += ["Exclusion error (95 % CI)", "Inclusion error (95 % CI)"]
    caption = (
        "Programme (actual receipt) by group. A dash means the rate is undefined "
        "(no poor, or no one reached, in the group)."
    )
    parts.append(html_table(headers, rows, numeric_from=2, caption=caption))
    return section("groups", title, "".join(parts))


def indicator_cell(row: dict[str, Any] | None) -> str:
    """One matching indicator's value with its CI, in its unit; suppressed cells marked."""
    if row is None:
        return MISSING
    if is_suppressed(row):
        return suppressed_cell()
    name, unit = row["indicator"], row.get("unit")
    value = indicator_value(name, row.get("value"), unit)
    low, high = row.get("ci_low"), row.get("ci_high")
    if low is None or high is None:
        return value
    ci = f"{indicator_value(name, low, unit)} to {indicator_value(name, high, unit)}"
    return f'{value} <span class="ci">({ci})</span>'


def indicator_table(frame: pl.DataFrame, columns: dict[str, str], *, caption: str) -> str:
    """Matching indicators side by side: one row per group, one column per indicator."""
    cells = {(r["group_type"], r["group_value"], r["indicator"]): r for r in frame.to_dicts()}
    groups = sorted(
        {(r["group_type"], r["group_value"]) for r in frame.to_dicts()},
        key=lambda g: group_sort_key({"group_type": g[0], "group_value": g[1]}),
    )
    has_n = frame["n_obs"].drop_nulls().len() > 0  # region standards come from a table
    rows = []
    for kind, value in groups:
        found = [cells.get((kind, value, name)) for name in columns]
        n_obs = max((r["n_obs"] for r in found if r and r.get("n_obs") is not None), default=None)
        row = [esc(group_label(kind, value)), *(indicator_cell(r) for r in found)]
        rows.append([*row, count(n_obs)] if has_n else row)
    kinds = {kind for kind, _ in groups}
    first = GROUP_TYPES.get(next(iter(kinds)), "Group") if len(kinds) == 1 else "Group"
    headers = [esc(first), *(esc(label) for label in columns.values())]
    headers += ["Households surveyed"] if has_n else []
    return html_table(headers, rows, caption=esc(caption), css="compact")


def overall_table(frame: pl.DataFrame) -> str:
    """Whole-population matching indicators, one per row."""
    rows = [
        [
            esc(INDICATOR_LABELS.get(r["indicator"], r["indicator"].replace("_", " "))),
            esc(r.get("unit") or ""),
            indicator_cell(r),
            count(r.get("n_obs")),
        ]
        for r in frame.sort("indicator").to_dicts()
    ]
    headers = ["Indicator", "Unit", "Value (95 % CI)", "Households surveyed"]
    caption = "Whole population."
    return html_table(headers, rows, numeric_from=2, caption=caption, css="compact")


def matching_section(data: ReportData) -> str:
    """Coverage and benefit incidence by quintile; regional standards against needs."""
    title = "Resource matching"
    frame = data.matching_indicators
    if frame.height == 0:
        reason = "the run published no resource-matching indicators"
        return section("matching", title, unavailable(reason))
    parts: list[str] = []
    quintiles = frame.filter(
        (pl.col("group_type") == "quintile")
        & pl.col("indicator").is_in(["coverage", "benefit_incidence"])
    )
    if quintiles.height:
        caption = (
            "Coverage (share of each quintile reached) and benefit incidence (share of all "
            "benefit money going to the quintile) by quintile of pre-transfer welfare, with "
            "95 % CIs. A well-targeted programme has its tallest bars on the left."
        )
        svg = charts.coverage_by_quintile(quintiles)
        parts.append(figure("coverage-by-quintile", svg, caption))
        columns = {"coverage": "Coverage", "benefit_incidence": "Benefit incidence"}
        caption = "By quintile of pre-transfer welfare (Q1 poorest), with 95 % CIs."
        parts.append(indicator_table(quintiles, columns, caption=caption))
    else:
        parts.append(unavailable("no coverage or benefit incidence by quintile"))
    standards = frame.filter(
        (pl.col("group_type") == "region")
        & pl.col("indicator").is_in(["benefit_standard", "needs_based_standard", "standard_gap"])
    )
    if standards.filter(pl.col("indicator") != "standard_gap").height:
        caption = (
            "Each region's benefit standard against its needs-based standard (national floor × "
            "regional cost-of-living coefficient). Labels: standard gap = (benefit standard − "
            "needs-based) ÷ needs-based; a negative gap (red) means the standard falls short."
        )
        svg = charts.regional_standards(standards)
        parts.append(figure("regional-standards", svg, caption))
        columns = {
            "benefit_standard": "Benefit standard",
            "needs_based_standard": "Needs-based standard",
            "standard_gap": "Standard gap",
        }
        unit = standards.filter(pl.col("indicator") == "benefit_standard")["unit"].drop_nulls()
        caption = "Regional standards" + (f" ({unit[0]})." if unit.len() else ".")
        parts.append(indicator_table(standards, columns, caption=caption))
    else:
        parts.append(unavailable("no regional benefit standards"))
    overall = frame.filter(pl.col("group_type") == "all")
    if overall.height:
        parts.append(overall_table(overall))
    return section("matching", title, "".join(parts))


def curves_section(data: ReportData) -> str:
    """Targeting curves and ROC per model, with the programme as a point."""
    title = "Targeting curves"
    curves = data.targeting_curves
    if curves.height == 0:
        return section("curves", title, unavailable("the run published no targeting curves"))
    caption = (
        "Left: the exclusion error each PMT model would have at every coverage (out of "
        "sample); the diamond is the actual programme. A point below a model's curve does "
        "better than that model at the same coverage. Right: ROC curves — share of the poor "
        "selected against share of the non-poor selected; the dotted diagonal is a lottery."
    )
    svg = charts.targeting_curves(curves)
    return section("curves", title, figure("targeting-curves", svg, caption))


def crossing_years(fiscal: pl.DataFrame, threshold: float | None) -> dict[str, int | None]:
    """Per scenario, the first year cost_share_gdp exceeds the sustainability threshold.

    Uses the published ``threshold_crossed_year`` rows (null value: never crossed); without
    them, computes it from the published threshold; empty when neither is available.
    """
    published = fiscal.filter(pl.col("indicator") == "threshold_crossed_year")
    if published.height:
        return {
            r["scenario"]: None if r["value"] is None else int(r["value"])
            for r in published.to_dicts()
        }
    if threshold is None:
        return {}
    shares = fiscal.filter(pl.col("indicator") == "cost_share_gdp")
    crossed = shares.filter(pl.col("value") > threshold).group_by("scenario").agg(pl.min("year"))
    years = dict(zip(crossed["scenario"], crossed["year"], strict=True))
    return {scenario: years.get(scenario) for scenario in shares["scenario"].unique()}


def projection_rows(shares: pl.DataFrame, crossings: dict[str, int | None]) -> list[list[str]]:
    """Per scenario: the first year above the threshold and the cost share at the end."""
    rows = []
    for scenario in sorted(shares["scenario"].unique().to_list()):
        line = shares.filter(pl.col("scenario") == scenario).drop_nulls("year").sort("year")
        first = crossings.get(scenario)
        crossed = "not within the projection" if first is None else str(first)
        last = line.row(-1, named=True)
        end = f"{pct(last['value'], 2)} in {esc(last['year'])}"
        rows.append([esc(scenario), esc(crossed) if crossings else MISSING, end])
    return rows


def current_fiscal_table(current: pl.DataFrame) -> str:
    """The survey-year fiscal indicators (spending, leakage, effectiveness, budgets)."""
    rows = [
        [
            esc(INDICATOR_LABELS.get(r["indicator"], r["indicator"].replace("_", " "))),
            indicator_value(r["indicator"], r.get("value"), r.get("unit")),
            esc(r.get("unit") or ""),
        ]
        for r in current.to_dicts()
    ]
    caption = "Survey year: spending, leakage, poverty and inequality effects, budget scenarios."
    return html_table(["Indicator", "Value", "Unit"], rows, numeric_to=2, caption=caption)


def fiscal_section(data: ReportData) -> str:
    """The cost projection by scenario against the sustainability threshold; survey-year values."""
    title = "Fiscal balance and projection"
    frame = data.fiscal_indicators
    projection = frame.filter(
        pl.col("indicator").is_in(["projected_cost", "cost_share_gdp"])
        & pl.col("year").is_not_null()
    )
    current = frame.filter(pl.col("scenario") == "current")
    if projection.height == 0 and current.height == 0:
        return section("fiscal", title, unavailable("the run published no fiscal indicators"))
    parts: list[str] = []
    published = frame.filter(pl.col("indicator") == "sustainability_threshold")["value"]
    threshold = float(published.drop_nulls()[0]) if published.drop_nulls().len() else None
    crossings = crossing_years(frame, threshold)
    if projection.height:
        caption = (
            "Programme cost by year under each scenario, and its share of GDP"
            + (f"; dashed: sustainability threshold ({pct(threshold, 2)})" if threshold else "")
            + ("; red rings: first year above the threshold" if crossings else "")
            + "."
        )
        svg = charts.fiscal_projection(projection, threshold=threshold, crossings=crossings)
        parts.append(figure("fiscal-projection", svg, caption))
        shares = projection.filter(pl.col("indicator") == "cost_share_gdp")
        if shares.height:
            headers = ["Scenario", "First year above the threshold", "Cost share of GDP at the end"]
            limit = f" ({pct(threshold, 2)} of GDP)" if threshold is not None else ""
            caption = (
                f"First year the cost share of GDP exceeds the sustainability threshold{limit}."
            )
            table_html = html_table(headers, projection_rows(shares, crossings), caption=caption)
            parts.append(table_html)
    else:
        parts.append(unavailable("no projection (it needs a population projection and fiscal.gdp)"))
    if current.height:
        parts.append(current_fiscal_table(current))
    return section("fiscal", title, "".join(parts))


def validation_section(data: ReportData) -> str:
    """Expectation counts by severity and outcome; failed expectations with what was seen."""
    title = "Data validation"
    frame = data.validation_results
    if frame.height == 0:
        return section("validation", title, unavailable("no validation results were recorded"))
    rows = []
    for severity in sorted(frame["severity"].unique().to_list(), key=lambda s: (s != "error", s)):
        part = frame.filter(pl.col("severity") == severity)
        held = int(part["success"].sum())
        rows.append([esc(severity), count(held), count(part.height - held), count(part.height)])
    caption = "Great Expectations checks on the staging tables."
    parts = [html_table(["Severity", "Held", "Failed", "Checked"], rows, caption=caption)]
    failed = frame.filter(~pl.col("success"))
    if failed.height:
        listed = [
            [
                esc(r["severity"]),
                esc(r["table_name"]),
                esc(r.get("column_name") or ""),
                esc(r["expectation"]),
                esc(r.get("observed")),
            ]
            for r in failed.sort(["severity", "table_name"]).to_dicts()
        ]
        headers = ["Severity", "Table", "Column", "Expectation", "Observed"]
        caption = f"{count(failed.height)} expectation{'s' if failed.height > 1 else ''} failed."
        parts.append(html_table(headers, listed, numeric_from=9, caption=caption, css="compact"))
    else:
        parts.append(f"<p>All {count(frame.height)} expectations held.</p>\n")
    return section("validation", title, "".join(parts))


def alerts_section(data: ReportData) -> str:
    """Headline indicators that moved beyond their thresholds since the previous run."""
    title = "Alerts"
    if data.alerts.height == 0:
        return section("alerts", title, "<p>No alerts were raised for this run.</p>\n")
    rows = []
    for r in data.alerts.to_dicts():
        indicator = r.get("indicator") or ""
        rate = indicator in FRACTION_INDICATORS
        method = r.get("method") or ""
        rule = None if method == "program" else r.get("decision_rule")
        method = "programme" if method == "program" else charts.method_label(method)
        threshold = r.get("threshold")
        rows.append(
            [
                esc(indicator.replace("_", " ")),
                esc(method + (f" ({DECISION_RULES.get(rule, rule)})" if rule else "")),
                esc(group_text(r.get("group_type") or "", r.get("group_value"))),
                indicator_value(indicator, r.get("previous")),
                indicator_value(indicator, r.get("current")),
                points(r.get("change")) if rate else number(r.get("change"), 3),
                esc(threshold) if not isinstance(threshold, float) else number(threshold, 3),
            ]
        )
    headers = ["Indicator", "Method", "Group", "Previous", "Current", "Change", "Rule"]
    caption = "Changes beyond the configured thresholds since the previous successful run"
    previous: list[str] = []
    if "previous_run_id" in data.alerts.columns:
        previous = sorted({str(p) for p in data.alerts["previous_run_id"].drop_nulls()})
    caption += f" ({esc(', '.join(previous))})." if previous else "."
    table_html = html_table(
        headers, rows, numeric_from=3, numeric_to=6, caption=caption, css="compact"
    )
    return section("alerts", title, table_html)


def provenance_section(data: ReportData) -> str:
    """The run's identity and every input file with its hash."""
    run = data.run
    counts = ("rows_read", "rows_loaded", "rows_quarantined")
    items = [
        ("Run id", f"<code>{esc(run.get('run_id'))}</code>"),
        ("Status", esc(run.get("status"))),
        ("Audit", esc(run.get("config_name"))),
        ("Started", esc(timestamp(run.get("started_at")))),
        ("Finished", esc(timestamp(run.get("finished_at")))),
        ("Configuration", f"<code>{esc(run.get('config_path'))}</code>"),
        ("Configuration SHA-256", f'<code class="hash">{esc(run.get("config_sha256"))}</code>'),
        ("Code version", f"<code>{esc(run.get('code_version'))}</code>"),
        ("Seed", esc(run.get("seed"))),
        ("Rows read / loaded / quarantined", " / ".join(count(run.get(c)) for c in counts)),
    ]
    if run.get("error"):
        items.append(("Error", esc(run["error"])))
    body = (
        '<dl class="provenance">'
        + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in items)
        + "</dl>\n"
    )
    files = data.input_files
    if files.height:
        rows = [
            [
                esc(f["role"]),
                f"<code>{esc(f.get('path'))}</code>",
                f'<code class="hash">{esc(f.get("sha256"))}</code>',
                count(f.get("bytes")),
                *(count(f.get(c)) for c in counts),
            ]
            for f in files.sort("role").to_dicts()
        ]
        headers = ["Role", "Path", "SHA-256", "Bytes", "Rows read", "Loaded", "Quarantined"]
        caption = "Input files as read by this run."
        body += html_table(headers, rows, numeric_from=3, caption=caption, css="compact files")
    else:
        body += unavailable("no input files were recorded")
    return section("provenance", "Provenance", body)


def notes_section(data: ReportData) -> str:
    """Free-text notes attached to the report (absent tables, caveats)."""
    if not data.notes:
        return ""
    items = "".join(f"<li>{esc(note)}</li>" for note in data.notes)
    return section("notes", "Notes", f"<ul>{items}</ul>\n")


SECTIONS: tuple[tuple[str, str, Callable[[ReportData], str]], ...] = (
    ("headline", "Headline", headline_section),
    ("models", "Models", models_section),
    ("groups", "By group", groups_section),
    ("matching", "Resource matching", matching_section),
    ("curves", "Targeting curves", curves_section),
    ("fiscal", "Fiscal", fiscal_section),
    ("validation", "Validation", validation_section),
    ("alerts", "Alerts", alerts_section),
    ("provenance", "Provenance", provenance_section),
    ("notes", "Notes", notes_section),
)


def render_report(data: ReportData) -> str:
    """The whole report as one self-contained HTML document (UTF-8 text)."""
    run = data.run
    name = run.get("config_name") or "welfare audit"
    run_id = run.get("run_id") or "unknown run"
    status = run.get("status")
    banner = ""
    if status != "succeeded":
        error = f": {esc(run.get('error'))}" if run.get("error") else ""
        banner = (
            f'<p class="failed">This run did not succeed (status: {esc(status)}){error}. '
            "Figures below may be incomplete.</p>"
        )
    sections = {anchor: render(data) for anchor, _, render in SECTIONS}
    navigation = "".join(
        f'<a href="#{anchor}">{esc(label)}</a>' for anchor, label, _ in SECTIONS if sections[anchor]
    )
    glossary = "".join(f"<dt>{esc(term)}:</dt><dd>{esc(text)}</dd>" for term, text in GLOSSARY)
    return Template(TEMPLATE.read_text(encoding="utf-8")).substitute(
        title=esc(f"Targeting audit: {name} — run {run_id}"),
        heading=f"Targeting audit: {esc(name)}",
        meta=(
            f"Run <code>{esc(run_id)}</code> · status {esc(status)} · finished "
            f"{esc(timestamp(run.get('finished_at')))} · code {esc(run.get('code_version'))}"
        ),
        navigation=f"<nav>{navigation}</nav>",
        banner=banner,
        glossary=f'<dl class="glossary">{glossary}</dl>',
        sections="".join(sections.values()),
        footer=(
            f"Generated by welfare-audit from the tables of schema {SCHEMA} published by run "
            f"{esc(run_id)}. Rates are design-based estimates from a sample survey."
        ),
    )


def summary_markdown(data: ReportData, *, report_path: str) -> str:
    """A short Markdown summary of the run for the Prefect UI (headline errors, where to look)."""
    lines = [f"# Welfare audit {data.run.get('config_name', '')}: run {data.run['run_id']}", ""]
    national = data.targeting_errors.filter(pl.col("group_type") == "all")
    lines += [
        "| method | rule | coverage | exclusion error | inclusion error |",
        "|---|---|---|---|---|",
    ]
    for row in national.iter_rows(named=True):
        lines.append(
            f"| {row['method']} | {row['decision_rule']} | {pct(row['coverage'])} | "
            f"{pct(row['exclusion_error'])} | {pct(row['inclusion_error'])} |"
        )
    failed = data.validation_results.filter(~pl.col("success")).height
    lines += ["", f"Validation: {data.validation_results.height} checks, {failed} failed."]
    lines += [f"Alerts: {data.alerts.height}.", "", f"Full report: `{report_path}`"]
    return "\n".join(lines)
