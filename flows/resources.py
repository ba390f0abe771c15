"""Resource matching and fiscal feedback tasks: publish the indicators and what was skipped."""

from __future__ import annotations

import numpy as np
import polars as pl
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows.pmt import TrainedModel
from flows.run import RunContext, with_run_id
from flows.targeting import analysis_design
from models.pmt import weight_column
from transforms import warehouse
from transforms.config import AuditConfig
from transforms.contract import table
from transforms.fiscal import fiscal_indicators, project_costs
from transforms.matching import matching_indicators
from transforms.pmt_evaluation import DecisionRule, select
from transforms.targeting import weighted_share


def staged_table(run: RunContext, name: str) -> pl.DataFrame | None:
    """A staging table, or None when this survey did not provide it."""
    with run.connect_staging(read_only=True) as staging:
        tables = {row[0] for row in staging.sql("SHOW TABLES").fetchall()}
        return staging.sql(f"SELECT * FROM {name}").pl() if name in tables else None


def record_notes(run: RunContext, stage: str, notes: list[str]) -> None:
    """Write a stage's notes to audit.run_notes and the log."""
    logger = get_run_logger()
    for note in notes:
        logger.warning("%s: %s", stage, note)
    if notes:
        frame = pl.DataFrame({"stage": [stage] * len(notes), "note": notes})
        with run.connect() as con:
            warehouse.insert_frame(con, "run_notes", with_run_id(frame, run.run_id))


@task(name="resource-matching", cache_policy=NO_CACHE)
def measure_matching(config: AuditConfig, run: RunContext, data_path: str) -> int:
    """Coverage, incidence, adequacy, regional standards and tiers; small cells suppressed."""
    frame = pl.read_parquet(data_path)
    result = matching_indicators(
        frame, staged_table(run, "stg_regions"), config=config, design=analysis_design(config)
    )
    small = (pl.col("n_obs") < config.disclosure.min_cell_n).fill_null(False)
    values = ["value", "se", "ci_low", "ci_high"]
    published = result.indicators.with_columns(
        *[pl.when(small).then(None).otherwise(pl.col(c)).alias(c) for c in values],
        small.alias("suppressed"),
    ).select([c for c in table("matching_indicators").column_names() if c != "run_id"])
    with run.connect() as con:
        warehouse.insert_frame(con, "matching_indicators", with_run_id(published, run.run_id))
    record_notes(run, "matching", result.notes)
    return published.height


def pmt_selections(
    frame: pl.DataFrame, models: list[TrainedModel], config: AuditConfig
) -> dict[str, np.ndarray]:
    """Each model's out-of-fold selections under the poverty-rate rule, aligned with the frame."""
    weight_name = weight_column(config)
    weight = frame[weight_name].to_numpy()
    poor_share = weighted_share(frame["is_poor"], frame[weight_name])
    rule = DecisionRule("rate:poverty_rate", "rate", poor_share)
    return {m.result.model: select(m.result.p_poor, weight, rule) for m in models}


@task(name="fiscal-feedback", cache_policy=NO_CACHE)
def measure_fiscal(
    config: AuditConfig, run: RunContext, data_path: str, models: list[TrainedModel]
) -> int:
    """Spending, leakage, effectiveness, budgets, inequality and the ageing projection."""
    frame = pl.read_parquet(data_path)
    current = fiscal_indicators(
        frame, config=config, pmt_selections=pmt_selections(frame, models, config)
    )
    projected = project_costs(frame, staged_table(run, "stg_projection"), config=config)
    columns = [c for c in table("fiscal_indicators").column_names() if c != "run_id"]
    rows = pl.concat([current.indicators.select(columns), projected.indicators.select(columns)])
    with run.connect() as con:
        warehouse.insert_frame(con, "fiscal_indicators", with_run_id(rows, run.run_id))
    record_notes(run, "fiscal", current.notes + projected.notes)
    return rows.height
