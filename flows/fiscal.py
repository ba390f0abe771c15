"""Fiscal feedback: spending, leakage, effectiveness, budgets and the ageing projection,
computed where the run's tasks run (a Dask worker on a cluster) and published by the flow."""

from __future__ import annotations

import polars as pl
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows.lifecycle import RunContext, staged_table, write_tables
from flows.runners import execution_place, run_one
from transforms import tables
from transforms.config import AuditConfig
from transforms.pmt_evaluation import ModelScores


@task(name="fiscal-feedback", task_run_name="fiscal-feedback", cache_policy=NO_CACHE)
def fiscal_tables(
    config: AuditConfig,
    analysis_path: str,
    projection: pl.DataFrame | None,
    scores: list[ModelScores],
    run_id: str,
) -> tables.Published:
    """fiscal_indicators (and the projection's tables) from the run's analysis file, the staged
    projection and the models' scores."""
    get_run_logger().info("Fiscal feedback computed in %s", execution_place())
    return tables.fiscal(
        pl.read_parquet(analysis_path),
        projection,
        tables.measures(config.programmes, config.poverty_lines),
        programmes=config.programmes,
        scores=scores,
        settings=config.fiscal,
        unit=config.targeting.unit,
        run_id=run_id,
    )


def measure_fiscal(config: AuditConfig, run: RunContext, scores: list[ModelScores]) -> int:
    """Compute fiscal_indicators where the tasks run, publish them here."""
    projection = staged_table(run, "stg_projection")  # read here: workers never open staging
    published = run_one(
        fiscal_tables, config, str(run.analysis_path), projection, scores, run.run_id
    )
    write_tables(run, published, stage="fiscal")
    return published.tables["fiscal_indicators"].height
