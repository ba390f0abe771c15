"""A survey from elsewhere (LSMS-style Stata, no design, no programme) runs with a config only."""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest

from tests.lsms import write_lsms_survey
from transforms.warehouse import connect

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "docs" / "examples" / "lsms_audit.toml"


@pytest.mark.usefixtures("prefect_harness")
def test_lsms_style_stata_survey_runs_from_the_documented_config(tmp_path: Path) -> None:
    write_lsms_survey(tmp_path, households=2500, seed=5)
    shutil.copy(EXAMPLE, tmp_path / "audit.toml")
    from flows.audit import audit

    audit(str(tmp_path / "audit.toml"), None)
    with connect(tmp_path / "audit.duckdb", read_only=True) as con:
        files = con.sql("SELECT role, rows_read, rows_quarantined FROM audit.input_files").pl()
        targeting = con.sql("SELECT * FROM audit.latest_targeting_errors").pl()
        metrics = con.sql("SELECT * FROM audit.latest_model_metrics").pl()
    assert files.filter(pl.col("role") == "households")["rows_read"].item() == 2500
    assert files["rows_quarantined"].sum() == 0
    assert set(targeting["method"]) == {"pmt:logit", "pmt:hgb"}  # no programme: no 'program' rows
    assert set(metrics["decision_rule"]) == {"rate:poverty_rate", "line"}
    regions = set(targeting.filter(pl.col("group_type") == "region")["group_value"])
    assert "Anlan" in regions  # Stata value labels became the region names
    national = targeting.filter(pl.col("group_type") == "all")
    assert (national["exclusion_error_se"] > 0).all()  # SEs without design columns
    assert (national["exclusion_error_ci_low"] < national["exclusion_error"]).all()
    assert metrics["auc"].min() > 0.7
    heads = targeting.filter(pl.col("group_type") == "head_sex")["group_value"]
    assert set(heads) == {"Male", "Female"}
