"""Same inputs, config and seed give identical numbers on one, two or three workers; no raw
identifier is ever published."""

from __future__ import annotations

import subprocess
from pathlib import Path

import polars as pl
import pytest

from tests.processes import audit_command, harness_env
from transforms.contract import TABLES
from transforms.io.warehouse import connect
from transforms.sample.files import write_synthetic_survey

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


def run_fresh(config: Path, warehouse: Path, *options: str, threads: int | None = None) -> str:
    """A full run in its own process that trains every model anew (nothing reused), with
    polars on ``threads`` threads (default: one per core).

    Returns what the run logged (at INFO).
    """
    env = harness_env(
        WELFARE_AUDIT_PSEUDONYM_KEY="reproducibility-test-key",
        PREFECT_LOGGING_LEVEL="INFO",
        **({"POLARS_MAX_THREADS": str(threads)} if threads else {}),
    )
    command = audit_command(config, warehouse, "--retrain", *options)
    completed = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return completed.stdout + completed.stderr


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
        names += [spec.name for spec in TABLES if spec.stored_in_files]  # views over files
        for name in names:
            frame = con.sql(f"SELECT * FROM audit.{name}").pl()
            frame = frame.select([c for c in frame.columns if c not in VOLATILE])
            frames[name] = frame.sort(frame.columns, nulls_last=True) if frame.width else frame
    return frames


@pytest.fixture(scope="module")
def survey(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("repro")
    write_synthetic_survey(out, households=1500, seed=12, file_format="parquet")
    config = out / "audit.toml"
    text = config.read_text().replace(
        'enabled = ["ols", "logit", "hgb", "rf"]', 'enabled = ["logit", "rf"]'
    )
    text = text.replace("min_cell_n = 10", "min_cell_n = 10\npublish_household_scores = true")
    config.write_text(text)
    return out


WORKERS = ("one worker", "two workers", "three workers")
CLUSTER_TASKS = {  # log line -> how many times a run on a cluster writes it (two models)
    "model targeting computed": 2,
    "Programme targeting computed": 1,
    "Resource matching computed": 1,
    "Fiscal feedback computed": 1,
}


@pytest.fixture(scope="module")
def runs(survey: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Three runs with the same seed, each in a fresh process: the thread runner with polars on
    one thread, then local Dask clusters of two and of three worker processes (polars in the
    flow process on two and three threads); and one run with another seed."""
    out = tmp_path_factory.mktemp("repro-runs")
    other = out / "other-seed"
    other.mkdir()
    for item in survey.iterdir():
        if item.is_file():
            (other / item.name).write_bytes(item.read_bytes())
    config = other / "audit.toml"
    config.write_text(config.read_text().replace("seed = 12", "seed = 13", 1))
    warehouses = {name: out / f"{name.replace(' ', '-')}.duckdb" for name in [*WORKERS, "other"]}
    run_fresh(survey / "audit.toml", warehouses["one worker"], threads=1)
    for workers, name in ((2, "two workers"), (3, "three workers")):
        dask = ("--task-runner", "dask", "--dask-workers", str(workers))
        log = run_fresh(survey / "audit.toml", warehouses[name], *dask, threads=workers)
        assert log.count("every household scored, in Dask worker tcp://") == 2, log[-3000:]
        for computed in CLUSTER_TASKS:  # the indicator tables, too, on the workers
            assert log.count(f"{computed} in Dask worker tcp://") == CLUSTER_TASKS[computed], (
                computed,
                log[-3000:],
            )
    run_fresh(config, warehouses["other"])
    return warehouses


def test_one_two_and_three_workers_publish_the_same_bytes(runs: dict[str, Path]) -> None:
    """Every published table byte for byte (floats written in full: equal text, equal bits),
    whichever runner, worker count and polars thread count did the work; sums are exact, so
    their order does not matter (docs/methodology.md, 'Exact sums')."""
    tables = {name: published(runs[name]) for name in WORKERS}
    first = {table: frame.write_csv() for table, frame in tables["one worker"].items()}
    for name in WORKERS[1:]:
        other = {table: frame.write_csv() for table, frame in tables[name].items()}
        assert other.keys() == first.keys()
        differing = [table for table in first if other[table] != first[table]]
        assert not differing, f"{name}: audit tables {differing} differ from one worker's"
    one = tables["one worker"]
    assert one["model_metrics"]["artifact_sha256"].n_unique() == 2  # two models, same hashes
    assert one["household_scores"].height == 1500 * 2
    assert one["targeting_errors"].height > 100 and one["fiscal_indicators"].height > 100


def test_a_different_seed_changes_only_what_depends_on_it(runs: dict[str, Path]) -> None:
    a, b = published(runs["one worker"]), published(runs["other"])
    programme = pl.col("method") == "program"
    assert a["targeting_errors"].filter(programme).equals(b["targeting_errors"].filter(programme))
    assert a["matching_indicators"].equals(b["matching_indicators"])
    assert not a["model_metrics"].equals(b["model_metrics"])  # folds and forests move
    assert (
        not a["targeting_errors"]
        .filter(~programme)
        .equals(b["targeting_errors"].filter(~programme))
    )


def test_no_raw_identifier_in_any_published_column(survey: Path, runs: dict[str, Path]) -> None:
    households = pl.read_parquet(survey / "households.parquet")["HHID"].cast(pl.String)
    members = pl.read_parquet(survey / "members.parquet")
    person_keys = (members["HHID"] + members["PID"]).cast(pl.String)
    identifiers = set(households) | set(person_keys)
    with connect(runs["one worker"], read_only=True) as con:
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
