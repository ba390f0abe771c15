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
from transforms.household import view
from transforms.tables import Published


def top_decile_benefit_share(frame: pl.DataFrame) -> float | None:
    """Share of all benefit money received by the richest tenth of people (pre-transfer).

    ``frame`` is a view of the analysis frame for one programme (``benefit`` its money).
    """
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
    """Publish each programme's top decile benefit share as run notes and a Prefect artifact;
    return the first programme's."""
    frame = pl.read_parquet(data_path)  # every programme and line: pick one with view()
    shares, notes = [], []
    for index, programme in enumerate(config.programmes):
        share = top_decile_benefit_share(view(frame, programme=index, line=0))
        text = "no benefit money" if share is None else f"{share:.1%} of its benefit money"
        shares.append(share)
        notes.append(
            f"benefit concentration, {programme.name}: the richest tenth (pre-transfer) "
            f"receives {text}"
        )
    for note in notes:
        get_run_logger().info(note)
    write_tables(run, Published(tables={}, notes=notes), stage="extension")
    markdown = "\n".join(f"- {note}" for note in notes) or "no programme in this survey"
    create_markdown_artifact(
        key="benefit-concentration", markdown=f"**{config.name}**\n\n{markdown}"
    )
    return shares[0] if shares else None
