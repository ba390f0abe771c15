"""Validation task: run the code-defined expectations with GX inside DuckDB, record, and gate."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows.analysis import build_from_staging
from flows.gx_duckdb import patch_gx_for_duckdb
from flows.ingest import FileSummary
from flows.lifecycle import RunContext
from transforms.config import AuditConfig
from transforms.contract import publishable
from transforms.expectations import (
    Expectation,
    analysis_checks,
    expectations_for,
    helper_tables,
    helper_tables_sql,
    over_quarantine_ceiling,
)
from transforms.household import unit_weight_column
from transforms.io import warehouse
from transforms.report.validation_docs import write_data_docs


def stage_file_counts(config: AuditConfig, run: RunContext, files: list[FileSummary]) -> set[str]:
    """Write per-file counts and the checks' helper tables to staging; return the names of the
    staged and helper tables."""
    counts = pl.DataFrame(
        {
            "role": [f.role for f in files],
            "rows_read": [f.rows_read for f in files],
            "rows_quarantined": [f.rows_quarantined for f in files],
            "quarantined_share": [
                f.rows_quarantined / f.rows_read if f.rows_read else 0.0 for f in files
            ],
        }
    )
    with run.connect_staging() as staging:
        staging.register("_counts", counts)
        staging.execute("CREATE OR REPLACE TABLE file_counts AS SELECT * FROM _counts")
        staging.unregister("_counts")
        tables = {row[0] for row in staging.sql("SHOW TABLES").fetchall()}
        helpers = helper_tables(
            config.inputs.households, config.inputs.regions, tables, config.programmes
        )
        for statement in helper_tables_sql(helpers):
            staging.execute(statement)
        return tables | {"file_counts", *helpers}


def observed_text(result: dict[str, Any]) -> str:
    """A short text of what GX observed: counts, a few unexpected (or missing) values, or the
    observed value (lists sorted, so identical runs record identical text)."""
    if result.get("unexpected_count") is not None:
        sample = sorted(result.get("partial_unexpected_list") or [], key=str)
        shown = json.dumps(sample[:5], default=str)
        share = result.get("unexpected_percent") or 0.0
        return f"{result['unexpected_count']} unexpected ({share:.2f} %), e.g. {shown}"
    if result.get("missing_count") is not None:  # a set the column must contain
        missing = sorted(result.get("partial_missing_list") or [], key=str)
        example = f", e.g. {json.dumps(missing[:5], default=str)}" if missing else ""
        return f"{result['missing_count']} of the expected values missing{example}"
    observed = result.get("observed_value")
    if isinstance(observed, list):  # GX lists distinct values in no fixed order
        observed = sorted(observed, key=str)
    return json.dumps(observed, default=str)[:500]


def load_great_expectations() -> None:
    """Import Great Expectations now (about 2 s; the CLI does it while Prefect's temporary
    API starts, instead of in the validation stage)."""
    import great_expectations
    import great_expectations.expectations  # noqa: F401


def run_gx(staging: Path, checks: list[Expectation]) -> list[dict[str, Any]]:
    """Run the expectations with GX against the staging DuckDB; return one row per expectation
    (the Data Docs are the project's own pages, written from these rows: no GX docs site)."""
    import great_expectations as gx
    import great_expectations.expectations as gxe
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )
    from sqlalchemy.pool import StaticPool

    patch_gx_for_duckdb()
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    # in-memory stores and no docs site: GX writes nothing, here or in a temporary folder
    project = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        data_docs_sites={},
        analytics_enabled=False,
    )
    context = gx.get_context(project_config=project, mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    # one connection for every query (StaticPool): a new connection per query (NullPool) cost
    # about 70 % of this function on the sample; closed below, so the staging file is free again
    source = context.data_sources.add_sql(  # type: ignore[call-arg]  # kwargs: SQLAlchemy engine
        name="staging", connection_string=f"duckdb:///{staging}", kwargs={"poolclass": StaticPool}
    )
    definitions = []
    for table_name in sorted({check.table for check in checks}):
        batch = source.add_table_asset(
            name=table_name, table_name=table_name
        ).add_batch_definition_whole_table("all")
        expectations = [
            getattr(gxe, check.kind)(
                **check.kwargs,
                severity="critical" if check.severity == "error" else "warning",
                meta={"expected": check.expected},
            )
            for check in checks
            if check.table == table_name
        ]
        suite = context.suites.add(gx.ExpectationSuite(name=table_name, expectations=expectations))
        definitions.append(
            context.validation_definitions.add(
                gx.ValidationDefinition(name=table_name, data=batch, suite=suite)
            )
        )
    # no actions: GX's UpdateDataDocsAction rebuilt its whole site once per suite (about
    # 70 % of this function's time) into pages that need CDNs to render
    checkpoint = context.checkpoints.add(
        gx.Checkpoint(name="audit", validation_definitions=definitions, result_format="SUMMARY")
    )
    try:
        results = checkpoint.run().run_results.values()
    finally:
        source.get_execution_engine().engine.dispose()
        source.get_engine().dispose()
    rows = []
    for validation in results:
        for result in validation.results:
            expectation = result.expectation_config
            assert expectation is not None
            kwargs = expectation.kwargs
            column = (
                kwargs.get("column")
                or ",".join(
                    kwargs.get("column_list")
                    or [c for c in (kwargs.get("column_A"), kwargs.get("column_B")) if c]
                )
                or None
            )
            raised = (
                result.exception_info.get("raised_exception") if result.exception_info else False
            )
            rows.append(
                {
                    "table_name": validation.suite_name,  # one suite per table, named so
                    "expectation": expectation.type,
                    "column_name": column,
                    "severity": "error"
                    if "CRITICAL" in str(expectation.severity).upper()
                    else "warning",
                    "success": bool(result.success),
                    "expected": (expectation.meta or {}).get("expected"),
                    "observed": f"error: {result.exception_info.get('exception_message')}"
                    if raised
                    else observed_text(result.result),
                }
            )
    return rows


def name_offending_rows(
    run: RunContext, checks: list[Expectation], rows: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Add the source rows that break a failed check, where the check says how to find them."""
    queries = {(c.table, c.column): c.offending_rows_sql for c in checks if c.offending_rows_sql}
    named = []
    for row in rows:
        sql = queries.get((row["table_name"], row["column_name"]))
        if sql and not row["success"]:
            with run.connect_staging(read_only=True) as staging:
                found = [str(r[0]) for r in staging.sql(sql).fetchall()]
            row = {**row, "observed": f"{row['observed']}; rows {', '.join(found)}"}
        named.append(row)
    return named


def analysis_for_checks(config: AuditConfig, run: RunContext) -> pl.DataFrame:
    """The analysis frame as the run builds it after validation (flows.analysis.build_analysis),
    without the proxies and derived proxies, which the analysis checks do not read."""
    analysis, _ = build_from_staging(config, run, derived=False)
    return analysis.frame


def check_analysis(config: AuditConfig, run: RunContext) -> list[dict[str, Any]]:
    """What the run would fail on after validation, checked now: PSUs for the folds, each
    line's poverty rate, each programme's recipients (transforms.expectations)."""
    trains = bool(config.models.enabled or config.models.custom)
    return analysis_checks(
        analysis_for_checks(config, run),
        households=config.inputs.households,
        members=config.inputs.members,
        programmes=config.programmes,
        lines=config.poverty_lines,
        weight=unit_weight_column(config.targeting.unit),
        folds=config.models.folds if trains else None,
    )


PREVIOUS_HOUSEHOLDS_SQL = """
-- households loaded by the last successful run of the same audit (by name)
SELECT f.rows_loaded
FROM audit.input_files AS f
JOIN audit.runs AS r USING (run_id)
WHERE r.status = 'succeeded' AND r.config_name = ? AND f.role = 'households'
ORDER BY r.finished_at DESC
LIMIT 1
"""


def previous_households(run: RunContext, audit_name: str) -> int | None:
    """Households the previous successful run of this audit loaded (None for a first run)."""
    with run.connect() as con:
        rows = con.execute(PREVIOUS_HOUSEHOLDS_SQL, [audit_name]).fetchall()
    return int(rows[0][0]) if rows and rows[0][0] is not None else None


def quarantine_explanations(files: Sequence[FileSummary], ceiling: float) -> list[str]:
    """For each file above the quarantine ceiling, what it quarantined and what to do."""
    found = (
        over_quarantine_ceiling(f.path, f.rows_read, f.rows_quarantined, f.reasons, ceiling)
        for f in files
    )
    return [explanation for explanation in found if explanation is not None]


@task(name="validate", task_run_name="validate", cache_policy=NO_CACHE)
def validate_staging(
    config: AuditConfig, run: RunContext, files: list[FileSummary]
) -> list[dict[str, Any]]:
    """Validate every staging table with GX and record the results (see raise_on_errors)."""
    logger = get_run_logger()
    staged = stage_file_counts(config, run, files)
    regions = None
    if "stg_regions" in staged and config.inputs.households.columns.region is not None:
        with run.connect_staging(read_only=True) as staging:
            regions = [row[0] for row in staging.sql("SELECT region FROM stg_regions").fetchall()]
    checks = expectations_for(
        config.inputs.households,
        validation=config.validation,
        staged=staged,
        regions=regions,
        previous_households=previous_households(run, config.name),
        programmes=config.programmes,
    )
    rows = name_offending_rows(run, checks, run_gx(run.staging, checks))
    try:
        rows += check_analysis(config, run)
    finally:  # the pages show what was checked, even when building the analysis frame failed
        write_data_docs(run.output_dir, rows, audit_name=config.name, run_id=run.run_id)
    with run.connect() as con:
        warehouse.insert_frame(
            con,
            "validation_results",
            publishable(
                "validation_results",
                pl.DataFrame(rows, infer_schema_length=None),
                run_id=run.run_id,
            ),
        )
    for row in rows:
        if not row["success"] and row["severity"] == "warning":
            logger.warning(
                "Validation warning: %s.%s %s: %s",
                row["table_name"],
                row["column_name"],
                row["expectation"],
                row["observed"],
            )
    logger.info(
        "Validation: %d expectations, %d warnings", len(rows), sum(not r["success"] for r in rows)
    )
    return rows
