"""A small real audit that tests share (the ``audit_run`` session fixture of conftest.py)."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple


class AuditRun(NamedTuple):
    """A finished audit: its warehouse and the id of its run."""

    warehouse: Path
    run_id: str


def run_small_audit(directory: Path) -> AuditRun:
    """Audit a generated 1,500-household survey in ``directory`` (PMT ols only, 3 folds: the
    published outputs matter here, not the models); needs the Prefect test harness."""
    from flows.audit import audit
    from transforms.sample.files import write_synthetic_survey

    write_synthetic_survey(directory, households=1500, seed=3, file_format="parquet")
    config = directory / "audit.toml"
    text = config.read_text().replace(
        'enabled = ["ols", "logit", "hgb", "rf"]', 'enabled = ["ols"]'
    )
    config.write_text(text.replace("folds = 5", "folds = 3"))
    result = audit(str(config), None)
    return AuditRun(Path(str(result["warehouse"])), str(result["run_id"]))
