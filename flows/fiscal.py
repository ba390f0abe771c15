"""Fiscal feedback: spending, leakage, effectiveness, budgets and the ageing projection,
computed where the run's tasks run (a Dask worker on a cluster) and published by the flow."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows.analysis import read_for
from flows.lifecycle import RunContext, staged_table, write_tables
from flows.runners import execution_place, run_one
from transforms import tables
from transforms.config import AuditConfig
from transforms.io.scores import read_model_scores


@task(name="fiscal-feedback", task_run_name="fiscal-feedback", cache_policy=NO_CACHE)
def fiscal_tables(
    config: AuditConfig,
    analysis_path: str,
    projection: pl.DataFrame | None,
    scores_path: str,
    models: list[str],
    run_id: str,
) -> tables.Published:
    """fiscal_indicators (and the projection's tables) from the run's analysis file, the staged
    projection and the scores file of the models."""
    get_run_logger().info("Fiscal feedback computed in %s", execution_place())
    scores = read_model_scores(Path(scores_path), models)
    return tables.fiscal(
        read_for(analysis_path, config, tables.fiscal_columns),
        projection,
        tables.measures(config.programmes, config.poverty_lines),
        programmes=config.programmes,
        scores=scores,
        settings=config.fiscal,
        unit=config.targeting.unit,
        run_id=run_id,
    )


def measure_fiscal(config: AuditConfig, run: RunContext, models: list[str]) -> int:
    """Compute fiscal_indicators where the tasks run (``models``: their scores are in the run's
    scores file), publish them here."""
    projection = staged_table(run, "stg_projection")  # read here: workers never open staging
    inputs = (str(run.analysis_path), projection, str(run.scores_path), models)
    published = run_one(fiscal_tables, config, *inputs, run.run_id)
    write_tables(run, published, stage="fiscal")
    return published.tables["fiscal_indicators"].height
