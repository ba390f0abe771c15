"""Alerts task: compare this run's headline indicators with the previous successful run."""

from __future__ import annotations

from typing import Any

import polars as pl
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows.run import RunContext, with_run_id
from transforms import warehouse
from transforms.alerts import alerts_between
from transforms.config import AuditConfig

PREVIOUS_RUN_SQL = """
-- the last successful run of the same audit (by name), other than this one
SELECT run_id
FROM audit.runs
WHERE status = 'succeeded' AND config_name = ? AND run_id <> ?
ORDER BY finished_at DESC
LIMIT 1
"""


@task(name="alerts", cache_policy=NO_CACHE)
def raise_alerts(config: AuditConfig, run: RunContext) -> list[dict[str, Any]]:
    """Write changes beyond the thresholds to audit.alerts and log each as a warning."""
    logger = get_run_logger()
    with run.connect() as con:
        previous = con.execute(PREVIOUS_RUN_SQL, [config.name, run.run_id]).fetchall()
        if not previous:
            logger.info("No previous successful run of %r: nothing to compare", config.name)
            return []
        previous_id = previous[0][0]
        query = "SELECT * FROM audit.targeting_errors WHERE run_id = ?"
        before = con.sql(query, params=[previous_id]).pl()
        now = con.sql(query, params=[run.run_id]).pl()
        alerts = alerts_between(before, now, config.alerts)
        rows = alerts.with_columns(pl.lit(previous_id).alias("previous_run_id"))
        warehouse.insert_frame(con, "alerts", with_run_id(rows, run.run_id))
    for message in alerts["message"]:
        logger.warning("Alert: %s", message)
    return alerts.to_dicts()
