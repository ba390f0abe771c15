"""Programme targeting task: the actual programme's error rates by group, published."""

from __future__ import annotations

import polars as pl
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows.lifecycle import RunContext, write_tables
from transforms import tables
from transforms.config import AuditConfig
from transforms.targeting import records_programme


@task(name="programme-targeting", cache_policy=NO_CACHE)
def measure_programme_targeting(config: AuditConfig, run: RunContext) -> pl.DataFrame | None:
    """Targeting errors of the actual programme by group, with design-based SEs; published."""
    logger = get_run_logger()
    if not records_programme(config.inputs.households.columns):
        logger.info("No programme columns mapped: programme targeting errors skipped")
        return None
    frame = pl.read_parquet(run.analysis_path)
    published = tables.programme_targeting(
        frame, targeting=config.targeting, disclosure=config.disclosure, run_id=run.run_id
    )
    write_tables(run, published)
    rows = published.tables["targeting_errors"]
    headline = rows.filter(pl.col("group_type") == "all").row(0, named=True)
    if headline["exclusion_error"] is not None:
        logger.info(
            "Programme: coverage %.3f, exclusion error %.3f (SE %.3f), inclusion error %.3f "
            "(SE %.3f)",
            headline["coverage"],
            headline["exclusion_error"],
            headline["exclusion_error_se"],
            headline["inclusion_error"],
            headline["inclusion_error_se"],
        )
    return rows
