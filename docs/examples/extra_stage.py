"""An extra audit stage: the benefit concentration curve's top decile share, as a Prefect task.

Shows the conventions of a stage in the audit flow (see docs/extending.md):

- a Prefect ``@task`` with a name, ``NO_CACHE`` (it writes to this run's warehouse, so it must
  run every time) and ``retries`` only where a retry is safe (nothing written yet);
- data logic in a pure function over the analysis frame (here ``top_decile_benefit_share``);
- logging through ``get_run_logger`` (it reaches the Prefect UI and the console);
- a Prefect artifact for people watching the run, and a row in ``audit.run_notes`` for
  analysts reading the warehouse, both keyed by the run.

Declare it in the audit config: ``[extensions] stages = ["extra_stage.py:benefit_concentration"]``.
"""

from __future__ import annotations

import polars as pl
from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from flows.lifecycle import RunContext, write_tables
from transforms.config import AuditConfig
from transforms.tables import Published


def top_decile_benefit_share(frame: pl.DataFrame) -> float | None:
    """Share of all benefit money received by the richest tenth of people (pre-transfer)."""
    people = frame.select(
        pl.col("welfare_pre"),
        (pl.col("weight") * pl.col("hh_size")).alias("persons"),
        (pl.col("weight") * pl.col("benefit").fill_null(0.0)).alias("money"),
    ).sort("welfare_pre")
    total = people["money"].sum()
    if not total:
        return None
    cumulative = people["persons"].cum_sum() / people["persons"].sum()
    return float(people.filter(cumulative > 0.9)["money"].sum() / total)


@task(name="benefit-concentration", cache_policy=NO_CACHE, retries=0)
def benefit_concentration(config: AuditConfig, run: RunContext, data_path: str) -> float | None:
    """Publish the top decile's benefit share as a run note and a Prefect artifact."""
    share = top_decile_benefit_share(pl.read_parquet(data_path))
    text = "no benefit money" if share is None else f"{share:.1%} of benefit money"
    note = f"benefit concentration: the richest tenth (pre-transfer) receives {text}"
    get_run_logger().info(note)
    write_tables(run, Published(tables={}, notes=[note]), stage="extension")
    create_markdown_artifact(
        key="benefit-concentration", markdown=f"**{config.name}**: {note}", description=note
    )
    return share
