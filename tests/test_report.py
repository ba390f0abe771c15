"""The per-run HTML report and the Excel workbook: hand-made frames, then one real warehouse.

The view layer's formats and the templates' escaping on their own: tests/test_report_view.py.
"""

from __future__ import annotations

import dataclasses
import re
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest

from tests.audit_run import AuditRun
from tests.report_html import section_html, text_of
from transforms.catalogue import TARGETING, label
from transforms.report.data import ReportData, empty_frame, load_report_data
from transforms.report.formats import pct
from transforms.report.html import render_report
from transforms.report.workbook import SHEETS, write_standard_tables

RUN_ID = "20261127T120000Z-abc123"
HOSTILE = '<Nord & "Sud">'
ESCAPED_HOSTILE = "&lt;Nord &amp; &#34;Sud&#34;&gt;"  # Jinja2 autoescape writes " as &#34;
SUPPRESSED_HTML = "suppressed (n &lt; threshold)"  # shows as "suppressed (n < threshold)"
LINE = "national"
CHARTS = (
    "errors-by-region",
    "coverage-by-quintile",
    "targeting-curves",
    "regional-standards",
    "fiscal-projection",
)
SECTIONS = (
    "headline",
    "lines",
    "overlap",
    "models",
    "groups",
    "matching",
    "curves",
    "fiscal",
    "validation",
    "alerts",
    "provenance",
)


def frame(name: str, rows: list[dict[str, Any]]) -> pl.DataFrame:
    """Rows as a frame with the published columns (missing values NULL)."""
    schema = empty_frame(name).schema
    return pl.DataFrame([{"run_id": RUN_ID, **row} for row in rows], schema=schema)


def rates(value: float, low: float, high: float, **others: Any) -> dict[str, Any]:
    """One targeting rate (exclusion error) with its CI, plus other columns."""
    return {
        "exclusion_error": value,
        "exclusion_error_ci_low": low,
        "exclusion_error_ci_high": high,
        **others,
    }


def programme(group_type: str, group_value: str, **values: Any) -> dict[str, Any]:
    base = {"method": "program", "decision_rule": "actual", "unit": "persons"}
    base |= {"programme": "dibao", "poverty_line": LINE}
    return {**base, "group_type": group_type, "group_value": group_value, **values}


@pytest.fixture(scope="module")
def data() -> ReportData:
    """A small run: one programme (dibao) against one line (national), nationally and in three
    regions (one suppressed), one model."""
    targeting = frame(
        "targeting_errors",
        [
            programme(
                "all",
                "all",
                n_obs=2000,
                poverty_rate=0.208,
                poverty_rate_ci_low=0.199,
                poverty_rate_ci_high=0.217,
                coverage=0.163,
                coverage_ci_low=0.156,
                coverage_ci_high=0.170,
                inclusion_error=0.443,
                inclusion_error_ci_low=0.420,
                inclusion_error_ci_high=0.466,
                **rates(0.562, 0.543, 0.581),
            ),
            programme(
                "region",
                HOSTILE,
                n_obs=900,
                coverage=0.20,
                inclusion_error=0.31,
                inclusion_error_ci_low=0.25,
                inclusion_error_ci_high=0.37,
                **rates(0.48, 0.40, 0.56),
            ),
            programme("region", "Ouest $2$", n_obs=1096, coverage=0.1, **rates(0.61, 0.5, 0.7)),
            programme("region", "Tiny", n_obs=4, suppressed=True),
            {
                "method": "pmt:ols",
                "decision_rule": "rate:poverty_rate",
                "poverty_line": LINE,
                "group_type": "all",
                "group_value": "all",
                "n_obs": 2000,
                "coverage": 0.208,
                **rates(0.465, 0.442, 0.487),
            },
            {
                "method": "pmt:ols",
                "decision_rule": "rate:programme_coverage",
                "programme": "dibao",
                "poverty_line": LINE,
                "group_type": "all",
                "group_value": "all",
                "n_obs": 2000,
                "coverage": 0.163,
                **rates(0.551, 0.530, 0.572),
            },
        ],
    )
    metrics = frame(
        "model_metrics",
        [
            {
                "model": "ols",
                "decision_rule": "rate:poverty_rate",
                "poverty_line": LINE,
                "auc": 0.824,
                "coverage": 0.208,
                "exclusion_error": 0.465,
                "inclusion_error": 0.465,
                "cgh": 2.04,
                "fold_spread": 0.0139,
                "cv_scheme": "5-fold by psu",
            },
            {
                "model": "ols",
                "decision_rule": "rate:programme_coverage",
                "programme": "dibao",
                "poverty_line": LINE,
                "auc": 0.824,
                "coverage": 0.163,
                "exclusion_error": 0.551,
                "inclusion_error": 0.421,
                "fold_spread": 0.0151,
            },
            {
                "model": "ols",
                "decision_rule": "line",
                "poverty_line": LINE,
                "auc": 0.824,
                "coverage": 0.117,
                "exclusion_error": 0.655,
                "inclusion_error": 0.389,
                "fold_spread": 0.0216,
            },
        ],
    )
    curve = [
        {"method": "pmt:ols", "poverty_line": LINE, "coverage": c, "exclusion_error": 1 - t}
        | {"true_positive_rate": t, "false_positive_rate": f}
        for c, t, f in ((0.0, 0.0, 0.0), (0.2, 0.55, 0.1), (0.5, 0.9, 0.4), (1.0, 1.0, 1.0))
    ]
    curve.append(
        {"method": "program", "programme": "dibao", "poverty_line": LINE}
        | {"coverage": 0.163, "exclusion_error": 0.562}
        | {"true_positive_rate": 0.438, "false_positive_rate": 0.091}
    )
    dimensions = {"programme": "dibao", "poverty_line": LINE, "population_unit": "persons"}
    matching = frame(
        "matching_indicators",
        [
            dimensions | row
            for row in [
                {"group_type": "quintile", "group_value": str(q), "indicator": name}
                | {"value": v, "ci_low": v - 0.02, "ci_high": v + 0.02, "unit": "fraction"}
                | {"n_obs": 400, "suppressed": False}
                for q, (cov, inc) in enumerate([(0.43, 0.45), (0.21, 0.25), (0.11, 0.3)], 1)
                for name, v in (("coverage", cov), ("benefit_incidence", inc))
            ]
            + [
                {"group_type": "region", "group_value": region, "indicator": name, "value": v}
                | {"unit": unit, "n_obs": 900, "suppressed": False}
                for region in (HOSTILE, "Ouest $2$")
                for name, v, unit in (
                    ("benefit_standard", 3300.0, "currency/person/year"),
                    ("needs_based_standard", 3600.0, "currency/person/year"),
                    ("standard_gap", -0.0833, "ratio"),
                )
            ]
            + [
                {"group_type": "region", "group_value": "Tiny", "indicator": "standard_gap"}
                | {"n_obs": 4, "suppressed": True}
            ]
        ],
    )
    fiscal = frame(
        "fiscal_indicators",
        [
            dimensions | row
            for row in [
                {"scenario": s, "year": y, "indicator": "projected_cost", "value": cost}
                | {"unit": "currency/year"}
                for s, g in (("baseline", 1.0), ("fast ageing", 1.3))
                for y, cost in ((2025, 4.0e9), (2030, 4.6e9 * g), (2035, 5.3e9 * g))
            ]
            + [
                {"scenario": s, "year": y, "indicator": "cost_share_gdp", "value": v}
                | {"unit": "fraction"}
                for s, g in (("baseline", 1.0), ("fast ageing", 1.3))
                for y, v in ((2025, 0.007), (2030, 0.0075 * g), (2035, 0.0079 * g))
            ]
            + [  # as published: one row per scenario, year null
                {"scenario": s, "year": None, "indicator": "sustainability_threshold"}
                | {"value": 0.008, "unit": "fraction"}
                for s in ("baseline", "fast ageing")
            ]
        ],
    )
    validation = frame(
        "validation_results",
        [
            {"table_name": "stg_households", "expectation": "expect_column_values_to_be_unique"}
            | {"column_name": "hh_id", "severity": "error", "success": True, "observed": "0"},
            {"table_name": "stg_households", "expectation": "expect_column_values_to_not_be_null"}
            | {"column_name": "region", "severity": "error", "success": True, "observed": "0"},
            {"table_name": "hh_size_check", "expectation": "expect_column_pair_values_to_be_equal"}
            | {"column_name": "hh_size", "severity": "warning", "success": False}
            | {"observed": "3 unexpected, e.g. [<NA>]"},
        ],
    )
    files = frame(
        "input_files",
        [
            {"role": "households", "path": "/data/a&b <survey>.parquet", "sha256": "ab" * 32}
            | {"bytes": 394377, "rows_read": 2000, "rows_loaded": 2000, "rows_quarantined": 0},
            {"role": "regions", "path": "/data/regions.csv", "sha256": "cd" * 32}
            | {"bytes": 2456, "rows_read": 3, "rows_loaded": 3, "rows_quarantined": 0},
        ],
    )
    alerts = frame(
        "alerts",
        [
            {"previous_run_id": "20261026T120000Z-0f0f0f", "method": "program"}
            | {"decision_rule": "actual", "programme": "dibao", "poverty_line": LINE}
            | {"group_type": "region", "group_value": HOSTILE}
            | {"indicator": "exclusion_error", "previous": 0.40, "current": 0.48, "change": 0.08}
            | {"threshold": "|change| > 0.05", "message": "exclusion_error of program rose"},
        ],
    )
    run = {
        "run_id": RUN_ID,
        "started_at": datetime(2026, 11, 27, 12, 0, tzinfo=UTC),
        "finished_at": datetime(2026, 11, 27, 12, 3, tzinfo=UTC),
        "status": "succeeded",
        "config_name": "dibao <pilot>",
        "config_path": "/data/audit.toml",
        "config_sha256": "ef" * 32,
        "code_version": "0.1.0+gabc",
        "seed": 7,
        "rows_read": 2003,
        "rows_loaded": 2003,
        "rows_quarantined": 0,
        "error": None,
    }
    lines = frame(
        "poverty_lines",
        [
            {"poverty_line": LINE, "method": "national", "value": 6000.0, "currency": "LCU"}
            | {"source": "decree <2024> & annex"},
        ],
    )
    overlap = frame(
        "programme_overlap",
        [
            {"programmes": name, "population_unit": "persons", "population": population}
            | {"share": share, "ci_low": share - 0.01, "ci_high": share + 0.01, "n_obs": n_obs}
            | {"suppressed": False}
            for name, population, share, n_obs in (
                ("none", 9.0e6, 0.837, 1674),
                ("dibao", 1.75e6, 0.163, 326),
            )
        ],
    )
    return ReportData(
        run=run,
        poverty_lines=lines,
        programme_overlap=overlap,
        input_files=files,
        validation_results=validation,
        targeting_errors=targeting,
        model_metrics=metrics,
        targeting_curves=frame("targeting_curves", curve),
        matching_indicators=matching,
        fiscal_indicators=fiscal,
        alerts=alerts,
    )


@pytest.fixture(scope="module")
def document(data: ReportData) -> str:
    """The rendered report of the hand-made run (rendered once: charts take ~0.5 s)."""
    return render_report(data)


def test_report_is_one_self_contained_document(document: str) -> None:
    assert document.startswith("<!DOCTYPE html>")
    assert document.count("<html") == 1 and document.rstrip().endswith("</html>")
    for external in ("http://", "https://", 'src="', "<script", "<link", "@import", "<img"):
        assert external not in document
    assert not re.search(r"url\((?!#)", document)  # only in-document SVG references
    assert document.count("<svg") == len(CHARTS)
    ids = re.findall(r'\bid="([^"]+)"', document)
    assert len(ids) == len(set(ids))  # charts share one page without id clashes


def test_every_section_and_chart_is_present_when_data_exists(document: str) -> None:
    for section_id in SECTIONS:
        assert f'<section id="{section_id}">' in document
    for chart in CHARTS:
        assert f'<figure id="chart-{chart}" data-chart="{chart}">' in document
    assert "Not available in this run" not in document
    assert "<title>Targeting audit: dibao &lt;pilot&gt; — run 20261127T120000Z-abc123</title>" in (
        document
    )


def test_empty_matching_says_not_available_and_the_rest_still_renders(data: ReportData) -> None:
    document = render_report(
        dataclasses.replace(data, matching_indicators=empty_frame("matching_indicators"))
    )
    matching = text_of(section_html(document, "matching"))
    assert matching == (
        "Resource matching Not available in this run: "
        "the run published no resource-matching indicators."
    )
    assert 'data-chart="coverage-by-quintile"' not in document
    assert 'data-chart="errors-by-region"' in document


def test_hostile_text_from_data_is_escaped(document: str) -> None:
    assert HOSTILE not in document
    assert "a&b <survey>" not in document and "dibao <pilot>" not in document
    assert ESCAPED_HOSTILE in section_html(document, "groups")
    assert "/data/a&amp;b &lt;survey&gt;.parquet" in section_html(document, "provenance")
    assert "[&lt;NA&gt;]" in section_html(document, "validation")
    assert "Ouest $2$" in document  # '$' is text, not matplotlib mathtext
    assert "decree &lt;2024&gt; &amp; annex" in section_html(document, "lines")


def test_headline_numbers_are_the_input_rates(document: str) -> None:
    headline = text_of(section_html(document, "headline"))
    assert "The programme dibao misses 56.2 % of the poor (line national; 95 % CI 54.3–58.1 %)" in (
        headline
    )
    assert "44.3 % of its beneficiaries are not poor (95 % CI 42.0–46.6 %)" in headline
    assert "It reaches 16.3 % of the population (95 % CI 15.6–17.0 %); 20.8 % are poor" in (
        headline
    )


def test_models_table_puts_programme_beside_each_model_and_rule(document: str) -> None:
    models = section_html(document, "models")
    rules, like = (
        [text_of(row) for row in re.findall(r"<tr>(.*?)</tr>", table, re.S)[1:]]
        for table in re.findall(r"<table.*?</table>", models, re.S)
    )
    assert rules == [
        "PMT (OLS) coverage equal to the poverty rate 0.824 20.8 % 46.5 % (44.2–48.7 %) 46.5 % "
        "2.04 1.4 pp",
        "PMT (OLS) predicted poor 0.824 11.7 % 65.5 % 38.9 % — 2.2 pp",
    ]
    assert like[0].startswith("dibao actual receipt — 16.3 % 56.2 % (54.3–58.1 %)")
    assert like[1] == "dibao PMT (OLS) 0.824 16.3 % 55.1 % (53.0–57.2 %) 42.1 % — 1.5 pp"
    assert "against the line national (the line the models learn)" in text_of(models)


def test_suppressed_cells_are_shown_as_suppressed(document: str) -> None:
    groups = section_html(document, "groups")
    tiny = next(row for row in re.findall(r"<tr>(.*?)</tr>", groups, re.S) if ">Tiny<" in row)
    assert tiny.count(SUPPRESSED_HTML) == 3  # coverage, exclusion and inclusion error
    assert "%" not in text_of(tiny)
    assert SUPPRESSED_HTML in section_html(document, "matching")  # Tiny's standard gap


def test_fiscal_section_finds_the_first_year_above_the_threshold(document: str) -> None:
    fiscal = section_html(document, "fiscal")
    rows = [text_of(row) for row in re.findall(r"<tr>(.*?)</tr>", fiscal, re.S)[1:]]
    assert rows == [
        "baseline not within the projection 0.79 % in 2035",
        "fast ageing 2030 1.03 % in 2035",
    ]


def test_fiscal_section_uses_published_crossing_years_and_lists_the_survey_year(
    data: ReportData,
) -> None:
    projection = data.fiscal_indicators.filter(pl.col("indicator") != "sustainability_threshold")
    published = frame(
        "fiscal_indicators",
        [
            {"programme": "dibao", "poverty_line": LINE} | row
            for row in (
                {"scenario": "baseline", "indicator": "threshold_crossed_year", "unit": "year"},
                {"scenario": "fast ageing", "indicator": "threshold_crossed_year", "unit": "year"}
                | {"value": 2035.0},
                {"scenario": "current", "year": 2025, "indicator": "leakage_share", "value": 0.31}
                | {"unit": "fraction"},
                {"scenario": "current", "year": 2025, "indicator": "spending", "value": 4.2e9}
                | {"unit": "currency/year"},
            )
        ],
    )
    fiscal = section_html(
        render_report(
            dataclasses.replace(data, fiscal_indicators=pl.concat([projection, published]))
        ),
        "fiscal",
    )
    rows = [text_of(row) for row in re.findall(r"<tr>(.*?)</tr>", fiscal, re.S)]
    assert "baseline not within the projection 0.79 % in 2035" in rows
    assert "fast ageing 2035 1.03 % in 2035" in rows  # as published, not recomputed
    assert "Share of spending on the non-poor 31.0 % share" in rows
    assert "Programme spending 4.20 billion LCU per year" in rows  # audit.poverty_lines currency
    assert "sustainability threshold (" not in fiscal  # no threshold value was published


def test_alerts_list_what_moved_since_the_previous_run(document: str) -> None:
    alerts = section_html(document, "alerts")
    rows = [text_of(row) for row in re.findall(r"<tr>(.*?)</tr>", alerts, re.S)[1:]]
    assert rows == [
        f"{label(TARGETING, 'exclusion_error')} programme dibao national Region "
        f"{ESCAPED_HOSTILE} 40.0 % 48.0 % +8.0 pp |change| &gt; 0.05"
    ]
    assert "20261026T120000Z-0f0f0f" in alerts


def test_a_run_with_no_published_tables_degrades_section_by_section() -> None:
    document = render_report(ReportData(run={"run_id": RUN_ID, "status": "failed"}))
    for section_id in ("headline", "models", "groups", "matching", "curves", "fiscal"):
        assert "Not available in this run:" in section_html(document, section_id)
    assert "<figure" not in document
    assert "This run did not succeed (status: failed)" in document


def test_rates_are_percentages_with_one_decimal() -> None:
    assert pct(0.562) == "56.2 %"
    assert pct(0.0) == "0.0 %"
    assert pct(None) == "—"


def sheet_rows(path: Path) -> dict[str, list[str]]:
    """Sheet name -> the XML of its <row> elements, read straight from the .xlsx zip."""
    with zipfile.ZipFile(path) as archive:
        workbook = archive.read("xl/workbook.xml").decode()
        relations = archive.read("xl/_rels/workbook.xml.rels").decode()
        targets = dict(re.findall(r'Id="(rId\d+)"[^>]*Target="([^"]+)"', relations))
        sheets = re.findall(r'<sheet name="([^"]+)" sheetId="\d+" r:id="(rId\d+)"', workbook)
        return {
            name: re.findall(r"<row .*?</row>", archive.read(f"xl/{targets[rid]}").decode())
            for name, rid in sheets
        }


def test_excel_has_one_sheet_per_table_with_every_row(data: ReportData, tmp_path: Path) -> None:
    path = tmp_path / "tables.xlsx"
    write_standard_tables(data, path)
    rows = sheet_rows(path)
    assert list(rows)[-len(SHEETS) :] == list(SHEETS)  # the data sheets, after the cross-tabs
    expected = {name: getattr(data, name).height for name in SHEETS if name != "runs"}
    assert {name: len(rows[name]) - 1 for name in SHEETS} == expected | {"runs": 1}
    first_data_sheet = list(rows).index(SHEETS[0]) + 1  # xlsxwriter numbers sheet parts in order
    with zipfile.ZipFile(path) as archive:
        strings = archive.read("xl/sharedStrings.xml").decode()
        styles = archive.read("xl/styles.xml").decode()
        first_sheet = archive.read(f"xl/worksheets/sheet{first_data_sheet}.xml").decode()
    # readable headers: the catalogue's labels
    assert f"<t>{label(TARGETING, 'exclusion_error')}, 95% CI low</t>" in strings
    assert '<t>&lt;Nord &amp; "Sud"&gt;</t>' in strings  # the hostile name, as text
    assert 'formatCode="0.0%"' in styles
    assert 'state="frozen"' in first_sheet


def test_load_reads_one_run_and_notes_what_is_missing() -> None:
    con = duckdb.connect()
    con.execute("CREATE SCHEMA audit")
    con.execute("CREATE TABLE audit.runs (run_id VARCHAR, status VARCHAR)")
    con.execute("INSERT INTO audit.runs VALUES ('a', 'succeeded'), ('b', 'failed')")
    con.execute("CREATE TABLE audit.model_metrics (run_id VARCHAR, model VARCHAR, auc DOUBLE)")
    con.execute("INSERT INTO audit.model_metrics VALUES ('a', 'ols', 0.8), ('b', 'rf', 0.7)")
    con.execute("CREATE TABLE audit.run_notes (run_id VARCHAR, stage VARCHAR, note VARCHAR)")
    con.execute("INSERT INTO audit.run_notes VALUES ('a', 'fiscal', 'no fiscal.gdp')")
    loaded = load_report_data(con, "a")
    assert loaded.run == {"run_id": "a", "status": "succeeded"}
    assert loaded.model_metrics.select("run_id", "model", "auc").rows() == [("a", "ols", 0.8)]
    assert loaded.model_metrics["cv_scheme"].to_list() == [None]  # older warehouse: NULL
    assert loaded.targeting_errors.height == 0  # absent table: empty, with the contract columns
    assert "exclusion_error_ci_low" in loaded.targeting_errors.columns
    assert loaded.notes[0] == "fiscal: no fiscal.gdp"
    assert "Table audit.targeting_errors does not exist in this warehouse." in loaded.notes
    with pytest.raises(LookupError, match=r"'c' is not in audit\.runs"):
        load_report_data(con, "c")
    assert "Not available in this run" in render_report(loaded)


def test_report_from_a_real_audit_run(audit_run: AuditRun, tmp_path: Path) -> None:
    from transforms.io.warehouse import connect

    with connect(audit_run.warehouse, read_only=True) as con:
        data = load_report_data(con, audit_run.run_id)
        assert data.targeting_errors["run_id"].unique().to_list() == [audit_run.run_id]
        # the first programme and line as configured: the first published (insertion order)
        programme, line, national = con.sql(
            "SELECT programme, poverty_line, exclusion_error FROM audit.targeting_errors "
            "WHERE method = 'program' AND group_type = 'all' ORDER BY rowid LIMIT 1"
        ).fetchall()[0]
        metrics = con.sql("SELECT count(*) FROM audit.model_metrics").fetchall()[0][0]
        out_of_fold = con.sql(
            "SELECT count(*) FROM audit.model_metrics WHERE sample = 'out_of_fold'"
        ).fetchall()[0][0]
        models_fitted = con.sql("SELECT count(DISTINCT model) FROM audit.model_metrics").fetchall()[
            0
        ][0]
        programmes = con.sql(
            "SELECT count(DISTINCT programme) FROM audit.targeting_errors WHERE method = 'program'"
        ).fetchall()[0][0]
        lines = con.sql("SELECT count(*) FROM audit.poverty_lines").fetchall()[0][0]
        with pytest.raises(LookupError):
            load_report_data(con, "no-such-run")
    document = render_report(data)
    headline = text_of(section_html(document, "headline"))
    assert (
        f"The programme {programme} misses {national * 100:.1f} % of the poor (line {line}; "
        in (headline)
    )
    models = section_html(document, "models")
    # three tables (three headers): every model x rule out of fold and one row per programme
    # (with 'any'), then each model's AUC out of fold beside in sample
    assert models.count("<tr>") == 3 + out_of_fold + programmes + models_fitted
    assert "AUC in sample" in models
    assert f"<strong>{line}</strong>" in section_html(document, "lines")
    for chart in ("errors-by-region", "targeting-curves"):
        assert f'data-chart="{chart}"' in document
    assert audit_run.run_id in section_html(document, "provenance")
    write_standard_tables(data, tmp_path / "tables.xlsx")
    rows = sheet_rows(tmp_path / "tables.xlsx")
    assert len(rows["model_metrics"]) - 1 == metrics
    assert len(rows["poverty_lines"]) - 1 == lines > 0
