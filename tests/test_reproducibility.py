"""Same inputs, config and seed give identical numbers; no raw identifier is ever published."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from transforms.survey_files import write_synthetic_survey
from transforms.warehouse import connect

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.usefixtures("prefect_harness")
VOLATILE = {
    "run_id",
    "started_at",
    "finished_at",
    "previous_run_id",
    "config_path",
    "source_file",
    "path",
}
SEED_DEPENDENT = {"model_metrics", "targeting_curves", "household_scores"}


def run_fresh(config: Path, warehouse: Path, key: str = "reproducibility-test-key") -> None:
    """A full run in its own process with Prefect's task cache refreshed (nothing reused)."""
    from prefect.settings import PREFECT_API_URL

    env = {
        **os.environ,
        "PREFECT_API_URL": str(PREFECT_API_URL.value()),
        "PREFECT_TASKS_REFRESH_CACHE": "true",
        "WELFARE_AUDIT_PSEUDONYM_KEY": key,
    }
    command = [
        sys.executable,
        "-m",
        "flows.cli",
        "run",
        "--config",
        str(config),
        "--warehouse",
        str(warehouse),
    ]
    completed = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    assert completed.returncode == 0, completed.stderr[-3000:]


def published(warehouse: Path) -> dict[str, pl.DataFrame]:
    """Every audit table, without run ids, timestamps and paths, in a canonical row order."""
    frames = {}
    with connect(warehouse, read_only=True) as con:
        names = [
            r[0]
            for r in con.sql(
                "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'audit'"
            ).fetchall()
        ]
        for name in names:
            frame = con.sql(f"SELECT * FROM audit.{name}").pl()
            frame = frame.select([c for c in frame.columns if c not in VOLATILE])
            frames[name] = frame.sort(frame.columns, nulls_last=True) if frame.width else frame
    return frames


@pytest.fixture(scope="module")
def survey(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("repro")
    write_synthetic_survey(out, households=2000, seed=12, file_format="parquet")
    config = out / "audit.toml"
    text = config.read_text().replace(
        'enabled = ["ols", "logit", "hgb", "rf"]', 'enabled = ["logit", "rf"]'
    )
    text = text.replace("min_cell_n = 10", "min_cell_n = 10\npublish_household_scores = true")
    config.write_text(text)
    return out


def test_two_runs_publish_identical_numbers_and_artifacts(survey: Path, tmp_path: Path) -> None:
    run_fresh(survey / "audit.toml", tmp_path / "first.duckdb")
    run_fresh(survey / "audit.toml", tmp_path / "second.duckdb")
    first, second = published(tmp_path / "first.duckdb"), published(tmp_path / "second.duckdb")
    assert first.keys() == second.keys()
    for name in first:
        assert first[name].equals(second[name]), f"audit.{name} differs between identical runs"
    assert (
        first["model_metrics"]["artifact_sha256"].n_unique() == 2
    )  # two models, same hashes twice
    assert first["household_scores"].height == 2000 * 2


def test_a_different_seed_changes_only_what_depends_on_it(survey: Path, tmp_path: Path) -> None:
    other = tmp_path / "other-seed"
    other.mkdir()
    for item in survey.iterdir():
        if item.is_file():
            (other / item.name).write_bytes(item.read_bytes())
    config = other / "audit.toml"
    config.write_text(config.read_text().replace("seed = 12", "seed = 13", 1))
    run_fresh(survey / "audit.toml", tmp_path / "a.duckdb")
    run_fresh(config, tmp_path / "b.duckdb")
    a, b = published(tmp_path / "a.duckdb"), published(tmp_path / "b.duckdb")
    programme = pl.col("method") == "program"
    assert a["targeting_errors"].filter(programme).equals(b["targeting_errors"].filter(programme))
    assert a["matching_indicators"].equals(b["matching_indicators"])
    assert not a["model_metrics"].equals(b["model_metrics"])  # folds and forests move
    assert (
        not a["targeting_errors"]
        .filter(~programme)
        .equals(b["targeting_errors"].filter(~programme))
    )


def test_no_raw_identifier_in_any_published_column(survey: Path, tmp_path: Path) -> None:
    warehouse = tmp_path / "scan.duckdb"
    run_fresh(survey / "audit.toml", warehouse)
    households = pl.read_parquet(survey / "households.parquet")["HHID"].cast(pl.String)
    members = pl.read_parquet(survey / "members.parquet")
    person_keys = (members["HHID"] + members["PID"]).cast(pl.String)
    identifiers = set(households) | set(person_keys)
    with connect(warehouse, read_only=True) as con:
        columns = con.sql(
            "SELECT table_name, column_name FROM duckdb_columns() "
            "WHERE schema_name = 'audit' AND data_type = 'VARCHAR'"
        ).fetchall()
        leaks = []
        for table_name, column in columns:
            values = con.sql(f'SELECT DISTINCT "{column}" FROM audit.{table_name}').pl().to_series()
            found = identifiers & set(values.drop_nulls())
            if found:
                leaks.append((table_name, column, sorted(found)[:3]))
    assert not leaks, leaks
