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

from transforms import contract, tables
from transforms.config import AuditConfig, config_sha256
from transforms.io import warehouse
from transforms.io.ingest import work_file


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
    def scores_path(self) -> Path:
        """The PMT models' scores of every household, for the tasks after training (a JSON
        sidecar beside it: transforms.io.scores)."""
        return self.output_dir / "model_scores.parquet"

    @property
    def ingest_dir(self) -> Path:
        """Where ingest writes each file's checked rows (raw identifiers: deleted at the end)."""
        return self.output_dir / "ingest"

    @property
    def staged_households(self) -> Path:
        """The household file's loaded rows (the staging table stg_households, as Parquet)."""
        return work_file(self.ingest_dir, "households", "loaded")

    @property
    def staged_member_features(self) -> Path:
        """The member aggregates (the staging table stg_member_features, as Parquet)."""
        return self.ingest_dir / "member_features.parquet"

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


@task(name="start-run", task_run_name="start-run", cache_policy=NO_CACHE)
def start_run(config: AuditConfig, config_path: Path, published: Path) -> RunContext:
    """Record killed runs and sweep what they left (working copies, raw-data copies, files of
    tables stored in files), copy the published warehouse aside, record the run as running.
    The caller holds the warehouse and output-folder locks."""
    logger = get_run_logger()
    problem = warehouse.stale_wal_problem(published)
    if problem:
        raise warehouse.WarehouseError(problem)
    interrupted = warehouse.collect_interrupted(published)  # frees their copies first
    for folder in sweep_raw_copies(config.output.directory, keep=published.parent):
        logger.info("Deleted the raw-data copies a killed run left in %s", folder)
    swept = warehouse.sweep_run_files(published)
    if swept:
        logger.info("Deleted %d file(s) of runs that never published", len(swept))
    started = datetime.now(UTC)
    run_id = warehouse.new_run_id(started)
    work = warehouse.open_workspace(published, run_id)
    try:
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
            for killed_id in warehouse.record_interrupted(con, interrupted):
                logger.warning(
                    "Run %s was interrupted before publishing; recorded as failed", killed_id
                )
            warehouse.record_run_start(con, record)
            con.execute("CHECKPOINT")
    except BaseException:
        warehouse.remove_workspace(work)  # a failed start leaves no copy of the warehouse
        raise
    warehouse.clear_pending(published)  # the working copy now records the killed runs
    logger.info("Run %s started; writing to %s", run_id, work.name)
    return RunContext(run_id, published, work, output_dir, output_dir / "staging.duckdb", started)


@task(name="finish-run", task_run_name="finish-run-{status}", cache_policy=NO_CACHE)
def finish_run(run: RunContext, *, status: str, error: str | None = None) -> None:
    """Complete the run's row with totals over its input files, point the views of the tables
    stored in files at the run's files (when it succeeded), then publish atomically."""
    with run.connect() as con:
        if status != "succeeded":
            drop_partial_results(con, run.run_id)
            warehouse.remove_run_files(run.published, run.run_id)
        totals = con.execute(
            """SELECT sum(rows_read), sum(rows_loaded), sum(rows_quarantined)
               FROM audit.input_files WHERE run_id = ?""",
            [run.run_id],
        ).fetchall()[0]
        counts = dict(zip(("rows_read", "rows_loaded", "rows_quarantined"), totals, strict=True))
        warehouse.record_run_end(con, run.run_id, status=status, error=error, counts=counts)
        warehouse.refresh_file_views(con, run.published)
        con.execute("CHECKPOINT")
    discard_staging(run)  # before the replace: a kill after it must not leave raw copies
    warehouse.publish(run.work, run.published)
    get_run_logger().info("Run %s %s; published %s", run.run_id, status, run.published)


RAW_COPIES = (
    "staging.duckdb",
    "staging.duckdb.wal",
    ".staging.duckdb.tmp",  # DuckDB's spill files of the staging database
    "analysis.parquet",
    "model_scores.parquet",  # aligned with analysis.parquet by row
    "model_scores.json",
    "transcoded",
    "ingest",
)
"""What a run keeps of the raw data in its output folder (raw identifiers): deleted at its end."""


def discard_staging(run: RunContext) -> None:
    """Delete the run's copies of the raw data (they hold raw identifiers)."""
    discard_raw_copies(run.output_dir)


VALIDATION_SCRATCH = ".validate-"
"""Prefix of the scratch folders `welfare-audit validate` works in, inside the output folder."""


def sweep_raw_copies(output_directory: Path, *, keep: Path | None = None) -> list[Path]:
    """Delete every raw-data copy left under the output folder by killed runs and validations
    (except the folder ``keep``, a validation's own scratch); returns the folders cleaned.
    Only safe under the output-folder lock."""
    swept: list[Path] = []
    runs = output_directory / "runs"
    for folder in sorted(runs.iterdir()) if runs.is_dir() else []:
        if any((folder / name).exists() for name in RAW_COPIES):
            discard_raw_copies(folder)
            swept.append(folder)
    for scratch in output_directory.glob(f"{VALIDATION_SCRATCH}*"):
        if keep is not None and scratch.resolve() == keep.resolve():
            continue
        shutil.rmtree(scratch, ignore_errors=True)
        swept.append(scratch)
    return swept


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
    """Remove a failed run's result rows; its run record, inputs and quarantine stay as evidence.
    (Its files of tables stored in files: warehouse.remove_run_files.)"""
    for name in RESULT_TABLES:
        if not contract.table(name).stored_in_files:
            con.execute(f"DELETE FROM audit.{name} WHERE run_id = ?", [run_id])


def write_tables(run: RunContext, published: tables.Published, *, stage: str = "") -> None:
    """Append each publishable table to the run's warehouse copy (a table stored in files: the
    run's file beside the warehouse), and the stage's notes to audit.run_notes (and the log)."""
    logger = get_run_logger()
    for note in published.notes:
        logger.info("%s: %s", stage, note)
    with run.connect() as con:
        for name, rows in published.tables.items():
            if contract.table(name).stored_in_files:
                warehouse.write_run_file(run.published, name, rows)
            else:
                warehouse.insert_frame(con, name, rows)
        if published.notes:
            notes = tables.run_notes(stage, published.notes, run_id=run.run_id)
            warehouse.insert_frame(con, "run_notes", notes)


def staged_table(run: RunContext, name: str) -> pl.DataFrame | None:
    """A staging table, or None when this survey did not provide it."""
    with run.connect_staging(read_only=True) as staging:
        names = {row[0] for row in staging.sql("SHOW TABLES").fetchall()}
        return staging.sql(f"SELECT * FROM {name}").pl() if name in names else None
