"""Targeting tasks: error rates of the actual programme (and, later, of each PMT model)."""

from __future__ import annotations

import polars as pl
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows.run import RunContext, with_run_id
from transforms import warehouse
from transforms.config import AuditConfig
from transforms.contract import table
from transforms.survey import Design
from transforms.targeting import (
    RATES,
    add_indicator_columns,
    suppress_small_cells,
    targeting_rates,
    unit_weight,
    wide_rates,
)


def has_programme(config: AuditConfig) -> bool:
    """True when the survey says who receives the programme."""
    columns = config.inputs.households.columns
    return columns.receives_benefit is not None or columns.benefit_amount is not None


def analysis_design(config: AuditConfig) -> Design:
    """The survey design of the analysis frame for the configured unit."""
    return Design(weight=unit_weight(config.targeting.unit), strata="strata", psu="psu")


def available_groups(config: AuditConfig, frame: pl.DataFrame) -> list[str]:
    """Configured groups that exist in this survey."""
    return [group for group in config.targeting.groups if group in frame.columns]


def publishable(
    wide: pl.DataFrame, *, method: str, decision_rule: str, config: AuditConfig, run_id: str
) -> pl.DataFrame:
    """Add the method columns, suppress small cells, and order columns as in the contract."""
    value_columns = [
        c for c in wide.columns if any(c == r or c.startswith(f"{r}_") for r in RATES)
    ] + ["population"]
    safe = suppress_small_cells(
        wide, min_cell_n=config.disclosure.min_cell_n, value_columns=value_columns
    )
    framed = safe.with_columns(
        pl.lit(method).alias("method"),
        pl.lit(decision_rule).alias("decision_rule"),
        pl.lit(config.targeting.unit).alias("unit"),
    )
    columns = [c for c in table("targeting_errors").column_names() if c != "run_id"]
    return with_run_id(framed.select(columns), run_id)


@task(name="programme-targeting", cache_policy=NO_CACHE)
def measure_programme_targeting(config: AuditConfig, run: RunContext) -> pl.DataFrame | None:
    """Targeting errors of the actual programme by group, with design-based SEs; published."""
    logger = get_run_logger()
    if not has_programme(config):
        logger.warning("No programme columns mapped: programme targeting errors skipped")
        return None
    frame = pl.read_parquet(run.output_dir / "analysis.parquet")
    indicators = add_indicator_columns(
        frame, selected="receives_benefit", benefit="benefit", unit=config.targeting.unit
    )
    wide = wide_rates(
        targeting_rates(
            indicators, design=analysis_design(config), groups=available_groups(config, frame)
        )
    )
    published = publishable(
        wide, method="program", decision_rule="actual", config=config, run_id=run.run_id
    )
    headline = published.filter(pl.col("group_type") == "all").row(0, named=True)
    point = pl.DataFrame(
        {
            "method": ["program"],
            "coverage": [headline["coverage"]],
            "exclusion_error": [headline["exclusion_error"]],
            "inclusion_error": [headline["inclusion_error"]],
            "true_positive_rate": [1.0 - headline["exclusion_error"]],
            "false_positive_rate": [headline["inclusion_rate_nonpoor"]],
        }
    )
    with run.connect() as con:
        warehouse.insert_frame(con, "targeting_errors", published)
        warehouse.insert_frame(con, "targeting_curves", with_run_id(point, run.run_id))
    logger.info(
        "Programme: coverage %.3f, exclusion error %.3f (SE %.3f), inclusion error %.3f (SE %.3f)",
        headline["coverage"],
        headline["exclusion_error"],
        headline["exclusion_error_se"],
        headline["inclusion_error"],
        headline["inclusion_error_se"],
    )
    return published
