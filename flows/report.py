"""Report task: the run's HTML report, standard tables for Excel, and Prefect artifacts."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from prefect import get_run_logger, task
from prefect.artifacts import (
    create_link_artifact,
    create_markdown_artifact,
    create_table_artifact,
)
from prefect.cache_policies import NO_CACHE

from flows.observability import artifact_key
from transforms.io.warehouse import connect
from transforms.report.data import ReportData, load_report_data
from transforms.report.html import render_report, summary_markdown
from transforms.report.validation_docs import write_data_docs
from transforms.report.workbook import write_standard_tables


def write_report(warehouse: Path, run_id: str, directory: Path) -> tuple[Path, Path, ReportData]:
    """Render report.html, standard_tables.xlsx and the Data Docs its link points to (from
    audit.validation_results, so a report written anew links to pages beside it) for one run;
    also return the data shown."""
    with connect(warehouse, read_only=True) as con:
        data = load_report_data(con, run_id)
    directory.mkdir(parents=True, exist_ok=True)
    html = directory / "report.html"
    html.write_text(render_report(data), encoding="utf-8")
    workbook = directory / "standard_tables.xlsx"
    write_standard_tables(data, workbook)
    if data.validation_results.height:
        checks = data.validation_results.to_dicts()
        name = str(data.run.get("config_name") or "")
        write_data_docs(directory, checks, audit_name=name, run_id=run_id)
    return html, workbook, data


@task(name="report", task_run_name="report", cache_policy=NO_CACHE)
def publish_report(warehouse: Path, run_id: str, directory: Path, audit_name: str) -> str:
    """Write the report beside the run's outputs and attach a summary, the headline table and a
    link to the report to the flow run (artifact keys per audit, so audits do not mix)."""
    html, workbook, data = write_report(warehouse, run_id, directory)
    create_markdown_artifact(
        key=artifact_key(audit_name, "summary"),
        markdown=summary_markdown(data, report_path=str(html)),
    )
    national = data.targeting_errors.filter(pl.col("group_type") == "all")
    columns = ["method", "decision_rule", "programme", "poverty_line"]
    columns += ["coverage", "exclusion_error", "inclusion_error"]
    create_table_artifact(
        key=artifact_key(audit_name, "targeting-headline"),
        table=national.select(columns).to_dicts(),
    )
    create_link_artifact(
        key=artifact_key(audit_name, "report"),
        link=html.resolve().as_uri(),
        link_text=f"Report of run {run_id}",
        description=f"The HTML report; the standard tables are in {workbook.resolve()}",
    )
    get_run_logger().info("Report: %s; standard tables: %s", html, workbook)
    return str(html)
