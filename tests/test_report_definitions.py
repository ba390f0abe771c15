"""The report states its definitions and speaks in words (#18), on the session's real audit runs:
a generated survey with three programmes, and the same survey without programme data
(``audit_run`` and ``no_programme_run`` of tests/conftest.py; money in XOF)."""

from __future__ import annotations

import re

import polars as pl
import pytest

from tests.audit_run import AuditRun
from tests.report_html import section_html, text_of
from transforms.contract import TABLES
from transforms.io.warehouse import connect
from transforms.report.charts import CHART_TITLES
from transforms.report.data import ReportData, load_report_data
from transforms.report.formats import money, pct
from transforms.report.html import render_report

PACKED_KEY = re.compile(r"[A-Za-z0-9]_[A-Za-z0-9]|[A-Za-z]:[A-Za-z]|\|")
"""What an internal key looks like in text: snake_case, a packed 'name:dimension', a '|'."""
KEYS = ("pmt", "ols", "rate:", "quintile_post", "currency/", "fraction", "band0", "extreme_poor")


def report_of(run: AuditRun) -> tuple[ReportData, str]:
    """The run's rows as the report reads them, and the report rendered from them."""
    with connect(run.warehouse, read_only=True) as con:
        data = load_report_data(con, run.run_id)
    return data, render_report(data)


@pytest.fixture(scope="module")
def programmes(audit_run: AuditRun) -> tuple[ReportData, str]:
    return report_of(audit_run)


@pytest.fixture(scope="module")
def no_programmes(no_programme_run: AuditRun) -> tuple[ReportData, str]:
    return report_of(no_programme_run)


def test_the_definitions_state_each_line_with_its_value_and_currency(
    programmes: tuple[ReportData, str],
) -> None:
    data, document = programmes
    definitions = text_of(section_html(document, "definitions"))
    lines = data.poverty_lines
    assert lines["currency"].unique().to_list() == ["XOF"]  # welfare.currency, as configured
    regional = lines.filter(pl.col("poverty_line") == "regional")
    low, high = regional["value"].min(), regional["value"].max()
    assert isinstance(low, float) and isinstance(high, float)
    assert (
        f"Poverty line regional Regional lines, from the regions file: {money(low)} to "
        f"{money(high)} XOF per person per year across {regional.height} regions" in definitions
    )
    (relative,) = lines.filter(pl.col("poverty_line") == "relative_60_median")["value"]
    assert (
        "Poverty line relative_60_median Relative: a share of the median pre-transfer welfare "
        f"over persons: {money(relative)} XOF per person per year" in definitions
    )
    assert "Welfare Consumption per person per year, in XOF" in definitions
    assert "Equivalence scale None: every member counts as one person." in definitions
    assert "Rates count Persons: each household counts with its sampling weight" in definitions


def test_the_definitions_state_the_design_the_run_estimated_on(
    programmes: tuple[ReportData, str], audit_run: AuditRun
) -> None:
    """Strata and PSUs (nested in strata) counted from the raw household file."""
    _, document = programmes
    folder = audit_run.warehouse.parent
    households = pl.read_parquet(folder / "households.parquet")
    strata = households["strat_id"].n_unique()
    psus = households.select("strat_id", "ea_id").n_unique()
    definitions = text_of(section_html(document, "definitions"))
    assert (
        f"Survey design {strata} strata, {psus} PSUs (primary sampling units) and "
        f"{psus - strata} degrees of freedom (PSUs − strata), over 1,500 households surveyed"
    ) in definitions
    assert f"Student&#39;s t with {psus - strata} degrees of freedom" in definitions


def test_the_definitions_state_the_threshold_and_link_the_run_outputs(
    programmes: tuple[ReportData, str], audit_run: AuditRun
) -> None:
    _, document = programmes
    definitions = section_html(document, "definitions")
    words = text_of(definitions)
    assert "Suppressed cells An estimate resting on fewer than 10 households surveyed" in words
    assert "benefit incidence counts the households paid a benefit" in words
    assert "reads “suppressed (complementary)”" in words
    assert "does not hide bounds" in words  # what the rule does not protect, said
    assert "Money Amounts are in XOF" in words
    folder = audit_run.output_dir
    for href in ("standard_tables.xlsx", "data_docs/index.html"):  # relative to report.html
        assert f'<a href="{href}">' in definitions
        assert f'<a href="{href}">' in document.split("<nav>")[0]  # and in the header
        assert (folder / href).is_file()
    assert (folder / "report.html").read_text(encoding="utf-8").count("Definitions") >= 2
    assert "analysis: survey design" not in section_html(document, "notes")  # stated once


def test_money_is_in_the_configured_currency_and_scaled(programmes: tuple[ReportData, str]) -> None:
    data, document = programmes
    assert "currency/" not in document and "currency units" not in document
    fiscal = section_html(document, "fiscal")
    spending = data.fiscal_indicators.filter(
        (pl.col("indicator") == "spending") & (pl.col("programme") == "dibao")
    )["value"][0]
    assert spending >= 1e9
    assert f"Programme spending {money(spending)} " in text_of(fiscal)
    assert "billion" in money(spending) and "XOF per year" in fiscal
    assert "XOF per year, billions" in fiscal or "XOF per year, millions" in fiscal  # chart axis


def visible_labels(document: str, data: ReportData) -> str:
    """The report's visible text (chart text included) without the names the analyst
    configured, published table and file names, code cells, notes and provenance paths."""
    for section_id in ("notes", "provenance"):
        document = document.replace(section_html(document, section_id), "")
    document = re.sub(r"<code[^>]*>.*?</code>|<style>.*?</style>", " ", document, flags=re.S)
    words = text_of(document)
    names = [
        *data.targeting_errors["programme"].drop_nulls().unique().to_list(),
        *data.poverty_lines["poverty_line"].unique().to_list(),
        *data.targeting_errors["group_value"].drop_nulls().unique().to_list(),
        *data.fiscal_indicators["scenario"].drop_nulls().unique().to_list(),
        *(f"audit.{t.name}" for t in TABLES),
        *(t.name for t in TABLES),
        "standard_tables.xlsx",
        "data_docs/index.html",
    ]
    for name in sorted(names, key=len, reverse=True):
        words = words.replace(name, " ")
    return words


@pytest.mark.parametrize("run", ["programmes", "no_programmes"])
def test_no_label_is_an_internal_key(run: str, request: pytest.FixtureRequest) -> None:
    data, document = request.getfixturevalue(run)
    words = visible_labels(document, data)
    leaks = sorted(
        {words[max(m.start() - 25, 0) : m.end() + 25] for m in PACKED_KEY.finditer(words)}
    )
    assert leaks == []
    found = [key for key in KEYS if re.search(rf"(?<![A-Za-z]){re.escape(key)}(?![a-z])", words)]
    assert found == []  # lower-case keys: 'PMT (OLS)' is the words for 'pmt:ols'
    assert "PMT (OLS)" in words
    if run == "programmes":  # tier cells 'extreme_poor|band0' read as words
        matching = text_of(section_html(document, "matching"))
        assert "Need tier No benefit Benefit band 1" in matching
        assert "Extreme poor (below half the line)" in matching
    assert "Budget needed to close the poverty gap, PMT (OLS)" in words or run == "no_programmes"


def test_a_survey_without_programmes_has_pmt_errors_and_poverty_by_region(
    no_programmes: tuple[ReportData, str],
) -> None:
    data, document = no_programmes
    assert data.targeting_errors.filter(pl.col("method") == "program").height == 0
    rows = data.targeting_errors.filter(
        (pl.col("method") == "pmt:ols")
        & (pl.col("decision_rule") == "rate:poverty_rate")
        & (pl.col("group_type") == "region")
    )
    assert rows.height == 14
    groups = section_html(document, "groups")
    assert 'data-chart="errors-by-region"' in groups and "Not available" not in groups
    words = text_of(groups)
    profile = text_of(section_html(document, "profile"))
    for row in rows.to_dicts():
        region, exclusion = row["group_value"], row["exclusion_error"]
        if row["suppressed"]:
            continue
        assert (
            f"Region {region} {row['n_obs']:,} {pct(row['coverage'])} {pct(exclusion)} (" in words
        )
        assert f"Region {region} {pct(row['poverty_rate'])} (" in profile
    headline = text_of(section_html(document, "headline"))
    (national,) = data.targeting_errors.filter(
        (pl.col("method") == "pmt:ols")
        & (pl.col("decision_rule") == "rate:poverty_rate")
        & (pl.col("group_type") == "all")
    ).to_dicts()
    assert headline.startswith(
        "Headline: poverty, and how well a proxy-means test would reach the poor "
        f"{pct(national['poverty_rate'])} of the population are poor before any transfer"
    )
    assert f"would miss {pct(national['exclusion_error'])} of the poor" in headline
    for section_id in ("matching", "fiscal"):  # says why, not what a programme run lacks
        assert "the survey records no programme" in section_html(document, section_id)


def test_every_chart_is_a_figure_with_a_caption_and_an_accessible_title(
    programmes: tuple[ReportData, str],
) -> None:
    _, document = programmes
    figures = re.findall(r'<figure id="chart-([\w-]+)"[^>]*>(.*?)</figure>', document, re.S)
    assert {chart for chart, _ in figures} == set(CHART_TITLES)  # every chart drawn for this run
    for chart, body in figures:
        title = CHART_TITLES[chart]
        assert body.lstrip().startswith(f'<svg role="img" aria-label="{title}"'), chart
        assert f"<title>{title}</title>" in body
        caption = re.search(r"<figcaption>(.+?)</figcaption>", body, re.S)
        assert caption is not None and len(caption[1]) > 40, chart
