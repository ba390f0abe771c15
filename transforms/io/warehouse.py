"""The audit warehouse: DuckDB DDL from the contract, the run registry, atomic publication.

A run never writes into the published file. It copies the published warehouse
to a private working file beside it, writes there, and publishes with one
``os.replace``: a reader sees the previous state or the new one, never half a
run. Working files left by a killed run are found by the next run, which
records that run as failed (interrupted).

Tables that grow with households (``household_scores``: households × models
rows per run, 99.8 % of a 1M-household warehouse) are kept out of the file, so
that the copy, and with it publication, does not grow with history (issue
#19): each run writes its rows as one immutable Parquet file,
``<warehouse>.files/<table>/<run_id>.parquet``, complete and on disk before
any warehouse names it, and the working copy's view of the table lists the
files of the runs it records as succeeded. A reader of the previous
publication keeps its list, so it still sees old or new, never a mix; a file
is deleted only when no publication names it (its run failed or was killed
before publishing). The price, measured with DuckDB 1.0.0, 1.5.6 and 2.0.1:
the view names its files by absolute path, because a relative path in a view
resolves against the reader's working directory, not the warehouse file's
folder, a table function cannot take the file's own path from a subquery
("Table function cannot contain subqueries"), and ``file_search_path`` is a
setting of the reader's session that a plain ``duckdb.connect(path)`` does not
set. So the warehouse opens from any working directory, and every other table
goes wherever the file goes, but those tables read only while the folder stays
where the audit wrote it.

Rejected: keeping one file and bringing the file the last publication replaced
up to date instead of copying (a "previous generation"). It is flat, but
writing the previous run's 4M score rows into it again cost as much as writing
the run's own (about 9-10 s at 1M), so publication took twice the first run's;
copying bytes costs far less per row than re-encoding them.
"""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from transforms.contract import (
    FILES_SUFFIX,
    SCHEMA,
    TABLES,
    Table,
    comment_sql,
    create_table_sql,
    files_view_sql,
    quote_identifier,
    quote_literal,
    table,
    views,
)
from transforms.io.memory import usable_memory

WORK_SUFFIX = ".work"
PUBLISHED_SIGNIFICANT_DIGITS = 9  # the published precision; sums are exact before it


class WarehouseError(Exception):
    """The warehouse cannot be written or published; the message says where and why."""


STORAGE_PROBLEMS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is exhausted",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
}


def storage_error_message(error: BaseException) -> str | None:
    """A readable message when an error (or its cause) is a full, read-only or forbidden disk.

    DuckDB reports these as IOException/TransactionException texts, not OSError, so both are
    recognised; None for any other error.
    """
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno in STORAGE_PROBLEMS:
            where = f" ({seen.filename})" if seen.filename else ""
            return f"{STORAGE_PROBLEMS[seen.errno]}{where}: {seen.strerror}"
        text = str(seen)
        for code, problem in STORAGE_PROBLEMS.items():
            if os.strerror(code) in text:
                detail = text.split("Original error: ")[-1].strip()
                return f"{problem}: {detail}"
        seen = seen.__cause__ or seen.__context__
    return None


@dataclass(frozen=True)
class RunRecord:
    """What is known about a run when it starts."""

    run_id: str
    config_name: str
    config_path: str
    config_sha256: str
    code_version: str
    seed: int
    started_at: datetime


def new_run_id(now: datetime | None = None) -> str:
    """A sortable, unique run id such as 20261127T154400Z-3f9a1c."""
    moment = now or datetime.now(UTC)
    return f"{moment:%Y%m%dT%H%M%SZ}-{os.urandom(3).hex()}"


def code_version() -> str:
    """The package version plus the git commit of the checkout, when there is one."""
    version = metadata.version("welfare-audit")
    root = Path(__file__).resolve().parents[2]
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return version
    return f"{version}+g{commit}{'.dirty' if dirty else ''}"


MEMORY_LIMIT_VARIABLE = "WELFARE_AUDIT_DUCKDB_MEMORY"
MEMORY_SHARE = 0.25
"""DuckDB's default takes 80 % of the machine; the audit's own frames need the rest."""


def memory_limit() -> str:
    """DuckDB's memory limit per connection: the environment's, else a quarter of the memory
    this process may use (the RAM, or its container's limit)."""
    configured = os.environ.get(MEMORY_LIMIT_VARIABLE)
    if configured:
        return configured
    return f"{max(64, int(usable_memory() * MEMORY_SHARE / 2**20))}MiB"


def duckdb_config(path: Path) -> dict[str, str | bool | int | float | list[str]]:
    """Settings of every connection: a memory cap, spilling beside the database file."""
    return {
        "memory_limit": memory_limit(),
        "temp_directory": str(path.parent / f".{path.name}.tmp"),
    }


def scratch_connection(temp_directory: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the audit's memory cap that spills into ``temp_directory``."""
    return duckdb.connect(
        config={"memory_limit": memory_limit(), "temp_directory": str(temp_directory)}
    )


def connect_database(path: Path, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open a plain DuckDB file (e.g. the run's staging database) with the audit's settings."""
    return duckdb.connect(str(path), read_only=read_only, config=duckdb_config(path))


STORAGE_VERSION = "v1.0.0"
"""The DuckDB storage format of the published warehouse: the oldest that every 1.x and 2.x
client reads (DuckDB 2.0's own default, storage version 69, is unreadable before 2.0). It keeps
the warehouse open to the DuckDB CLI and to BI tools and R clients still on 1.x, at the cost of
the newer formats' compression (the sample warehouse: 3.9 MB instead of 3.4 MB)."""


def connect(path: Path, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open a warehouse file under the catalog alias ``warehouse``; writing keeps it in
    :data:`STORAGE_VERSION` (a new file is created in it, an older one is raised to it).

    The alias makes any file name work here, even a warehouse named audit.duckdb from before
    such names were refused (opened directly, that file's catalog ``audit`` would make
    ``audit.<table>`` ambiguous with the schema).
    """
    con = duckdb.connect(config=duckdb_config(Path(path)))
    mode = " (READ_ONLY)" if read_only else f" (STORAGE_VERSION {quote_literal(STORAGE_VERSION)})"
    con.execute(f"ATTACH {quote_literal(str(path))} AS warehouse{mode}")
    con.execute("USE warehouse")
    return con


def storage_version(path: Path) -> str:
    """The storage format a DuckDB file is written in, as DuckDB tags it (e.g. 'v1.0.0+')."""
    with duckdb.connect() as con:
        con.execute(f"ATTACH {quote_literal(str(path))} AS inspected (READ_ONLY)")
        tags = con.sql(
            "SELECT tags FROM duckdb_databases() WHERE database_name = 'inspected'"
        ).fetchall()[0][0]
    return str(tags.get("storage_version", ""))


def copy_warehouse(source: Path, target: Path) -> None:
    """Copy a warehouse byte for byte when it is in :data:`STORAGE_VERSION`; otherwise (one
    written in DuckDB 2.0's default format before the version was pinned) rewrite it in that
    version, which DuckDB cannot do in place: it refuses to lower a file's version."""
    if storage_version(source) == f"{STORAGE_VERSION}+":
        shutil.copyfile(source, target)
        return
    with duckdb.connect(config=duckdb_config(target)) as con:
        con.execute(f"ATTACH {quote_literal(str(source))} AS source (READ_ONLY)")
        con.execute(
            f"ATTACH {quote_literal(str(target))} AS target "
            f"(STORAGE_VERSION {quote_literal(STORAGE_VERSION)})"
        )
        con.execute("COPY FROM DATABASE source TO target")


def ensure_schema(con: duckdb.DuckDBPyConnection, published: Path) -> None:
    """Create schema, contract tables and comments if missing, the views of the tables stored
    in files (moving such a table out of a warehouse written before #19), and the views
    (latest_* and changes) with theirs; add to a table written by an older version the
    columns the contract has gained (NULL in its old rows). One transaction: its ~430
    statements committed one by one took three times as long."""
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
        present = base_tables(con)
        for spec in TABLES:
            if spec.stored_in_files:
                if spec.name in present:
                    move_table_to_files(con, spec, published)
                continue
            con.execute(create_table_sql(spec))
            for statement in add_columns_sql(con, spec):
                con.execute(statement)
            for statement in comment_sql(spec):
                con.execute(statement)
        refresh_file_views(con, published)
        for view, create in views():  # replacing a view drops its comments: add them again
            con.execute(create)
            for statement in comment_sql(view, kind="VIEW"):
                con.execute(statement)
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def add_columns_sql(con: duckdb.DuckDBPyConnection, spec: Table) -> list[str]:
    """ALTER TABLE statements for the contract columns an existing table lacks."""
    present = {
        row[0]
        for row in con.execute(
            "SELECT column_name FROM duckdb_columns() WHERE schema_name = ? AND table_name = ? "
            "AND database_name = current_database()",
            [SCHEMA, spec.name],
        ).fetchall()
    }
    return [
        f"ALTER TABLE {SCHEMA}.{spec.name} ADD COLUMN {quote_identifier(c.name)} {c.sql_type}"
        for c in spec.columns
        if c.name not in present
    ]


def insert_frame(con: duckdb.DuckDBPyConnection, table_name: str, frame: pl.DataFrame) -> int:
    """Append a frame to a contract table by column name; returns rows written.

    Floats are published to 9 significant digits (~1e-7 relative, far below any SE). Rounding
    is not what makes identical runs agree: a difference in the last bits can straddle a
    rounding boundary (21683411.35 published as .3 or .4). Every sum is exact
    (transforms.summation), so identical runs compute identical bits before rounding.
    """
    spec = table(table_name)
    if spec.stored_in_files:
        raise WarehouseError(f"{SCHEMA}.{table_name} is stored in files: use write_run_file")
    check_columns(spec, frame)
    if frame.height == 0:
        return 0
    frame = published_floats(frame)
    columns = ", ".join(quote_identifier(name) for name in frame.columns)
    con.register("_incoming", frame)
    try:
        con.execute(
            f"INSERT INTO {SCHEMA}.{table_name} ({columns}) SELECT {columns} FROM _incoming"
        )
    finally:
        con.unregister("_incoming")
    return frame.height


def check_columns(spec: Table, frame: pl.DataFrame) -> None:
    """Refuse a frame with a column the contract table does not have."""
    unknown = set(frame.columns) - set(spec.column_names())
    if unknown:
        raise WarehouseError(
            f"{SCHEMA}.{spec.name}: columns not in the contract: {sorted(unknown)}"
        )


def published_floats(frame: pl.DataFrame) -> pl.DataFrame:
    """Floats rounded to the published significant digits (see insert_frame)."""
    return frame.with_columns(pl.col(pl.Float64).round_sig_figs(PUBLISHED_SIGNIFICANT_DIGITS))


def files_folder(published: Path) -> Path:
    """The folder beside the warehouse holding its tables stored in files, by absolute path
    (the views name their files by it; symbolic links are kept as the user named them)."""
    return Path(os.path.abspath(published.with_name(published.name + FILES_SUFFIX)))


def run_file(published: Path, table_name: str, run_id: str) -> Path:
    """The Parquet file of one run's rows of a table stored in files."""
    return files_folder(published) / table_name / f"{run_id}.parquet"


def write_run_file(published: Path, table_name: str, frame: pl.DataFrame) -> int:
    """Write one run's rows of a table stored in files as its Parquet file, complete and on
    disk before any warehouse names it (a temporary name, fsync, rename); returns the rows.

    The rows carry one run id; a second write for the same run replaces the first.
    """
    spec = table(table_name)
    check_columns(spec, frame)
    if frame.height == 0:
        return 0
    run_ids = frame["run_id"].unique().to_list()
    if len(run_ids) != 1:
        raise WarehouseError(f"{SCHEMA}.{table_name}: one run's rows per file, got {run_ids}")
    path = run_file(published, table_name, str(run_ids[0]))
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    columns = [name for name in spec.column_names() if name in frame.columns]
    published_floats(frame.select(columns)).write_parquet(
        temporary, compression="zstd", compression_level=1, statistics=True
    )
    with temporary.open("rb") as handle:
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    fsync_directory(path.parent)
    return frame.height


def stored_tables() -> list[Table]:
    """The contract tables stored in files."""
    return [spec for spec in TABLES if spec.stored_in_files]


def succeeded_runs(con: duckdb.DuckDBPyConnection) -> set[str]:
    """The runs the warehouse of ``con`` records as succeeded."""
    rows = con.execute(f"SELECT run_id FROM {SCHEMA}.runs WHERE status = 'succeeded'").fetchall()
    return {str(row[0]) for row in rows}


def refresh_file_views(con: duckdb.DuckDBPyConnection, published: Path) -> None:
    """(Re)create the view of each table stored in files over the files of the runs the
    warehouse of ``con`` records as succeeded, with its comments."""
    succeeded = succeeded_runs(con)
    for spec in stored_tables():
        folder = files_folder(published) / spec.name
        paths = sorted(folder.glob("*.parquet")) if folder.is_dir() else []
        con.execute(files_view_sql(spec, [str(p) for p in paths if p.stem in succeeded]))
        for statement in comment_sql(spec, kind="VIEW"):
            con.execute(statement)


def move_table_to_files(con: duckdb.DuckDBPyConnection, spec: Table, published: Path) -> None:
    """Move a table written inside the warehouse by a version before #19 to its files, one
    per run, then drop it (once; the working copy publishes the change)."""
    run_ids = con.execute(f"SELECT DISTINCT run_id FROM {SCHEMA}.{spec.name} ORDER BY 1")
    for (run_id,) in run_ids.fetchall():
        rows = con.sql(f"SELECT * FROM {SCHEMA}.{spec.name} WHERE run_id = ?", params=[run_id])
        write_run_file(published, spec.name, rows.pl())
    con.execute(f"DROP TABLE {SCHEMA}.{spec.name}")


def base_tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    """The tables (not views) of schema audit in the current database."""
    rows = con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE schema_name = ? "
        "AND database_name = current_database()",
        [SCHEMA],
    ).fetchall()
    return {str(row[0]) for row in rows}


def sweep_run_files(published: Path) -> list[Path]:
    """Delete the files of runs the published warehouse does not record as succeeded (runs
    that failed or were killed before publishing: no publication names their files), and
    half-written ones. Only safe under the warehouse lock."""
    folder = files_folder(published)
    if not folder.is_dir():
        return []
    kept: set[str] = set()
    if published.exists():
        with connect(published, read_only=True) as con:
            kept = succeeded_runs(con)
    swept = [
        path
        for path in sorted(folder.glob("*/*"))
        if path.suffix != ".parquet" or path.stem not in kept
    ]
    for path in swept:
        path.unlink(missing_ok=True)
    return swept


def remove_run_files(published: Path, run_id: str) -> None:
    """Delete a run's files (a failed run's results; never named by a publication)."""
    for spec in stored_tables():
        run_file(published, spec.name, run_id).unlink(missing_ok=True)


IDENTIFIER_COLUMNS = ("hh_id", "person_id")
WITHHELD = "[identifier withheld]"


def insert_quarantine(con: duckdb.DuckDBPyConnection, entries: Path, run_id: str) -> int:
    """Append a file's quarantine entries (Parquet) in row order; raw identifiers are withheld
    (the row number locates the row). Returns the entries written."""
    withheld = ", ".join(quote_literal(name) for name in IDENTIFIER_COLUMNS)
    inserted = con.execute(
        f"""
        INSERT INTO {SCHEMA}.quarantine
            (run_id, source_file, source_row, column_name, raw_value, reason)
        SELECT
            ? AS run_id,
            source_file,
            source_row,
            column_name,
            -- identifiers stay in the raw file; the row number locates the row
            CASE WHEN column_name IN ({withheld}) THEN {quote_literal(WITHHELD)}
                 ELSE raw_value END AS raw_value,
            reason
        FROM read_parquet(?)
        ORDER BY source_row, column_name
        """,
        [run_id, str(entries)],
    ).fetchall()
    return int(inserted[0][0])


def record_run_start(con: duckdb.DuckDBPyConnection, run: RunRecord) -> None:
    """Insert the run's row with status 'running'."""
    con.execute(
        f"""INSERT INTO {SCHEMA}.runs
            (run_id, started_at, status, config_name, config_path, config_sha256,
             code_version, seed)
            VALUES (?, ?, 'running', ?, ?, ?, ?, ?)""",
        [
            run.run_id,
            run.started_at,
            run.config_name,
            run.config_path,
            run.config_sha256,
            run.code_version,
            run.seed,
        ],
    )


def record_run_end(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    *,
    status: str,
    error: str | None = None,
    counts: dict[str, int] | None = None,
) -> None:
    """Complete the run's row: status, end time, row counts and error message."""
    counts = counts or {}
    con.execute(
        f"""UPDATE {SCHEMA}.runs
            SET status = ?, finished_at = ?, error = ?,
                rows_read = coalesce(?, rows_read),
                rows_loaded = coalesce(?, rows_loaded),
                rows_quarantined = coalesce(?, rows_quarantined)
            WHERE run_id = ?""",
        [
            status,
            datetime.now(UTC),
            error,
            counts.get("rows_read"),
            counts.get("rows_loaded"),
            counts.get("rows_quarantined"),
            run_id,
        ],
    )


def work_path(published: Path, run_id: str) -> Path:
    """The private working file of a run, beside the published warehouse."""
    return published.with_name(f".{published.name}.{run_id}{WORK_SUFFIX}")


@contextmanager
def held_lock(lock_path: Path, *, busy: str) -> Iterator[None]:
    """Hold an exclusive flock on ``lock_path`` (created in a writable folder); ``busy`` is the
    message when another process holds it."""
    try:
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        handle = lock_path.open("a+")
    except OSError as error:
        raise WarehouseError(
            f"{lock_path.parent}: output folder is not writable ({error})"
        ) from None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise WarehouseError(busy) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def exclusive_lock(published: Path) -> AbstractContextManager[None]:
    """Hold an exclusive lock so two runs never publish the same warehouse at once."""
    return held_lock(
        published.with_name(f".{published.name}.lock"),
        busy=f"{published}: another audit run is writing this warehouse; try again later",
    )


OUTPUT_LOCK = ".welfare-audit.lock"


def output_lock(directory: Path) -> AbstractContextManager[None]:
    """Hold the audit's output folder for one run or validation: each sweeps the raw copies
    that killed runs left there, which must never be those of a live run."""
    return held_lock(
        directory / OUTPUT_LOCK,
        busy=f"{directory}: another audit run or validation is using this output folder; "
        "try again when it ends",
    )


def stale_wal_problem(published: Path) -> str | None:
    """A message when a write-ahead log lies beside the published warehouse, else None.

    DuckDB leaves ``<warehouse>.wal`` when a program that wrote to the file crashed (or still
    has it open). Publishing a new file beside that log makes it unreadable to every reader.
    """
    wal = published.with_name(published.name + ".wal")
    if not wal.exists():
        return None
    return (
        f"{wal}: a write-ahead log lies beside the warehouse: a program wrote to {published.name} "
        "and did not close it (it crashed, or still has the file open). Publishing over it "
        "would make the warehouse unreadable. Close that program; if none has the file open, "
        f"replay the log by opening the warehouse read-write once (e.g. duckdb {published} "
        "'CHECKPOINT'), then run again. Nothing was changed."
    )


def database_name(path: Path) -> str:
    """The name DuckDB gives a database file opened directly: its file name up to the first
    dot (``duckdb data/welfare_audit.duckdb`` opens catalog ``welfare_audit``)."""
    return path.name.split(".")[0]


def name_problem(published: Path) -> str | None:
    """A message when the warehouse's file name would break ``audit.<table>``, else None.

    Opened directly (the DuckDB CLI, a BI tool, ``duckdb.connect(path)``), a file named
    audit.duckdb becomes catalog ``audit`` beside schema ``audit``: every query and view that
    names ``audit.`` then fails as an ambiguous reference.
    """
    if database_name(published).casefold() != SCHEMA:
        return None
    renamed = published.with_name(f"welfare_{published.name}")
    return (
        f"{published}: a warehouse file named {published.name} cannot be queried: opened "
        f"directly, DuckDB names the database {database_name(published)!r} after the file, "
        f"and every {SCHEMA}.<table> becomes an ambiguous reference to that database or the "
        f"schema {SCHEMA!r}. Publish it under another name, e.g. {renamed.name} (the "
        f"default; output.warehouse or --warehouse); to keep the history of the existing "
        f"warehouse, rename it first: mv {published} {renamed}. Nothing was changed."
    )


DUCKDB_MAGIC = b"DUCK"
"""DuckDB's file signature, at bytes 8-11 of every database file."""


def not_duckdb_problem(published: Path) -> str | None:
    """A message when the warehouse path is an existing file that is not a DuckDB database
    (read from its first 12 bytes; nothing is opened or changed), else None."""
    if not published.is_file() or published.stat().st_size == 0:
        return None
    with published.open("rb") as handle:
        signature = handle.read(12)[8:12]
    if signature == DUCKDB_MAGIC:
        return None
    return (
        f"{published}: this file is not a DuckDB database, so it cannot be the audit's "
        "warehouse. Point --warehouse (or output.warehouse) at the audit's warehouse, or at a "
        "new file name to start one. Nothing was changed."
    )


def check_can_start(published: Path, output_directory: Path) -> None:
    """What would stop a run at once, checked before any slow start-up: a warehouse name that
    clashes with the schema, the warehouse or the output folder in use or not writable, or a
    stale write-ahead log."""
    problem = name_problem(published) or not_duckdb_problem(published)
    if problem:
        raise WarehouseError(problem)
    with exclusive_lock(published), output_lock(output_directory):
        problem = stale_wal_problem(published)
    if problem:
        raise WarehouseError(problem)


def open_workspace(published: Path, run_id: str) -> Path:
    """Copy the published warehouse (if any) to the run's working file and return its path."""
    problem = name_problem(published)
    if problem:
        raise WarehouseError(problem)
    work = work_path(published, run_id)
    try:
        if published.exists():
            copy_warehouse(published, work)
        with connect(work) as con:
            ensure_schema(con, published)
    except (OSError, duckdb.Error) as error:
        remove_workspace(work)
        raise WarehouseError(f"{work}: cannot prepare the working copy ({error})") from None
    except BaseException:
        remove_workspace(work)
        raise
    return work


def stale_workspaces(published: Path) -> list[Path]:
    """Working files left behind by runs that were killed before publishing."""
    pattern = f".{published.name}.*{WORK_SUFFIX}"
    return sorted(published.parent.glob(pattern))


def remove_workspace(work: Path) -> None:
    """Delete a working file with its write-ahead log and DuckDB's spill folder."""
    work.unlink(missing_ok=True)
    work.with_name(work.name + ".wal").unlink(missing_ok=True)
    shutil.rmtree(work.with_name(f".{work.name}.tmp"), ignore_errors=True)


def run_id_of(work: Path, published: Path) -> str:
    """The run id encoded in a working file's name (see work_path)."""
    return work.name.removeprefix(f".{published.name}.").removesuffix(WORK_SUFFIX)


INTERRUPTED = "interrupted: the run was killed before publishing"


def interrupted_runs(stale: Path, published: Path) -> list[dict[str, Any]]:
    """The runs a killed run's working file knows were never published: its own row (a bare
    row when it left none) and the killed runs it had recorded itself, so that two or more
    runs killed in a row all reach the history.

    The own row is found by the run id in the file's name, whatever its status: a run killed
    between writing 'succeeded' and the atomic replace was never published either.
    """
    rows: list[dict[str, Any]] = []
    run_id = run_id_of(stale, published)
    try:
        with connect(stale, read_only=True) as con:
            rows = (
                con.sql(
                    f"""SELECT * FROM {SCHEMA}.runs
                        WHERE run_id = $run_id OR error = $interrupted""",
                    params={"run_id": run_id, "interrupted": INTERRUPTED},
                )
                .pl()
                .to_dicts()
            )
    except duckdb.Error:
        pass  # killed while copying or creating the file: only its name is left
    if any(row["run_id"] == run_id for row in rows):
        return rows
    started = datetime.fromtimestamp(stale.stat().st_mtime, tz=UTC)
    bare = dict.fromkeys(table("runs").column_names())
    return [*rows, {**bare, "run_id": run_id, "started_at": started}]


def pending_path(published: Path) -> Path:
    """Killed runs read from their working files but not yet recorded in a new working copy."""
    return published.with_name(f".{published.name}.interrupted.parquet")


def collect_interrupted(published: Path) -> list[dict[str, Any]]:
    """Every killed run's row, read from the working files beside the warehouse, which are
    then deleted (before the new run copies the warehouse: a tight disk holds one copy).

    The rows are kept in a pending file until :func:`clear_pending`, so a run killed between
    the deletion and recording them into its own copy loses none.
    """
    pending = pending_path(published)
    rows = pl.read_parquet(pending).to_dicts() if pending.exists() else []
    known = {row["run_id"] for row in rows}
    stale = stale_workspaces(published)
    for work in stale:
        for row in interrupted_runs(work, published):
            if row["run_id"] not in known:
                rows.append({key: in_utc(value) for key, value in row.items()})
                known.add(row["run_id"])
    if stale:
        temporary = pending.with_name(pending.name + ".tmp")
        runs = pl.DataFrame(rows, infer_schema_length=None)
        runs.select(table("runs").column_names()).write_parquet(temporary)
        os.replace(temporary, pending)
        for work in stale:
            remove_workspace(work)
    return rows


def in_utc(value: Any) -> Any:
    """A timestamp in UTC (DuckDB returns Etc/UTC, which polars keeps apart); else as is."""
    return value.astimezone(UTC) if isinstance(value, datetime) and value.tzinfo else value


def clear_pending(published: Path) -> None:
    """Forget the pending killed runs once a working copy (checkpointed) records them."""
    pending_path(published).unlink(missing_ok=True)


def record_interrupted(con: duckdb.DuckDBPyConnection, rows: list[dict[str, Any]]) -> list[str]:
    """Record killed runs as failed (reason: interrupted); returns the run ids newly recorded."""
    recorded: list[str] = []
    for row in rows:
        exists = con.execute(
            f"SELECT count(*) FROM {SCHEMA}.runs WHERE run_id = ?", [row["run_id"]]
        ).fetchall()[0][0]
        if exists:
            continue
        if row.get("error") != INTERRUPTED:
            row = {
                **row,
                "status": "failed",
                "finished_at": datetime.now(UTC),
                "error": INTERRUPTED,
            }
        insert_frame(con, "runs", pl.DataFrame([row]).select(table("runs").column_names()))
        recorded.append(str(row["run_id"]))
    return recorded


def publish(work: Path, published: Path) -> None:
    """Atomically replace the published warehouse with the finished working file."""
    wal = work.with_name(work.name + ".wal")
    if wal.exists():
        raise WarehouseError(
            f"{work}: write-ahead log still present; the connection was not closed"
        )
    problem = stale_wal_problem(published)  # a writer crashed beside us during the run
    if problem:
        raise WarehouseError(problem.replace("Nothing was changed.", "Nothing was published."))
    with work.open("rb") as handle:
        os.fsync(handle.fileno())
    os.replace(work, published)
    fsync_directory(published.parent)


def fsync_directory(directory: Path) -> None:
    """Make the renames in a folder durable."""
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
