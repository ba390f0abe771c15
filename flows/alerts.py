"""Alerts task: compare this run's headline indicators with the previous successful run."""

from __future__ import annotations

from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows.lifecycle import RunContext
from flows.observability import emit_audit_event
from transforms import tables
from transforms.config import AuditConfig
from transforms.io import warehouse

PREVIOUS_RUN_SQL = """
-- the last successful run of the same audit (by name), other than this one
SELECT run_id
FROM audit.runs
WHERE status = 'succeeded' AND config_name = ? AND run_id <> ?
ORDER BY finished_at DESC
LIMIT 1
"""


@task(name="alerts", task_run_name="alerts", cache_policy=NO_CACHE)
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
        rows = tables.alerts(
            before, now, thresholds=config.alerts, previous_run_id=previous_id, run_id=run.run_id
        )
        warehouse.insert_frame(con, "alerts", rows)
    for alert in rows.iter_rows(named=True):
        logger.warning("Alert: %s", alert["message"])
        emit_audit_event("alert.raised", config.name, {k: str(v) for k, v in alert.items()})
    return rows.drop("run_id", "previous_run_id").to_dicts()
