"""A survey from elsewhere (LSMS-style Stata, no design, no programme) runs with a config only.

The test is the tutorial docs/tutorial-stata.md: its shell commands run in order, as a reader
types them at the root of a clone, in an empty folder that holds only what a clone provides.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import polars as pl
import pyreadstat
import pytest

from tests.processes import harness_env
from transforms.io.warehouse import connect

ROOT = Path(__file__).resolve().parents[1]
TUTORIAL = ROOT / "docs" / "tutorial-stata.md"
EXAMPLE = ROOT / "docs" / "examples" / "lsms_audit.toml"
CLONE_ENTRIES = (".venv", "docs", "tests")  # what the tutorial's commands use from the clone


def fenced_blocks(markdown: str, language: str) -> list[str]:
    """The bodies of the ```<language> blocks of a Markdown text, in order."""
    pattern = rf"^```{re.escape(language)}[ \t]*\n(.*?)^```[ \t]*$"
    return re.findall(pattern, markdown, flags=re.MULTILINE | re.DOTALL)


def test_the_tutorial_shows_the_example_config_verbatim() -> None:
    shown = fenced_blocks(TUTORIAL.read_text(encoding="utf-8"), "toml")
    assert shown == [EXAMPLE.read_text(encoding="utf-8")]


@pytest.mark.usefixtures("prefect_harness")
def test_the_stata_tutorial_runs_end_to_end(tmp_path: Path) -> None:
    commands = fenced_blocks(TUTORIAL.read_text(encoding="utf-8"), "bash")
    assert len(commands) >= 6  # stand-in, look, copy config, validate + run, query, export
    for name in CLONE_ENTRIES:
        (tmp_path / name).symlink_to(ROOT / name)
    env = harness_env(PATH=f"{ROOT / '.venv' / 'bin'}{os.pathsep}{os.environ['PATH']}")
    printed: list[str] = []
    for command in commands:
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", command],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, (
            f"{command}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
        )
        printed.append(done.stdout)
    survey = tmp_path / "my_survey"
    assert sorted(p.name for p in survey.glob("*.dta")) == ["hh_mod_a.dta", "hh_mod_b.dta"]
    assert "Main roof material" in printed[1]  # step 1 shows the variable labels
    assert len(list(survey.glob("output/runs/*/report.html"))) == 1
    assert "Anlan" in printed[-2] and "pmt:hgb" in printed[-2]  # the documented query answers
    exported, _ = pyreadstat.read_dta(
        str(survey / "audit_dta" / "targeting_errors.dta"), output_format="polars"
    )  # step 6: back to Stata
    assert "Anlan" in set(exported.filter(pl.col("group_type") == "region")["group_value"])

    with connect(survey / "welfare_audit.duckdb", read_only=True) as con:
        files = con.sql("SELECT role, rows_read, rows_quarantined FROM audit.input_files").pl()
        targeting = con.sql("SELECT * FROM audit.latest_targeting_errors").pl()
        metrics = con.sql("SELECT * FROM audit.latest_model_metrics").pl()
        runs = con.sql("SELECT status FROM audit.runs").pl()
    assert runs["status"].to_list() == ["succeeded"]  # validate published nothing
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
