"""The Data Docs: static validation pages that open offline and show every suite and check."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import polars as pl
from markupsafe import escape

from tests.audit_run import AuditRun
from transforms.io.warehouse import connect
from transforms.report.definitions import DATA_DOCS
from transforms.report.validation_docs import render_data_docs, suite_page

LINK = re.compile(r"""(?:href|src)\s*=\s*["']([^"']*)["']""", re.IGNORECASE)
REMOTE = re.compile(r"""https?:|(?:href|src)\s*=\s*["']//|url\(|@import""", re.IGNORECASE)


def row(table: str, expectation: str, **values: Any) -> dict[str, Any]:
    """One validation row (audit.validation_results) that held unless said otherwise."""
    return {
        "table_name": table,
        "expectation": expectation,
        "column_name": None,
        "severity": "error",
        "success": True,
        "expected": None,
        "observed": "0",
    } | values


ROWS = [
    row(
        "stg_households",
        "expect_column_values_to_be_between",
        column_name="hh_size",
        expected="every value of hh_size between 1 and 30",
        observed="0 unexpected (0.00 %), e.g. []",
    ),
    row(
        "weight_check",
        "expect_column_values_to_be_between",
        column_name="weight_to_median",
        severity="warning",
        success=False,
        expected="every value of weight_to_median at most 1000",
        observed="2 unexpected (0.10 %), e.g. [1200.5, 4000.0]; rows 17, 4",
    ),
    row(
        "analysis",
        "expect_psu_count_to_be_at_least_folds",
        column_name="psu",
        success=False,
        expected="at least 5 PSUs (models.folds)",
        observed="hh.csv: 3 PSUs <b>not bold</b>",
    ),
]


def links(html: str) -> list[str]:
    """Every href and src of a page."""
    return LINK.findall(html)


def test_every_suite_has_a_page_the_index_links_to() -> None:
    pages = render_data_docs(ROWS, audit_name="Sample & co", run_id="R1")
    suites = ["stg_households", "weight_check", "analysis"]  # the project's own checks last
    assert set(pages) == {"index.html", *(suite_page(table) for table in suites)}
    index = pages["index.html"]
    assert links(index)[:3] == [f"suites/{table}.html" for table in suites]
    assert set(links(index)) == {f"suites/{table}.html" for table in suites}
    assert "1 of 3 checks held. Failed: 1 error (an error stops the run) and 1 warning" in index
    assert "Sample &amp; co" in index  # data is escaped


def test_a_suite_page_shows_each_check_with_threshold_observed_and_outcome() -> None:
    pages = render_data_docs(ROWS, audit_name="sample", run_id="R1")
    weights = pages["suites/weight_check.html"]
    assert "every value of weight_to_median at most 1000" in weights
    assert "2 unexpected (0.10 %), e.g. [1200.5, 4000.0]; rows 17, 4" in weights
    assert "✗ failed" in weights and "warning" in weights
    analysis = pages["suites/analysis.html"]
    assert "PSU count to be at least folds" in analysis
    assert "at least 5 PSUs (models.folds)" in analysis
    assert "&lt;b&gt;not bold&lt;/b&gt;" in analysis  # data is text, never markup
    assert links(analysis) == ["../index.html"]


def test_a_row_without_a_recorded_threshold_says_so() -> None:
    older = [row("stg_households", "expect_table_row_count_to_be_between")]
    page = render_data_docs(older, audit_name="a", run_id="R0")["suites/stg_households.html"]
    assert "not recorded by this run" in page


def test_no_page_references_the_network() -> None:
    for name, html in render_data_docs(ROWS, audit_name="a", run_id="R1").items():
        assert not REMOTE.search(html), name


def assert_offline_docs_of(output_dir: Path, tables: set[str]) -> None:
    """The run's Data Docs: small static pages, no remote resource, every suite linked from
    the index to a page that exists."""
    docs = output_dir / "data_docs"
    files = [path for path in docs.rglob("*") if path.is_file()]
    assert {path.suffix for path in files} == {".html"}  # no fonts, images or scripts
    assert sum(path.stat().st_size for path in files) < 200_000  # GX's copied 4.4 MB per run
    for path in files:
        html = path.read_text(encoding="utf-8")
        assert not REMOTE.search(html), path
        for target in links(html):
            assert (path.parent / target).is_file(), (path, target)
    linked = set(links((docs / "index.html").read_text(encoding="utf-8")))
    assert {suite_page(table) for table in tables} <= linked


def test_a_run_writes_offline_data_docs_showing_every_suite(audit_run: AuditRun) -> None:
    with connect(audit_run.warehouse, read_only=True) as con:
        results = con.sql(
            "SELECT * FROM audit.validation_results WHERE run_id = ?", params=[audit_run.run_id]
        ).pl()
    tables = set(results["table_name"])
    assert {"stg_households", "analysis"} <= tables  # GX suites and the project's own checks
    assert results["expected"].null_count() == 0  # every check records its threshold
    assert_offline_docs_of(audit_run.output_dir, tables)
    for table in tables:
        page = (audit_run.output_dir / "data_docs" / suite_page(table)).read_text("utf-8")
        for check in results.filter(pl.col("table_name") == table).iter_rows(named=True):
            assert str(escape(check["expected"])) in page


def test_a_report_written_anew_links_to_data_docs_beside_it(
    audit_run: AuditRun, tmp_path: Path
) -> None:
    from flows.report import write_report

    html, _, data = write_report(audit_run.warehouse, audit_run.run_id, tmp_path)
    assert f'href="{DATA_DOCS}"' in html.read_text(encoding="utf-8")
    assert_offline_docs_of(tmp_path, set(data.validation_results["table_name"]))
    written = audit_run.output_dir / "data_docs"
    for page in written.rglob("*.html"):  # the same pages as the run's
        again = tmp_path / "data_docs" / page.relative_to(written)
        assert again.read_text("utf-8") == page.read_text("utf-8"), page.name
