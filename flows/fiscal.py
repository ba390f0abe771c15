"""Fiscal feedback task: spending, leakage, effectiveness, budgets and the ageing projection."""

from __future__ import annotations

import polars as pl
from prefect import task
from prefect.cache_policies import NO_CACHE

from flows.lifecycle import RunContext, staged_table, write_tables
from transforms import tables
from transforms.config import AuditConfig
from transforms.pmt_evaluation import ModelScores


@task(name="fiscal-feedback", task_run_name="fiscal-feedback", cache_policy=NO_CACHE)
def measure_fiscal(config: AuditConfig, run: RunContext, scores: list[ModelScores]) -> int:
    """Read the analysis frame and the projection, compute fiscal_indicators, publish them."""
    published = tables.fiscal(
        pl.read_parquet(run.analysis_path),
        staged_table(run, "stg_projection"),
        tables.measures(config.programmes, config.poverty_lines),
        programmes=config.programmes,
        scores=scores,
        settings=config.fiscal,
        unit=config.targeting.unit,
        run_id=run.run_id,
    )
    write_tables(run, published, stage="fiscal")
    return published.tables["fiscal_indicators"].height
