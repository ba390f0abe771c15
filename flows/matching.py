"""Resource matching: coverage, incidence, adequacy, tiers and regional standards, computed
where the run's tasks run (a Dask worker on a cluster) and published by the flow."""

from __future__ import annotations

import polars as pl
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows.analysis import read_for
from flows.lifecycle import RunContext, staged_table, write_tables
from flows.runners import execution_place, run_one
from transforms import tables
from transforms.config import AuditConfig


@task(name="resource-matching", task_run_name="resource-matching", cache_policy=NO_CACHE)
def matching_tables(
    config: AuditConfig, analysis_path: str, regions: pl.DataFrame | None, run_id: str
) -> tables.Published:
    """matching_indicators (and the regional tables) from the run's analysis file and the
    staged regions."""
    get_run_logger().info("Resource matching computed in %s", execution_place())
    return tables.matching(
        read_for(analysis_path, config, tables.matching_columns),
        regions,
        tables.measures(config.programmes, config.poverty_lines),
        programmes=config.programmes,
        targeting=config.targeting,
        disclosure=config.disclosure,
        survey=config.design,
        run_id=run_id,
    )


def measure_matching(config: AuditConfig, run: RunContext) -> int:
    """Compute matching_indicators where the tasks run, publish them here."""
    regions = staged_table(run, "stg_regions")  # read here: workers never open the staging
    published = run_one(matching_tables, config, str(run.analysis_path), regions, run.run_id)
    write_tables(run, published, stage="matching")
    return published.tables["matching_indicators"].height
