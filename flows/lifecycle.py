"""Tasks that open, record, close and publish one audit run."""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from transforms import tables
from transforms.config import AuditConfig, config_sha256
from transforms.io import warehouse


@dataclass(frozen=True)
class RunContext:
    """Where one run writes: its id, private warehouse copy, staging database and output folder."""

    run_id: str
    published: Path
    work: Path
    output_dir: Path
    staging: Path
    started_at: datetime

    @property
    def analysis_path(self) -> Path:
        """The analysis frame (one row per household) that every stage after ingest reads."""
        return self.output_dir / "analysis.parquet"

    @property
    def ingest_dir(self) -> Path:
        """Where ingest writes each file's checked rows (raw identifiers: deleted at the end)."""
        return self.output_dir / "ingest"

    def connect(self) -> duckdb.DuckDBPyConnection:
        """A connection to the run's private copy of the warehouse."""
        return warehouse.connect(self.work)

    def connect_staging(self, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
        """A connection to the run's staging database (raw identifiers live only here)."""
        return warehouse.connect_database(self.staging, read_only=read_only)


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, read in blocks."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


@task(name="start-run", cache_policy=NO_CACHE)
def start_run(config: AuditConfig, config_path: Path, published: Path) -> RunContext:
    """Copy the published warehouse aside, record the run as running, note killed runs."""
    logger = get_run_logger()
    started = datetime.now(UTC)
    run_id = warehouse.new_run_id(started)
    work = warehouse.open_workspace(published, run_id)
    output_dir = config.output.directory / "runs" / run_id
    output_dir.mkdir(parents=True, exist_ok=True)
    record = warehouse.RunRecord(
        run_id=run_id,
        config_name=config.name,
        config_path=str(config_path.resolve()),
        config_sha256=config_sha256(config_path),
        code_version=warehouse.code_version(),
        seed=config.seed,
        started_at=started,
    )
    with warehouse.connect(work) as con:
        for stale in warehouse.stale_workspaces(published, current=work):
            killed = warehouse.record_interrupted(con, warehouse.interrupted_runs(stale, published))
            for killed_id in killed:
                logger.warning(
                    "Run %s was interrupted before publishing; recorded as failed", killed_id
                )
                discard_raw_copies(config.output.directory / "runs" / killed_id)
            stale.unlink(missing_ok=True)
            stale.with_name(stale.name + ".wal").unlink(missing_ok=True)
        warehouse.record_run_start(con, record)
    logger.info("Run %s started; writing to %s", run_id, work.name)
    return RunContext(run_id, published, work, output_dir, output_dir / "staging.duckdb", started)


@task(name="finish-run", cache_policy=NO_CACHE)
def finish_run(run: RunContext, *, status: str, error: str | None = None) -> None:
    """Complete the run's row with totals over its input files, then publish atomically."""
    with run.connect() as con:
        if status != "succeeded":
            drop_partial_results(con, run.run_id)
        totals = con.execute(
            """SELECT sum(rows_read), sum(rows_loaded), sum(rows_quarantined)
               FROM audit.input_files WHERE run_id = ?""",
            [run.run_id],
        ).fetchall()[0]
        counts = dict(zip(("rows_read", "rows_loaded", "rows_quarantined"), totals, strict=True))
        warehouse.record_run_end(con, run.run_id, status=status, error=error, counts=counts)
        con.execute("CHECKPOINT")
    warehouse.publish(run.work, run.published)
    discard_staging(run)
    get_run_logger().info("Run %s %s; published %s", run.run_id, status, run.published)


RAW_COPIES = (
    "staging.duckdb",
    "staging.duckdb.wal",
    ".staging.duckdb.tmp",  # DuckDB's spill files of the staging database
    "analysis.parquet",
    "transcoded",
    "ingest",
)
"""What a run keeps of the raw data in its output folder (raw identifiers): deleted at its end."""


def discard_staging(run: RunContext) -> None:
    """Delete the run's copies of the raw data (they hold raw identifiers)."""
    discard_raw_copies(run.output_dir)


def discard_raw_copies(output_dir: Path) -> None:
    """Delete the raw-data copies in a run's output folder (also for a killed run)."""
    for name in RAW_COPIES:
        path = output_dir / name
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


RESULT_TABLES = (
    "model_metrics",
    "targeting_errors",
    "matching_indicators",
    "fiscal_indicators",
    "household_scores",
    "targeting_curves",
    "alerts",
    "run_notes",
    "poverty_lines",
    "programme_overlap",
    "pmt_folds",
)


def drop_partial_results(con: duckdb.DuckDBPyConnection, run_id: str) -> None:
    """Remove a failed run's result rows; its run record, inputs and quarantine stay as evidence."""
    for name in RESULT_TABLES:
        con.execute(f"DELETE FROM audit.{name} WHERE run_id = ?", [run_id])


def write_tables(run: RunContext, published: tables.Published, *, stage: str = "") -> None:
    """Append each publishable table to the run's warehouse copy, and the stage's notes to
    audit.run_notes (and the log)."""
    logger = get_run_logger()
    for note in published.notes:
        logger.info("%s: %s", stage, note)
    with run.connect() as con:
        for name, rows in published.tables.items():
            warehouse.insert_frame(con, name, rows)
        if published.notes:
            notes = tables.run_notes(stage, published.notes, run_id=run.run_id)
            warehouse.insert_frame(con, "run_notes", notes)


def staged_table(run: RunContext, name: str) -> pl.DataFrame | None:
    """A staging table, or None when this survey did not provide it."""
    with run.connect_staging(read_only=True) as staging:
        names = {row[0] for row in staging.sql("SHOW TABLES").fetchall()}
        return staging.sql(f"SELECT * FROM {name}").pl() if name in names else None
