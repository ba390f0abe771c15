"""The audit flow: one run from raw files to a published warehouse (a table of contents)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import polars as pl
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows import progress
from flows.alerts import raise_alerts
from flows.analysis import build_from_staging
from flows.extensions import run_extension_stages
from flows.fiscal import measure_fiscal
from flows.ingest import FileSummary, ingest_inputs
from flows.lifecycle import (
    VALIDATION_SCRATCH,
    RunContext,
    discard_staging,
    finish_run,
    start_run,
    write_tables,
)
from flows.matching import measure_matching
from flows.observability import (
    audit_tags,
    emit_audit_event,
    flow_run_name,
    on_run_completed,
    on_run_failed,
    tag_flow_run,
)
from flows.pmt import evaluate_models
from flows.programme import measure_programme_targeting
from flows.report import publish_report
from flows.runners import subflow_task_runner, thread_runner
from flows.validate import quarantine_explanations, validate_staging
from models.pmt import configured_models
from transforms import tables
from transforms.config import AuditConfig, config_sha256, load_config, pseudonym_key
from transforms.expectations import ValidationFailed, raise_on_errors
from transforms.io.analysis_file import write_analysis
from transforms.io.hooks import load_user_code
from transforms.io.warehouse import exclusive_lock, output_lock
from transforms.report.definitions import DATA_DOCS


@task(name="prepare-analysis", task_run_name="prepare-analysis", cache_policy=NO_CACHE)
def prepare_analysis(config: AuditConfig, run: RunContext) -> tuple[int, pl.DataFrame]:
    """Build the household analysis frame (welfare, programmes, lines, quantiles, design) as the
    run's analysis.parquet, which every later stage reads; publish the lines and the overlap of
    programmes."""
    analysis, need = build_from_staging(config, run)
    get_run_logger().info(
        "Analysis of %d households: about %.1f GiB at peak", analysis.frame.height, need / 2**30
    )
    write_analysis(analysis.frame, run.analysis_path)
    lines = tables.poverty_lines(
        analysis.lines, currency=config.welfare.currency, run_id=run.run_id
    )
    overlap = tables.programme_overlap(
        analysis.frame,
        config.programmes,
        targeting=config.targeting,
        disclosure=config.disclosure,
        survey=config.design,
        run_id=run.run_id,
    )
    published = tables.Published({"poverty_lines": lines, **overlap.tables}, analysis.notes)
    write_tables(run, published, stage="analysis")
    return analysis.frame.height, lines


def summary_rows(files: list[FileSummary]) -> list[dict[str, object]]:
    """One row per input file for the CLI summary and the run artifact."""
    return [
        {
            "file": f.role,
            "rows_read": f.rows_read,
            "loaded": f.rows_loaded,
            "quarantined": f.rows_quarantined,
        }
        for f in files
    ]


# persist_result=False: Prefect would pickle results and failures into $PREFECT_HOME/storage
@flow(
    name="welfare-audit",
    flow_run_name=flow_run_name,
    task_runner=thread_runner(),
    persist_result=False,
    on_completion=[on_run_completed],
    on_failure=[on_run_failed],
)
def audit(
    config_path: str, warehouse: str | None = None, retrain: bool = False
) -> dict[str, object]:
    """Run one audit: ingest, analyse, publish. Returns a small summary. ``retrain`` trains
    every model anew instead of reusing the training cache."""
    logger = get_run_logger()
    config = load_config(Path(config_path))
    tag_flow_run(audit_tags(config.name, config_sha256(Path(config_path))))
    user_code = load_user_code(config)  # the audit's own code, imported once, before any work
    if config.disclosure.publish_household_scores:
        pseudonym_key()  # fail before any work when the key is missing
    published = Path(warehouse).resolve() if warehouse else config.output.warehouse
    timeout = config.runtime.stage_timeout_seconds
    with exclusive_lock(published), output_lock(config.output.directory):
        run = start_run(config, Path(config_path), published)
        try:
            with progress.stage("ingest", total=input_files(config), unit="files") as done:
                files = ingest_inputs.with_options(timeout_seconds=timeout)(config, run, user_code)
                done.append(f"{sum(f.rows_loaded for f in files):,} rows loaded")
            with progress.stage("validate"):
                checks = validate_staging.with_options(timeout_seconds=timeout)(config, run, files)
                explanations = quarantine_explanations(
                    files, config.validation.max_quarantine_share
                )
                raise_on_errors(checks, [*explanations, *data_docs_pointer(run.output_dir)])
            with progress.stage("analysis") as done:
                households, lines = prepare_analysis(config, run)
                programme = measure_programme_targeting(config, run)
                done.append(f"{households:,} households")
            runner = subflow_task_runner()  # models train where the audit's tasks run
            evaluate = evaluate_models.with_options(timeout_seconds=timeout)
            evaluate = evaluate.with_options(task_runner=runner) if runner else evaluate
            with progress.stage(
                "models", total=len(configured_models(config.models)), unit="models"
            ):
                models, trained = evaluate(config, run, retrain)
            with progress.stage("matching"):
                measure_matching(config, run)
            with progress.stage("fiscal"):
                measure_fiscal(config, run, trained)
            if user_code.stages:
                with progress.stage("extensions"):
                    run_extension_stages(config, run, str(run.analysis_path), user_code.stages)
            with progress.stage("alerts") as done:
                alerts = raise_alerts(config, run)
                done.append(f"{len(alerts)} raised")
        except ValidationFailed as error:
            emit_audit_event(
                "validation.failed", config.name, {"run_id": run.run_id, "message": str(error)}
            )
            finish_run(run, status="failed", error=f"{type(error).__name__}: {error}")
            raise
        except BaseException as error:
            finish_run(run, status="failed", error=f"{type(error).__name__}: {error}")
            raise
        with progress.stage("publish"):
            finish_run(run, status="succeeded")
    with progress.stage("report"):
        report = publish_report.with_options(timeout_seconds=timeout)(
            published, run.run_id, run.output_dir, config.name
        )
    logger.info("Audit %s published to %s", run.run_id, published)
    return {
        "run_id": run.run_id,
        "warehouse": str(published),
        "output_dir": str(run.output_dir),
        "report": report,
        "households": households,
        "files": summary_rows(files),
        "lines": line_rows(lines),
        "headline": headline_rows(programme),
        "models": models,
        "alerts": alerts,
    }


def data_docs_pointer(output_dir: Path) -> list[str]:
    """Where a failed validation's checks are shown in detail, when the Data Docs exist."""
    index = output_dir / DATA_DOCS
    return [f"Every check in detail (Data Docs, open offline): {index}"] if index.is_file() else []


def input_files(config: AuditConfig) -> int:
    """How many input files the config names."""
    inputs = config.inputs
    optional = (inputs.regions, inputs.members, inputs.projection)
    return 1 + sum(spec is not None for spec in optional)


@flow(name="welfare-audit-validate", persist_result=False)
def check_inputs(config_path: str) -> dict[str, Any]:
    """Ingest and validate only: nothing is published; the scratch warehouse is discarded."""
    config = load_config(Path(config_path))
    user_code = load_user_code(config)
    output = config.output.directory
    with (
        output_lock(output),  # the sweep in start_run must not touch a live run's copies
        tempfile.TemporaryDirectory(prefix=VALIDATION_SCRATCH, dir=output) as scratch,
    ):
        run = start_run(config, Path(config_path), Path(scratch) / "scratch.duckdb")
        try:
            files = ingest_inputs(config, run, user_code)
            rows = validate_staging(config, run, files)
            with run.connect() as con:
                quarantine = con.sql(
                    """SELECT source_file, column_name, reason, count(DISTINCT source_row) AS rows
                       FROM audit.quarantine GROUP BY ALL ORDER BY rows DESC"""
                ).pl()
        finally:
            discard_staging(run)  # raw identifiers never outlive the check, even a failed one
    return {
        "files": summary_rows(files),
        "quarantine": quarantine.to_dicts(),
        "validation": rows,
        "data_docs": str(run.output_dir / DATA_DOCS),
    }


def line_rows(lines: pl.DataFrame) -> list[dict[str, object]]:
    """Each poverty line once, in the configured order, with its value or its regional range,
    for the CLI."""
    summary = lines.group_by("poverty_line", maintain_order=True).agg(
        pl.col("method").first(),
        pl.col("unit").first(),
        pl.col("currency").first(),
        pl.col("value").min().alias("lowest"),
        pl.col("value").max().alias("highest"),
        pl.col("region").drop_nulls().n_unique().alias("regions"),
    )
    return summary.to_dicts()


def headline_rows(targeting: pl.DataFrame | None) -> list[dict[str, object]]:
    """National rates with 95 % CIs, one row per programme and line, for the CLI."""
    if targeting is None:
        return []
    rows = []
    for row in targeting.filter(pl.col("group_type") == "all").iter_rows(named=True):
        rows.append(
            {
                "programme": row["programme"],
                "poverty_line": row["poverty_line"],
                **{
                    rate: (row[rate], row[f"{rate}_ci_low"], row[f"{rate}_ci_high"])
                    for rate in ("poverty_rate", "coverage", "exclusion_error", "inclusion_error")
                },
            }
        )
    return rows
