"""The report and the workbook of a run with several programmes and several poverty lines, and of
a survey without programme data: hand-made frames, each value chosen to be recognisable.

Run: programmes dibao and child_grant (and 'any'), lines 'regional' (three regional values)
and 'relative' (national); the models learn 'regional'. The targeting rows list the line
'relative' first, so the order of the lines must come from audit.poverty_lines.
"""

from __future__ import annotations

import dataclasses
import re
import zipfile
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest

from tests.report_html import section_html, text_of
from transforms.report import dimensions
from transforms.report.data import ReportData, empty_frame, load_report_data
from transforms.report.html import render_report
from transforms.report.workbook import SHEETS, write_standard_tables

PROGRAMMES = ("dibao", "child_grant", "any")
LINES = ("regional", "relative")
REGIONS = ("R1", "R2")
# national exclusion error of each programme against each line: (programme, line) -> value
EXCLUSION = {
    ("dibao", "regional"): 0.562,
    ("child_grant", "regional"): 0.546,
    ("any", "regional"): 0.186,
    ("dibao", "relative"): 0.628,
    ("child_grant", "relative"): 0.544,
    ("any", "relative"): 0.212,
}
COVERAGE = {"dibao": 0.163, "child_grant": 0.168, "any": 0.291}


def frame(name: str, rows: list[dict[str, Any]]) -> pl.DataFrame:
    """Rows as a frame with the published columns (missing values NULL)."""
    return pl.DataFrame([{"run_id": "r", **row} for row in rows], schema=empty_frame(name).schema)


def targeting_row(
    method: str, rule: str, programme: str | None, line: str, group: str, value: str, error: float
) -> dict[str, Any]:
    """One targeting_errors row with its exclusion error (CI ± 0.02) and other rates."""
    return {
        "method": method,
        "decision_rule": rule,
        "programme": programme,
        "poverty_line": line,
        "unit": "persons",
        "group_type": group,
        "group_value": value,
        "n_obs": 1000 if group == "all" else 500,
        "poverty_rate": 0.20 if line == "regional" else 0.29,
        "coverage": COVERAGE.get(programme or "", 0.20),
        "exclusion_error": error,
        "exclusion_error_ci_low": error - 0.02,
        "exclusion_error_ci_high": error + 0.02,
        "inclusion_error": error / 2,
        "suppressed": False,
    }


def programme_targeting() -> list[dict[str, Any]]:
    """Every programme against every line ('relative' first), nationally and by region."""
    rows = []
    for line in reversed(LINES):
        for programme in PROGRAMMES:
            error = EXCLUSION[(programme, line)]
            rows.append(targeting_row("program", "actual", programme, line, "all", "all", error))
            for index, region in enumerate(REGIONS):
                shift = 0.1 * (index + 1)
                row = targeting_row("program", "actual", programme, line, "region", region, shift)
                rows.append(row)
    return rows


def model_targeting() -> list[dict[str, Any]]:
    """PMT ols and logit under the poverty-rate rule and at each programme's coverage."""
    rows = []
    for model, error in (("pmt:ols", 0.466), ("pmt:logit", 0.472)):
        for group, value in (("all", "all"), *(("region", r) for r in REGIONS)):
            rule = "rate:poverty_rate"
            rows.append(targeting_row(model, rule, None, "regional", group, value, error))
        for programme in PROGRAMMES:
            rule = "rate:programme_coverage"
            rows.append(targeting_row(model, rule, programme, "regional", "all", "all", 0.5))
    return rows


def model_metrics() -> pl.DataFrame:
    """Metrics of ols and logit under each rule, against the models' line."""
    rows = []
    for model, auc in (("ols", 0.824), ("logit", 0.822)):
        base = {"model": model, "poverty_line": "regional", "unit": "persons", "auc": auc}
        rows.append(base | {"decision_rule": "rate:poverty_rate", "coverage": 0.2})
        rows += [
            base
            | {"decision_rule": "rate:programme_coverage", "programme": programme}
            | {"coverage": COVERAGE[programme], "exclusion_error": 0.5}
            for programme in PROGRAMMES
        ]
    return frame("model_metrics", rows)


def matching() -> pl.DataFrame:
    """Coverage and benefit incidence by quintile per programme and line (line in the value)."""
    rows = [
        {"programme": programme, "poverty_line": line, "population_unit": "persons"}
        | {"group_type": "quintile", "group_value": str(q), "indicator": name}
        | {"value": value, "ci_low": value - 0.01, "ci_high": value + 0.01, "unit": "fraction"}
        | {"n_obs": 400 if name == "coverage" else 100 + p, "suppressed": False}
        for line, offset in (("regional", 0.0), ("relative", 0.5))
        for p, programme in enumerate(PROGRAMMES)
        for q in (1, 2)
        for name in ("coverage", "benefit_incidence")
        for value in [round(0.1 * q + 0.01 * p + offset, 4)]
    ]
    return frame("matching_indicators", rows)


def fiscal() -> pl.DataFrame:
    """Survey-year spending of each programme against each line."""
    rows = [
        {"programme": programme, "poverty_line": line, "population_unit": "persons"}
        | {"scenario": "current", "year": 2025, "indicator": "spending"}
        | {"value": (index + 1) * 1.0e9 + (0 if line == "regional" else 5.0e8)}
        | {"unit": "currency/year"}
        for line in LINES
        for index, programme in enumerate(PROGRAMMES)
    ]
    return frame("fiscal_indicators", rows)


def poverty_lines() -> pl.DataFrame:
    """A regional line with three values and a relative line over persons."""
    regional = [
        {"poverty_line": "regional", "method": "regional", "region": region, "value": value}
        | {"currency": "LCU", "source": "regions file"}
        for region, value in (("R1", 8280.0), ("R2", 6000.0), ("R3", 4800.0))
    ]
    relative = {"poverty_line": "relative", "method": "relative_median", "unit": "persons"}
    relative |= {"value": 7223.49, "currency": "LCU", "source": "60 % of the median"}
    return frame("poverty_lines", [*regional, relative])


def overlap() -> pl.DataFrame:
    """Who receives which combination, as published (alphabetical, not by size)."""
    rows = [
        {"programmes": name, "population_unit": "persons", "population": population}
        | {"share": share, "se": 0.005, "ci_low": share - 0.01, "ci_high": share + 0.01}
        | {"n_obs": n_obs, "suppressed": False}
        for name, population, share, n_obs in (
            ("child_grant", 1.2e6, 0.12, 120),
            ("dibao", 1.0e6, 0.10, 100),
            ("dibao + child_grant", 0.7e6, 0.07, 70),
            ("none", 7.1e6, 0.71, 710),
        )
    ]
    return frame("programme_overlap", rows)


@pytest.fixture(scope="module")
def data() -> ReportData:
    """The run with two programmes, 'any', two lines and two models."""
    folds = frame(
        "pmt_folds",
        [
            {"poverty_line": "regional", "fold": f, "households": 500, "poor_households": 100}
            | {"psus": 25, "poverty_rate": 0.2}
            for f in (0, 1)
        ],
    )
    return ReportData(
        run={"run_id": "r", "status": "succeeded", "config_name": "several"},
        targeting_errors=frame("targeting_errors", programme_targeting() + model_targeting()),
        model_metrics=model_metrics(),
        matching_indicators=matching(),
        fiscal_indicators=fiscal(),
        poverty_lines=poverty_lines(),
        programme_overlap=overlap(),
        pmt_folds=folds,
    )


@pytest.fixture(scope="module")
def document(data: ReportData) -> str:
    """The rendered report of the run."""
    return render_report(data)


def tables(fragment: str) -> list[list[str]]:
    """Each table of an HTML fragment as the visible text of its rows (header row first)."""
    return [
        [text_of(row) for row in re.findall(r"<tr>(.*?)</tr>", table, re.S)]
        for table in re.findall(r"<table.*?</table>", fragment, re.S)
    ]


# ---------------------------------------------------------------- programmes and lines


def test_lines_come_in_published_order_and_any_comes_last(data: ReportData) -> None:
    assert dimensions.line_order(data) == list(LINES)  # audit.poverty_lines, not the rows
    assert dimensions.programme_order(data) == list(PROGRAMMES)
    assert dimensions.models_line(data) == "regional"
    reordered = dataclasses.replace(
        data, targeting_errors=data.targeting_errors.sort("programme", descending=False)
    )  # 'any' sorts first alphabetically; it is still listed last
    assert dimensions.programme_order(reordered) == ["child_grant", "dibao", "any"]


def test_the_headline_has_one_row_per_programme_against_the_first_line(document: str) -> None:
    headline = section_html(document, "headline")
    sentence = text_of(re.search(r'<p class="headline">(.*?)</p>', headline, re.S)[1])
    assert sentence.startswith(
        "The programme dibao misses 56.2 % of the poor (line regional; 95 % CI 54.2–58.2 %)"
    )
    programmes, other_lines, rates = tables(headline)
    assert [row.split(" ")[0] for row in programmes[1:]] == ["dibao", "child_grant", "any"]
    assert programmes[1] == "dibao 16.3 % 56.2 % (54.2–58.2 %) 28.1 % 1,000"
    assert programmes[3].startswith("any (at least one) 29.1 % 18.6 % (16.6–20.6 %)")
    assert "against the line regional" in headline
    assert (
        other_lines[0] == "Programme Exclusion error, line relative Inclusion error, line relative"
    )
    assert other_lines[1:] == [
        "dibao 62.8 % (60.8–64.8 %) 31.4 %",
        "child_grant 54.4 % (52.4–56.4 %) 27.2 %",
        "any (at least one) 21.2 % (19.2–23.2 %) 10.6 %",
    ]
    assert "Programme dibao, line regional: whole population, 1,000 households" in text_of(headline)
    assert len(rates) == 1 + 7  # every targeting rate of the first programme


def test_the_lines_section_states_each_line_and_what_poor_means(document: str) -> None:
    lines = section_html(document, "lines")
    (table,) = tables(lines)
    assert table[1:] == [
        "regional Regional lines, from the regions file — regions file 4,800–8,280 in 3 regions "
        "LCU 20.0 %",
        "relative Relative: a share of the median pre-transfer welfare persons 60 % of the "
        "median 7,223 LCU 29.0 %",
    ]
    words = text_of(lines)
    assert "the value in each region is in audit.poverty_lines" in words
    assert "Poor means pre-transfer welfare strictly below the line" in words
    assert "use the first line, regional" in words
    assert "The PMT models learn the line regional (the line of the model rows)" in words


def test_the_models_name_the_programme_whose_coverage_they_match(document: str) -> None:
    rules, like = tables(section_html(document, "models"))
    assert [row.split(" 0.8")[0] for row in rules[1:]] == [
        "PMT (OLS) coverage equal to the poverty rate",
        "PMT (logit) coverage equal to the poverty rate",
    ]
    assert [" ".join(row.split(" ")[:3]) for row in like[1:]] == [
        "dibao actual receipt",
        "dibao PMT (OLS)",
        "dibao PMT (logit)",
        "child_grant actual receipt",
        "child_grant PMT (OLS)",
        "child_grant PMT (logit)",
        "any (at least",
        "any (at least",
        "any (at least",
    ]
    assert like[6].startswith("child_grant PMT (logit) 0.822 16.8 % 50.0 % (48.0–52.0 %)")


def test_groups_show_the_first_programme_and_every_programme_by_region(document: str) -> None:
    groups = section_html(document, "groups")
    assert 'data-chart="errors-by-region"' in groups
    assert "Programme dibao, line regional (actual receipt): exclusion and inclusion" in groups
    by_region, first = tables(groups)
    assert by_region[0] == (
        "Region Exclusion error, dibao Inclusion error, dibao Exclusion error, child_grant "
        "Inclusion error, child_grant Exclusion error, any (at least one) "
        "Inclusion error, any (at least one)"
    )
    assert by_region[1:] == [
        "R1 10.0 % 5.0 % 10.0 % 5.0 % 10.0 % 5.0 %",
        "R2 20.0 % 10.0 % 20.0 % 10.0 % 20.0 % 10.0 %",
    ]
    assert first[1].startswith("Region R1 500 16.3 % 10.0 % (8.0–12.0 %)")


def test_matching_is_a_crosstab_with_programmes_across(document: str) -> None:
    matching = section_html(document, "matching")
    coverage, incidence = tables(matching)
    assert (
        coverage[0] == "Welfare quintile dibao child_grant any (at least one) Households surveyed"
    )
    assert coverage[1] == (
        "Q1 (poorest) 10.0 % (9.0–11.0 %) 11.0 % (10.0–12.0 %) 12.0 % (11.0–13.0 %) 400"
    )
    # beneficiaries differ by programme: no single count to show
    assert incidence[0] == "Welfare quintile dibao child_grant any (at least one)"
    assert "line regional" in text_of(matching)
    assert "Programme any (at least one): coverage" in text_of(matching)  # the chart's


def test_fiscal_puts_programmes_across_against_the_first_line(document: str) -> None:
    (current,) = tables(section_html(document, "fiscal"))
    assert current == [
        "Indicator dibao child_grant any (at least one) Unit",
        "Programme spending 1.00 billion 2.00 billion 3.00 billion LCU per year",
    ]


def test_the_overlap_lists_each_combination_by_size(document: str) -> None:
    (table,) = tables(section_html(document, "overlap"))
    assert table == [
        "Programmes received Share of persons, 95 % CI Persons Households surveyed",
        "none 71.0 % (70.0–72.0 %) 7,100,000 710",
        "child_grant 12.0 % (11.0–13.0 %) 1,200,000 120",
        "dibao 10.0 % (9.0–11.0 %) 1,000,000 100",
        "dibao + child_grant 7.0 % (6.0–8.0 %) 700,000 70",
    ]


def test_the_curves_label_each_programme(data: ReportData) -> None:
    curves = [
        {"method": "pmt:ols", "poverty_line": "regional", "coverage": c, "exclusion_error": 1 - c}
        | {"true_positive_rate": c, "false_positive_rate": c}
        for c in (0.0, 0.5, 1.0)
    ] + [
        {"method": "program", "programme": programme, "poverty_line": line}
        | {"coverage": 0.2, "exclusion_error": 0.5, "true_positive_rate": 0.5}
        | {"false_positive_rate": 0.1}
        for programme in ("dibao", "child_grant")
        for line in LINES
    ]
    run = dataclasses.replace(data, targeting_curves=frame("targeting_curves", curves))
    figure = section_html(render_report(run), "curves")
    assert figure.count("child_grant") == 2  # its point on each panel, the models' line only
    assert "against the line regional" in figure


def test_a_survey_without_programmes_shows_the_models_by_region(data: ReportData) -> None:
    models_only = dataclasses.replace(
        data,
        targeting_errors=frame(
            "targeting_errors", [r for r in model_targeting() if r["programme"] is None]
        ),
        model_metrics=model_metrics().filter(pl.col("programme").is_null()),
        matching_indicators=empty_frame("matching_indicators"),
        fiscal_indicators=empty_frame("fiscal_indicators"),
        programme_overlap=empty_frame("programme_overlap"),
    )
    document = render_report(models_only)
    groups = section_html(document, "groups")
    assert "Not available" not in groups
    assert 'data-chart="errors-by-region"' in groups
    assert "This survey records no programme" in groups
    assert "PMT (OLS) (rule: coverage equal to the poverty rate; line regional)" in text_of(groups)
    first, every = tables(groups)
    assert first[1] == "Region R1 500 20.0 % 46.6 % (44.6–48.6 %) 23.3 %"  # with its CIs
    assert every[0].startswith("Group Value Exclusion error, PMT (OLS) Inclusion error, PMT (OLS)")
    assert every[1] == "whole population 46.6 % 23.3 % 47.2 % 23.6 %"
    assert every[2] == "Region R1 46.6 % 23.3 % 47.2 % 23.6 %"
    headline = text_of(section_html(document, "headline"))
    assert "20.0 % of the population are poor before any transfer (line regional; 95 % CI" in (
        headline
    )
    assert "PMT (OLS), selecting as many as are poor, would miss 46.6 % of the poor" in headline
    profile = tables(section_html(document, "profile"))[0]
    assert profile[1:] == [  # one line with rates by group: the models' line
        "Whole population 20.0 % 1,000",
        "Region R1 20.0 % 500",
        "Region R2 20.0 % 500",
    ]
    assert '<section id="overlap">' not in document  # no combinations: no section


# ---------------------------------------------------------------- workbook and loader


def sheet_headers(path: Path) -> dict[str, list[str]]:
    """Sheet name -> its header texts, in column order, read from the .xlsx XML."""
    with zipfile.ZipFile(path) as archive:
        workbook = archive.read("xl/workbook.xml").decode()
        relations = archive.read("xl/_rels/workbook.xml.rels").decode()
        shared = archive.read("xl/sharedStrings.xml").decode()
        strings = [re.sub(r"<[^>]+>", "", si) for si in re.findall(r"<si>(.*?)</si>", shared, re.S)]
        targets = dict(re.findall(r'Id="(rId\d+)"[^>]*Target="([^"]+)"', relations))
        sheets = re.findall(r'<sheet name="([^"]+)" sheetId="\d+" r:id="(rId\d+)"', workbook)
        headers = {}
        for name, rid in sheets:
            xml = archive.read(f"xl/{targets[rid]}").decode()
            first = re.search(r'<row r="1".*?</row>', xml, re.S)
            cells = re.findall(r"<c [^>]*><v>(\d+)</v></c>", first[0]) if first else []
            headers[name] = [strings[int(i)].replace("&amp;", "&") for i in cells]
            headers[name + ":rows"] = [str(xml.count("<row "))]
        return headers


def test_the_workbook_has_the_lines_overlap_and_folds(data: ReportData, tmp_path: Path) -> None:
    path = tmp_path / "tables.xlsx"
    write_standard_tables(data, path)
    headers = sheet_headers(path)
    assert {"poverty_lines", "programme_overlap", "pmt_folds"} <= set(SHEETS)
    assert headers["poverty_lines"][:7] == [
        "Run ID",
        "Poverty line",
        "Method",
        "Unit",
        "Region",
        "Value",
        "Currency",
    ]
    assert headers["poverty_lines:rows"] == ["5"]  # header + 3 regional values + relative
    assert headers["programme_overlap"][:3] == ["Run ID", "Programmes received", "Population unit"]
    assert headers["programme_overlap:rows"] == ["5"]
    assert headers["pmt_folds:rows"] == ["3"]
    # every long sheet names its programme and line right after the run id
    for sheet in ("matching_indicators", "fiscal_indicators"):
        assert headers[sheet][:4] == ["Run ID", "Programme", "Poverty line", "Population unit"]
    assert headers["targeting_errors"][:6] == [
        "Run ID",
        "Method",
        "Decision rule",
        "Programme",
        "Poverty line",
        "Unit",
    ]
    assert headers["model_metrics"][3:5] == ["Programme", "Poverty line"]


def test_the_loader_keeps_insertion_order_and_reads_the_new_tables() -> None:
    con = duckdb.connect()
    con.execute("CREATE SCHEMA audit")
    con.execute("CREATE TABLE audit.runs (run_id VARCHAR, status VARCHAR)")
    con.execute("INSERT INTO audit.runs VALUES ('a', 'succeeded')")
    con.execute(
        "CREATE TABLE audit.poverty_lines (run_id VARCHAR, poverty_line VARCHAR, value DOUBLE)"
    )
    rows = [("a", name, value) for name, value in (("zeta", 2.0), ("alpha", 1.0), ("mid", 3.0))]
    con.executemany("INSERT INTO audit.poverty_lines VALUES (?, ?, ?)", rows)
    con.execute("CREATE TABLE audit.targeting_errors (run_id VARCHAR, method VARCHAR)")
    con.execute("INSERT INTO audit.targeting_errors VALUES ('a', 'program')")
    loaded = load_report_data(con, "a")
    assert loaded.poverty_lines["poverty_line"].to_list() == ["zeta", "alpha", "mid"]
    assert dimensions.line_order(loaded) == ["zeta", "alpha", "mid"]
    assert loaded.poverty_lines["currency"].to_list() == [None] * 3  # conformed: NULL
    assert loaded.targeting_errors["programme"].to_list() == [None]  # an older warehouse
    assert loaded.programme_overlap.columns == empty_frame("programme_overlap").columns
    assert "Table audit.pmt_folds does not exist in this warehouse." in loaded.notes
    assert "Table audit.programme_overlap does not exist in this warehouse." in loaded.notes
