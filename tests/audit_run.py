"""A small real audit that tests share (the ``audit_run`` session fixture of conftest.py)."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple


class AuditRun(NamedTuple):
    """A finished audit: its warehouse, the id of its run and the run's output folder."""

    warehouse: Path
    run_id: str
    output_dir: Path


def run_small_audit(directory: Path, *, programmes: bool = True) -> AuditRun:
    """Audit a generated 1,500-household survey in ``directory`` (PMT ols only, 3 folds: the
    published outputs matter here, not the models; money in XOF), with or without its
    programmes; needs the Prefect test harness."""
    import tomllib

    import tomli_w

    from flows.audit import audit
    from transforms.sample.files import write_synthetic_survey

    write_synthetic_survey(directory, households=1500, seed=3, file_format="parquet")
    config_path = directory / "audit.toml"
    config = tomllib.loads(config_path.read_text())
    config["models"] |= {"enabled": ["ols"], "folds": 3}
    config["welfare"]["currency"] = "XOF"
    if not programmes:
        config.pop("programmes")
    config_path.write_text(tomli_w.dumps(config))
    result = audit(str(config_path), None)
    return AuditRun(
        Path(str(result["warehouse"])), str(result["run_id"]), Path(str(result["output_dir"]))
    )
