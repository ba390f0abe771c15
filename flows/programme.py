"""Programme targeting: the actual programme's error rates by group, computed where the run's
tasks run (a Dask worker on a cluster) and published by the flow."""

from __future__ import annotations

import polars as pl
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows.analysis import read_for
from flows.lifecycle import RunContext, write_tables
from flows.runners import execution_place, run_one
from transforms import tables
from transforms.config import AuditConfig


@task(name="programme-targeting", task_run_name="programme-targeting", cache_policy=NO_CACHE)
def programme_targeting_tables(
    config: AuditConfig, analysis_path: str, run_id: str
) -> tables.Published:
    """targeting_errors of every programme and line, with design-based SEs, from the run's
    analysis file."""
    get_run_logger().info("Programme targeting computed in %s", execution_place())
    return tables.programme_targeting(
        read_for(analysis_path, config, tables.estimate_columns),
        tables.measures(config.programmes, config.poverty_lines),
        targeting=config.targeting,
        disclosure=config.disclosure,
        survey=config.design,
        run_id=run_id,
    )


def measure_programme_targeting(config: AuditConfig, run: RunContext) -> pl.DataFrame | None:
    """Targeting errors of the actual programme by group, with design-based SEs; published."""
    logger = get_run_logger()
    if not config.programmes:
        logger.info("No programme declared: programme targeting errors skipped")
        return None
    published = run_one(programme_targeting_tables, config, str(run.analysis_path), run.run_id)
    write_tables(run, published)
    rows = published.tables["targeting_errors"]
    for row in rows.filter(pl.col("group_type") == "all").iter_rows(named=True):
        if row["exclusion_error"] is not None:
            logger.info(
                "Programme %s, line %s: coverage %.3f, exclusion error %.3f (SE %.3f), "
                "inclusion error %.3f (SE %.3f)",
                row["programme"],
                row["poverty_line"],
                row["coverage"],
                row["exclusion_error"],
                row["exclusion_error_se"],
                row["inclusion_error"],
                row["inclusion_error_se"],
            )
    return rows
