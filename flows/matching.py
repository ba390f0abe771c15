"""Resource matching task: coverage, incidence, adequacy, tiers and regional standards."""

from __future__ import annotations

import polars as pl
from prefect import task
from prefect.cache_policies import NO_CACHE

from flows.lifecycle import RunContext, staged_table, write_tables
from transforms import tables
from transforms.config import AuditConfig


@task(name="resource-matching", task_run_name="resource-matching", cache_policy=NO_CACHE)
def measure_matching(config: AuditConfig, run: RunContext) -> int:
    """Read the analysis frame and the regions, compute matching_indicators, publish them."""
    published = tables.matching(
        pl.read_parquet(run.analysis_path),
        staged_table(run, "stg_regions"),
        tables.measures(config.programmes, config.poverty_lines),
        programmes=config.programmes,
        targeting=config.targeting,
        disclosure=config.disclosure,
        survey=config.design,
        run_id=run.run_id,
    )
    write_tables(run, published, stage="matching")
    return published.tables["matching_indicators"].height
